//! # peapod-net: container networking
//!
//! (crate doc: see below)

mod error;
mod etc;
mod firewall;
mod ipam;
mod link;
mod netns;

pub use error::{NetError, Result};
pub use etc::{DnsOptions, HostEntry, check_hostname, host_upstreams, hosts_file, resolv_conf};
pub use firewall::{
    ContainerPorts, Firewall, NetworkRules, Nftables, PortMapping, Proto, check_host_ports_free,
};
pub use ipam::Subnet;
pub use ipnet::IpNet;
pub use link::{Attachment, Bridge, check_link_name, detach, link_names};
pub use netns::{create_netns, in_netns, open_netns, remove_netns, same_netns};
