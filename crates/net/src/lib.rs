//! # peapod-net: container networking
//!
//! Wires a network namespace to a bridge, gives it addresses, NAT and published ports, and
//! writes what its `/etc/hosts` and `/etc/resolv.conf` say. Another project can use it alone:
//! it depends on no other peapod crate.
//!
//! **Owns:** one container's network as a transaction ([`ContainerNetwork`]); persisted
//! network namespaces ([`create_netns`], [`remove_netns`]); the bridge
//! ([`Bridge`]), the veth pair and the container side of it ([`Attachment`]); address
//! management as pure functions ([`Subnet`]); the firewall ([`Firewall`], [`Nftables`]); the
//! text of `/etc/hosts` and `/etc/resolv.conf` ([`hosts_file`], [`resolv_conf`]).
//!
//! **Does not own:** where leases and networks are recorded (the caller's database: the
//! allocator takes the set of addresses in use), which networks a container joins, and when.
//!
//! Everything acts in the network namespace of the **calling thread** (the host, or a test's
//! fake host). Netlink runs on a `current_thread` tokio runtime made for each call; work inside
//! a container's namespace runs on a short-lived thread that `setns(2)`s into it
//! ([`in_netns`]), so no caller thread or tokio worker ever changes namespace. No call leaves a
//! thread behind, so a single-threaded caller may fork afterwards. `nft` is run through
//! `std::process::Command` (spawn and exec, no Rust code in the child).
//!
//! ## Example: one container on a bridge, with a published port
//!
//! ```no_run
//! use std::collections::HashSet;
//! use std::net::IpAddr;
//!
//! use peapod_net::{
//!     Attachment, Bridge, ContainerNetwork, ContainerPorts, DnsOptions, Firewall, HostEntry,
//!     NetworkRules, Nftables, Subnet,
//! };
//!
//! # fn main() -> Result<(), peapod_net::NetError> {
//! // The network, once: a bridge holding the gateway address, and its NAT rules.
//! let subnet: Subnet = "10.88.0.0/16".parse()?;
//! Bridge { name: "peapod0".into(), addresses: vec![subnet.gateway_net()], mtu: None }.ensure()?;
//! let fw = Nftables::default();
//! let rules = NetworkRules { bridge: "peapod0".into(), subnets: vec![subnet.net()], internal: false };
//! fw.setup_network(&rules)?;
//!
//! // A container: an address from the caller's leases, then one transaction.
//! let used: HashSet<IpAddr> = HashSet::new();
//! let IpAddr::V4(ip) = subnet.allocate(&used)? else { unreachable!("a v4 subnet") };
//! let web = ContainerNetwork {
//!     netns_path: "/run/myengine/netns/web1".into(),
//!     attachments: vec![Attachment {
//!         bridge: "peapod0".into(),
//!         host_ifname: "veth-web1".into(),
//!         container_ifname: "eth0".into(),
//!         addresses: vec![subnet.with_prefix(ip.into())],
//!         gateways: vec![subnet.gateway()],
//!         mtu: None,
//!     }],
//!     ports: ContainerPorts {
//!         id: "web1".into(),
//!         ipv4: Some(ip),
//!         ipv6: None,
//!         ports: vec!["8080:80".parse()?],
//!     },
//! };
//! let _netns = web.setup(&fw)?; // checked first; nothing is left if any step fails
//! let resolv = peapod_net::resolv_conf(
//!     &std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
//!     &DnsOptions::default(),
//! );
//! let own = HostEntry { ip: ip.into(), names: vec!["web1".into()] };
//! let hosts = peapod_net::hosts_file(&[], &[own], &[]);
//! # let _ = (resolv, hosts);
//!
//! // ... the container runs with /run/myengine/netns/web1 as its network namespace ...
//!
//! web.teardown(&fw)?; // its rules, its namespace, and with it the veth pair
//! # Ok(())
//! # }
//! ```
//!
//! ## Choices, and the figures behind them
//!
//! Measured on the project's machine (2 cores, kernel 6.18, nft 1.0.6) by
//! `cargo run --release -p peapod-net --example setup_time`, medians of 50 runs, over four
//! runs: namespace created, pinned and lo up 0.8–3.5 ms (the high end while the kernel
//! cleans up earlier namespaces in the background); veth pair, addresses, route and links up
//! 1.0–2.2 ms; publishing one port 2.9–3.9 ms; unpublishing it 13.5–14.7 ms; deleting the
//! veth pair explicitly ([`detach`]) 20–27 ms; unpinning the namespace 0.1 ms. So one
//! container's set-up and teardown costs 3.6–7.2 ms without published ports, and about
//! 20 ms with one (of which the kernel's grace period on removal is 12).
//!
//! - **Teardown by unpinning.** Deleting a veth makes the kernel wait for RCU grace periods
//!   (20–27 ms here). When the container is gone, unpinning its namespace is enough: the
//!   kernel deletes the pair with the namespace, in the background (the host end was gone
//!   29–39 ms later); [`ContainerNetwork::teardown`] does that. [`detach`] stays for a
//!   namespace that lives on (disconnecting a running container).
//! - **nftables by `nft -f -`, not netlink from Rust.** Every batch is one run of the `nft`
//!   program, fed text in nft's documented syntax (nft(8)) on stdin and applied atomically by
//!   the kernel. Measured against `rustables` 0.9 (nfnetlink from the process) with the same
//!   batches, a container's chain and rule then their removal, medians of 50 in one run: add
//!   0.08 ms with rustables, 3.4 ms with `nft -f`; remove 11.6 ms and 13.4 ms. Running the
//!   program costs about 2–3 ms a batch; any batch that deletes something (an element, a
//!   chain) waits in the kernel for a grace period (about 12 ms here) whatever the client,
//!   and so does re-declaring an existing hook chain, which is why only `setup_network`
//!   declares the base chains. A container without published ports (the `run --rm IMAGE
//!   true` of the benchmark) never runs `nft`; one with ports is over 10 ms either way,
//!   because of the kernel. Against rustables' 3 ms: it needs libclang at build time
//!   (bindgen) on every machine that builds us, the static release build included, and
//!   its rule builder has no `fib`, verdict maps with concatenated keys or `ct status`,
//!   which we would assemble expression by expression. The text is chosen over `nft -j`
//!   (the `nftables` crate) because both cost the same run of the same program, and the
//!   text is what nft's documentation and error messages speak. If published-port set-up
//!   time comes to matter, a small nfnetlink batch writer on `netlink-sys` (no bindgen) is
//!   the way to save those 3 ms.
//! - **rtnetlink** (`rtnetlink`/`netlink-packet-route`): the design card's crates; the veth
//!   pair is created with its peer already in the container's namespace and named there, in
//!   one request.
//! - **Name resolution by hosts files**, not a resolver per network: a resolver is a process
//!   that must outlive the command that made the network, which a daemonless engine does
//!   not have. Each container's `/etc/hosts` ([`hosts_file`]) lists its peers by name and
//!   alias; when a container joins or leaves a network, the caller rewrites the hosts file of
//!   every container on it with [`rewrite_in_place`] (same inode: the containers see it
//!   through bind mounts). Upstream names go to the host's resolvers ([`resolv_conf`]).
//! - **ipnet** parses and does arithmetic on CIDRs (a small, widely used crate, no default
//!   features).
//!
//! ## Firewall layout
//!
//! One table of our own, `inet peapod`, never anyone else's (see [`Nftables`]): masquerade for
//! a network's outbound traffic and for DNAT-ed traffic from loopback or the network itself
//! (publishing on 127.0.0.1 and hairpin; `route_localnet` is set on the bridge), published
//! ports as map elements that jump to one chain per container, internal networks rejected at
//! forwarding. Bridge ports are in hairpin mode so that a container reaches its own published
//! port when `br_netfilter` is loaded. Not covered: a host whose own firewall drops forwarded
//! traffic (a `filter forward` policy of drop elsewhere wins over our accept); publishing on
//! `::1` (IPv6 has no `route_localnet`: published ports are reached on the host's IPv6
//! addresses, not its loopback); a listener bound to `[::]` with `IPV6_V6ONLY` is not seen by
//! the port check, which binds `0.0.0.0` (a dual-stack listener is).

mod container;
mod error;
mod etc;
mod firewall;
mod ipam;
mod link;
mod netns;

pub use container::ContainerNetwork;
pub use error::{NetError, Result};
pub use etc::{
    DnsOptions, HostEntry, check_hostname, host_upstreams, hosts_file, resolv_conf,
    rewrite_in_place,
};
pub use firewall::{
    ContainerPorts, Firewall, NetworkRules, Nftables, PortMapping, Proto, check_host_ports_free,
};
pub use ipam::Subnet;
pub use ipnet::IpNet;
pub use link::{Attachment, Bridge, check_link_name, detach, link_names};
pub use netns::{create_netns, in_netns, open_netns, remove_netns, same_netns};
