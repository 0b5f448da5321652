//! The firewall: masquerade for a network's outbound traffic and published ports, behind the
//! small [`Firewall`] trait ([`Nftables`] by default), plus the parsing of `-p` specs and the
//! check that a host port is free.

mod nft;

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::str::FromStr;

use ipnet::IpNet;

pub use nft::Nftables;

use crate::error::{NetError, Result};

/// A transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Proto {
    /// `tcp` or `udp`, as nft and `-p` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }
}

/// One `-p [hostIP:]hostPort:containerPort[/tcp|udp]` spec; ranges
/// (`8000-8009:9000-9009`) have the same length on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortMapping {
    /// The host address it is published on; `None` for all of the host's addresses.
    pub host_ip: Option<IpAddr>,
    /// The first host port (1–65535).
    pub host_port: u16,
    /// The first container port (1–65535).
    pub container_port: u16,
    /// How many consecutive ports (1 for a single port).
    pub count: u16,
    /// The protocol.
    pub proto: Proto,
}

impl PortMapping {
    /// Every (host port, container port) pair of the mapping (a range that would run past
    /// 65535, possible only in a hand-made mapping, stops there).
    pub fn pairs(&self) -> impl Iterator<Item = (u16, u16)> + '_ {
        (0..self.count).map_while(|i| {
            Some((
                self.host_port.checked_add(i)?,
                self.container_port.checked_add(i)?,
            ))
        })
    }
}

fn port_range(input: &str, part: &str) -> Result<(u16, u16)> {
    let bad = |reason: String| NetError::InvalidPort {
        input: input.to_owned(),
        reason,
    };
    let one = |p: &str| match p.parse::<u32>() {
        Ok(n @ 1..=65535) => Ok(n as u16),
        Ok(n) => Err(bad(format!("port {n} is out of range (1-65535)"))),
        Err(_) => Err(bad(format!("{p:?} is not a port number"))),
    };
    match part.split_once('-') {
        None => one(part).map(|p| (p, 1)),
        Some((lo, hi)) => {
            let (lo, hi) = (one(lo)?, one(hi)?);
            if hi < lo {
                return Err(bad(format!("range {lo}-{hi} ends before it starts")));
            }
            Ok((lo, hi - lo + 1))
        }
    }
}

impl FromStr for PortMapping {
    type Err = NetError;

    /// Parses `[hostIP:]hostPort:containerPort[/tcp|udp]`; an IPv6 host address is written in
    /// brackets (`[::1]:8080:80`).
    fn from_str(input: &str) -> Result<Self> {
        let bad = |reason: &str| NetError::InvalidPort {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        let (spec, proto) = match input.rsplit_once('/') {
            None => (input, Proto::Tcp),
            Some((spec, "tcp")) => (spec, Proto::Tcp),
            Some((spec, "udp")) => (spec, Proto::Udp),
            Some(_) => return Err(bad("the protocol must be tcp or udp")),
        };
        let usage = "expected [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp]";
        let (host_ip, host, container) = if let Some(rest) = spec.strip_prefix('[') {
            let (ip, ports) = rest
                .split_once("]:")
                .ok_or_else(|| bad("an IPv6 host address is written [ADDRESS]:HOSTPORT:PORT"))?;
            let ip: Ipv6Addr = ip
                .parse()
                .map_err(|_| bad("not an IPv6 address in brackets"))?;
            let (host, container) = ports.split_once(':').ok_or_else(|| bad(usage))?;
            (Some(IpAddr::V6(ip)), host, container)
        } else {
            match spec.split(':').collect::<Vec<_>>()[..] {
                [host, container] => (None, host, container),
                [ip, host, container] => {
                    let ip: Ipv4Addr = ip.parse().map_err(|_| bad("not a host IPv4 address"))?;
                    (Some(IpAddr::V4(ip)), host, container)
                }
                _ => return Err(bad(usage)),
            }
        };
        let (host_port, host_count) = port_range(input, host)?;
        let (container_port, count) = port_range(input, container)?;
        if host_count != count {
            return Err(bad("the host and container port ranges differ in length"));
        }
        Ok(Self {
            host_ip: host_ip.filter(|ip| !ip.is_unspecified()),
            host_port,
            container_port,
            count,
            proto,
        })
    }
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host_ip {
            Some(IpAddr::V6(ip)) => write!(f, "[{ip}]:")?,
            Some(ip) => write!(f, "{ip}:")?,
            None => {}
        }
        let range = |first: u16| match self.count {
            0 | 1 => first.to_string(),
            n => format!("{first}-{}", first.saturating_add(n - 1)),
        };
        write!(
            f,
            "{}:{}/{}",
            range(self.host_port),
            range(self.container_port),
            self.proto.as_str()
        )
    }
}

/// Checks, by trying to bind each host port, that no process on the host (the calling
/// thread's network namespace) holds it, before anything is set up. Ports published by
/// containers have no listener: [`Firewall::check_ports`] covers those too.
///
/// # Errors
/// [`NetError::PortInUse`] for the first port held; [`NetError::InvalidPort`] for a host
/// address that is not one of the host's.
pub fn check_host_ports_free(ports: &[PortMapping]) -> Result<()> {
    for mapping in ports {
        let ip = mapping.host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        for (port, _) in mapping.pairs() {
            let addr = SocketAddr::new(ip, port);
            let bound = match mapping.proto {
                Proto::Tcp => TcpListener::bind(addr).map(drop),
                Proto::Udp => UdpSocket::bind(addr).map(drop),
            };
            match bound {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                    return Err(NetError::PortInUse {
                        host: ip,
                        port,
                        proto: mapping.proto.as_str(),
                        by: "a process on the host is bound to it".into(),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AddrNotAvailable => {
                    return Err(NetError::InvalidPort {
                        input: mapping.to_string(),
                        reason: format!("{ip} is not an address of this host"),
                    });
                }
                Err(e) => {
                    return Err(NetError::io(
                        format!("check host port {addr}/{}", mapping.proto.as_str()),
                        e,
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A network as the firewall sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRules {
    /// The network's bridge.
    pub bridge: String,
    /// Its subnets (one per family at most).
    pub subnets: Vec<IpNet>,
    /// An internal network: no masquerade, and forwarding between the bridge and any other
    /// interface is dropped.
    pub internal: bool,
}

/// One container's published ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPorts {
    /// The container's id (letters, digits, `_`, `-`; at most 64): it names its rules.
    pub id: String,
    /// Its IPv4 address, the target of IPv4 traffic.
    pub ipv4: Option<Ipv4Addr>,
    /// Its IPv6 address, the target of IPv6 traffic.
    pub ipv6: Option<Ipv6Addr>,
    /// What it publishes.
    pub ports: Vec<PortMapping>,
}

/// What a firewall backend does for peapod. Every method works in the calling thread's
/// network namespace (the host's, or a test's fake host), is atomic (all or nothing), and
/// touches nothing but the backend's own rules.
pub trait Firewall {
    /// Masquerade for the network's outbound traffic, and for traffic to it that was
    /// DNAT-ed from the host's loopback or from the network itself (hairpin). Idempotent.
    ///
    /// # Errors
    /// The backend's error; nothing changed.
    fn setup_network(&self, net: &NetworkRules) -> Result<()>;

    /// Removes what [`Firewall::setup_network`] made, and the backend's own table once no
    /// network and no port is left in it. Idempotent.
    ///
    /// # Errors
    /// The backend's error.
    fn teardown_network(&self, net: &NetworkRules) -> Result<()>;

    /// Checks that no port of `ports` is held by a host process or published already.
    ///
    /// # Errors
    /// [`NetError::PortInUse`] naming the port and who holds it.
    fn check_ports(&self, ports: &[PortMapping]) -> Result<()>;

    /// Publishes the container's ports (DNAT from every host address and 127.0.0.1, or from
    /// the given host address). A port published by another container makes it fail with
    /// nothing changed.
    ///
    /// # Errors
    /// [`NetError::PortInUse`], [`NetError::InvalidPort`] or the backend's error.
    fn publish(&self, ctr: &ContainerPorts) -> Result<()>;

    /// Removes exactly this container's published ports; others are untouched.
    ///
    /// # Errors
    /// The backend's error (for instance a port now published by another container).
    fn unpublish(&self, ctr: &ContainerPorts) -> Result<()>;

    /// Changes the published ports of a container that is running: `ctr.ports` is the full
    /// set after the change, `added` the mappings new in it, `removed` those no longer in
    /// it (a pod's `port add`/`port rm`). All or nothing; the container's network
    /// namespace is not touched.
    ///
    /// # Errors
    /// [`NetError::PortInUse`] for an added port held or published elsewhere,
    /// [`NetError::InvalidPort`], or the backend's error (for instance a removed port
    /// published by another container); nothing changed.
    fn change_ports(
        &self,
        ctr: &ContainerPorts,
        added: &[PortMapping],
        removed: &[PortMapping],
    ) -> Result<()>;
}
