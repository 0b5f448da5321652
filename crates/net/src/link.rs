//! Links, addresses and routes over rtnetlink (rtnetlink(7)): the bridge, the veth pair, and
//! the container side of it.
//!
//! Every call opens its own netlink socket on a `current_thread` tokio runtime made for that
//! call, in the network namespace of the calling thread (a netlink socket stays bound to the
//! namespace it was created in). Container-side work runs on a short-lived thread that joined
//! the container's namespace ([`crate::in_netns`]).

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, BorrowedFd};

use futures_util::TryStreamExt as _;
use ipnet::IpNet;
use rtnetlink::packet_route::address::AddressHeaderFlags;
use rtnetlink::packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkInfo, LinkMessage,
};
use rtnetlink::{
    Handle, LinkBridge, LinkBridgePort, LinkMessageBuilder, LinkUnspec, LinkVeth,
    RouteMessageBuilder,
};

use crate::error::{NetError, Result};
use crate::netns::in_netns;

const ENODEV: i32 = 19;
const EEXIST: i32 = 17;

/// Runs `f` with a fresh rtnetlink handle on a `current_thread` runtime made for this call, in
/// the calling thread's network namespace.
pub(crate) fn run<T, F, Fut>(f: F) -> Result<T>
where
    F: FnOnce(Handle) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| NetError::io("start a tokio runtime for netlink", e))?;
    rt.block_on(async {
        let (conn, handle, _) = rtnetlink::new_connection()
            .map_err(|e| NetError::io("open a netlink route socket", e))?;
        let conn = tokio::spawn(conn);
        let result = f(handle).await;
        conn.abort();
        result
    })
}

/// Checks an interface name as the kernel would (`dev_valid_name`): 1 to 15 bytes, not `.` or
/// `..`, no `/`, `:` or whitespace.
///
/// # Errors
/// [`NetError::InvalidLinkName`].
pub fn check_link_name(name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.len() > 15
        || name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace());
    if bad {
        return Err(NetError::InvalidLinkName(name.to_owned()));
    }
    Ok(())
}

async fn find(handle: &Handle, name: &str) -> Result<Option<LinkMessage>> {
    let mut links = handle.link().get().match_name(name.to_owned()).execute();
    match links.try_next().await {
        Ok(found) => Ok(found),
        Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -ENODEV => Ok(None),
        Err(e) => Err(NetError::netlink(format!("look up interface {name}"), e)),
    }
}

async fn index_of(handle: &Handle, name: &str) -> Result<Option<u32>> {
    Ok(find(handle, name).await?.map(|msg| msg.header.index))
}

/// The index of the bridge `name`, if a link of that name exists; an error if it is no bridge.
async fn bridge_index(handle: &Handle, name: &str) -> Result<Option<u32>> {
    let Some(msg) = find(handle, name).await? else {
        return Ok(None);
    };
    let is_bridge = msg.attributes.iter().any(|a| {
        matches!(a, LinkAttribute::LinkInfo(infos)
            if infos.contains(&LinkInfo::Kind(InfoKind::Bridge)))
    });
    if !is_bridge {
        return Err(NetError::NotABridge(name.to_owned()));
    }
    Ok(Some(msg.header.index))
}

async fn require_index(handle: &Handle, name: &str) -> Result<u32> {
    index_of(handle, name)
        .await?
        .ok_or_else(|| NetError::NoSuchLink(name.to_owned()))
}

async fn set_up(handle: &Handle, index: u32, name: &str) -> Result<()> {
    handle
        .link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(|e| NetError::netlink(format!("set interface {name} up"), e))
}

/// Sets the interface `name` of the calling thread's namespace up.
pub(crate) fn set_up_by_name(name: &str) -> Result<()> {
    run(|handle| async move {
        let index = require_index(&handle, name).await?;
        set_up(&handle, index, name).await
    })
}

/// Adds `addr` to interface `index`; IPv6 addresses skip duplicate address detection (the
/// subnet is ours: IPAM already made them unique), so they are usable at once. An address the
/// interface already has is not an error when `exist_ok`.
async fn add_address(
    handle: &Handle,
    index: u32,
    name: &str,
    addr: IpNet,
    exist_ok: bool,
) -> Result<()> {
    let mut req = handle.address().add(index, addr.addr(), addr.prefix_len());
    if addr.addr().is_ipv6() {
        req.message_mut().header.flags |= AddressHeaderFlags::Nodad;
    }
    match req.execute().await {
        Err(rtnetlink::Error::NetlinkError(e)) if exist_ok && e.raw_code() == -EEXIST => Ok(()),
        other => other.map_err(|e| NetError::netlink(format!("add address {addr} to {name}"), e)),
    }
}

/// Deletes link `index`; `false` if it was gone already.
async fn delete(handle: &Handle, index: u32, what: impl FnOnce() -> String) -> Result<bool> {
    match handle.link().del(index).execute().await {
        Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -ENODEV => Ok(false),
        other => other
            .map(|()| true)
            .map_err(|e| NetError::netlink(what(), e)),
    }
}

fn sysctl(path: &str, value: &str) -> Result<()> {
    std::fs::write(path, value).map_err(|e| NetError::io(format!("write {value} to {path}"), e))
}

/// A bridge on the host side (the calling thread's namespace): the containers' gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bridge {
    /// Interface name, e.g. `peapod0` (at most 15 bytes).
    pub name: String,
    /// The gateway addresses with the subnet's prefix length, e.g. `10.88.0.1/16`; one per
    /// address family at most.
    pub addresses: Vec<IpNet>,
    /// MTU in bytes; `None` keeps the kernel's default (1500).
    pub mtu: Option<u32>,
}

impl Bridge {
    /// Creates the bridge if it does not exist, then makes sure it has its addresses and MTU
    /// and is up; also turns on forwarding for the families it serves (`net.ipv4.ip_forward`,
    /// `net.ipv6.conf.all.forwarding`) and `route_localnet` on the bridge (needed to publish
    /// ports on 127.0.0.1). Idempotent. Returns the bridge's interface index. (As with docker
    /// and netavark, IPv6 forwarding makes the host ignore router advertisements on interfaces
    /// whose `accept_ra` is 1 rather than 2.)
    ///
    /// # Errors
    /// [`NetError::InvalidLinkName`], [`NetError::NotABridge`] if a link of that name exists
    /// and is something else, or a [`NetError::Netlink`]/[`NetError::Io`] naming the step that
    /// failed.
    pub fn ensure(&self) -> Result<u32> {
        check_link_name(&self.name)?;
        let index = run(|handle| async move {
            let index = match bridge_index(&handle, &self.name).await? {
                Some(index) => index,
                None => {
                    let mut msg = LinkBridge::new(&self.name).up();
                    if let Some(mtu) = self.mtu {
                        msg = msg.mtu(mtu);
                    }
                    match handle.link().add(msg.build()).execute().await {
                        Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -EEXIST => {}
                        other => other.map_err(|e| {
                            NetError::netlink(format!("create bridge {}", self.name), e)
                        })?,
                    }
                    require_index(&handle, &self.name).await?
                }
            };
            let mut msg = LinkUnspec::new_with_index(index).up();
            if let Some(mtu) = self.mtu {
                msg = msg.mtu(mtu);
            }
            handle
                .link()
                .set(msg.build())
                .execute()
                .await
                .map_err(|e| NetError::netlink(format!("set bridge {} up", self.name), e))?;
            for addr in &self.addresses {
                add_address(&handle, index, &self.name, *addr, true).await?;
            }
            Ok(index)
        })?;
        if self.addresses.iter().any(|a| a.addr().is_ipv4()) {
            sysctl("/proc/sys/net/ipv4/ip_forward", "1")?;
            sysctl(
                &format!("/proc/sys/net/ipv4/conf/{}/route_localnet", self.name),
                "1",
            )?;
        }
        if self.addresses.iter().any(|a| a.addr().is_ipv6()) {
            sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1")?;
        }
        Ok(index)
    }

    /// Deletes the bridge `name` even if interfaces are still attached to it (they are
    /// detached, not deleted): for a network whose last container is gone while the kernel
    /// still deletes its veth pairs in the background. Returns whether it was deleted
    /// (`false` if already gone).
    ///
    /// # Errors
    /// [`NetError::NotABridge`] (such a link is never deleted), or [`NetError::Netlink`].
    pub fn remove(name: &str) -> Result<bool> {
        run(|handle| async move {
            let Some(index) = bridge_index(&handle, name).await? else {
                return Ok(false);
            };
            delete(&handle, index, || format!("delete bridge {name}")).await
        })
    }

    /// Deletes the bridge `name` if no interface is attached to it. Returns whether it was
    /// deleted (`false` if in use or already gone).
    ///
    /// # Errors
    /// [`NetError::NotABridge`] (such a link is never deleted), or [`NetError::Netlink`] if
    /// the links cannot be listed or the bridge cannot be deleted.
    pub fn remove_if_unused(name: &str) -> Result<bool> {
        run(|handle| async move {
            let Some(index) = bridge_index(&handle, name).await? else {
                return Ok(false);
            };
            let mut links = handle.link().get().execute();
            while let Some(msg) = links
                .try_next()
                .await
                .map_err(|e| NetError::netlink("list interfaces", e))?
            {
                if msg.attributes.contains(&LinkAttribute::Controller(index)) {
                    return Ok(false);
                }
            }
            handle
                .link()
                .del(index)
                .execute()
                .await
                .map_err(|e| NetError::netlink(format!("delete bridge {name}"), e))?;
            Ok(true)
        })
    }
}

/// One container's link to a bridge: a veth pair whose host end is on the bridge and whose
/// other end is moved into the container's namespace and named `container_ifname`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The bridge (must exist: [`Bridge::ensure`]).
    pub bridge: String,
    /// Host end of the veth pair, e.g. `pp` + part of the container id (at most 15 bytes,
    /// unique on the host).
    pub host_ifname: String,
    /// Container end, usually `eth0`.
    pub container_ifname: String,
    /// The container's addresses with the subnet's prefix length (`10.88.0.2/16`, `fd00::2/64`).
    pub addresses: Vec<IpNet>,
    /// Default gateways, one per family at most (none for an internal network without a route).
    pub gateways: Vec<IpAddr>,
    /// MTU of both ends, in bytes; `None` for the kernel's default.
    pub mtu: Option<u32>,
}

impl Attachment {
    /// Creates the veth pair with its container end already inside `netns` (one netlink
    /// request), then, inside the namespace on a short-lived thread: the addresses, the link
    /// up, loopback up and the default routes. On failure the pair is deleted again.
    ///
    /// # Errors
    /// [`NetError::InvalidLinkName`], [`NetError::NoSuchLink`] for a missing bridge, or the
    /// [`NetError::Netlink`] of the step that failed (`EEXIST` for a host name in use).
    pub fn attach(&self, netns: BorrowedFd<'_>) -> Result<()> {
        check_link_name(&self.host_ifname)?;
        check_link_name(&self.container_ifname)?;
        run(|handle| async move {
            let bridge = require_index(&handle, &self.bridge).await?;
            let mut peer = LinkMessageBuilder::<LinkUnspec>::new()
                .name(self.container_ifname.clone())
                .setns_by_fd(netns.as_raw_fd());
            let mut host = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
                .name(self.host_ifname.clone())
                .controller(bridge)
                .up();
            if let Some(mtu) = self.mtu {
                peer = peer.mtu(mtu);
                host = host.mtu(mtu);
            }
            let msg = host
                .set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())))
                .build();
            handle.link().add(msg).execute().await.map_err(|e| {
                NetError::netlink(
                    format!("create veth {} on bridge {}", self.host_ifname, self.bridge),
                    e,
                )
            })?;
            // Hairpin mode on the port: with br_netfilter loaded, a container reaching its
            // own published port is DNAT-ed at the bridge and sent back out of its port.
            let port = require_index(&handle, &self.host_ifname).await?;
            let hairpin = handle
                .link()
                .set_port(LinkBridgePort::new(port).hairpin(true).build())
                .execute()
                .await;
            if let Err(e) = hairpin {
                let _ = handle.link().del(port).execute().await;
                return Err(NetError::netlink(
                    format!("set hairpin mode on {}", self.host_ifname),
                    e,
                ));
            }
            Ok(())
        })?;
        let inside =
            in_netns(netns, || {
                run(|handle| async move {
                    let index = require_index(&handle, &self.container_ifname).await?;
                    for addr in &self.addresses {
                        add_address(&handle, index, &self.container_ifname, *addr, false).await?;
                    }
                    set_up(&handle, index, &self.container_ifname).await?;
                    let lo = require_index(&handle, "lo").await?;
                    set_up(&handle, lo, "lo").await?;
                    for gw in &self.gateways {
                        let route = match gw {
                            IpAddr::V4(gw) => RouteMessageBuilder::<Ipv4Addr>::new()
                                .gateway(*gw)
                                .output_interface(index)
                                .build(),
                            IpAddr::V6(gw) => RouteMessageBuilder::<Ipv6Addr>::new()
                                .gateway(*gw)
                                .output_interface(index)
                                .build(),
                        };
                        handle.route().add(route).execute().await.map_err(|e| {
                            NetError::netlink(format!("add default route via {gw}"), e)
                        })?;
                    }
                    Ok(())
                })
            });
        if inside.is_err() {
            let _ = detach(&self.host_ifname);
        }
        inside
    }
}

/// Deletes the veth pair whose host end is `host_ifname` (its peer goes with it). Returns
/// `false` if it was already gone (teardown is idempotent).
///
/// # Errors
/// [`NetError::Netlink`] if the kernel refuses the deletion.
pub fn detach(host_ifname: &str) -> Result<bool> {
    run(|handle| async move {
        let Some(index) = index_of(&handle, host_ifname).await? else {
            return Ok(false);
        };
        delete(&handle, index, || format!("delete veth {host_ifname}")).await
    })
}

/// The names of the interfaces in the calling thread's network namespace.
///
/// # Errors
/// [`NetError::Netlink`] if they cannot be listed.
pub fn link_names() -> Result<Vec<String>> {
    run(|handle| async move {
        let mut names = Vec::new();
        let mut links = handle.link().get().execute();
        while let Some(msg) = links
            .try_next()
            .await
            .map_err(|e| NetError::netlink("list interfaces", e))?
        {
            names.extend(msg.attributes.into_iter().filter_map(|a| match a {
                LinkAttribute::IfName(name) => Some(name),
                _ => None,
            }));
        }
        Ok(names)
    })
}
