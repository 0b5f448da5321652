//! Address management without state: a validated [`Subnet`] and pure functions over the set of
//! addresses in use. Where leases live (the engine keeps them in its SQLite database, one
//! transaction per allocation) is the caller's business.

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::IpNet;

use crate::error::{NetError, Result};

/// An IPv4 or IPv6 subnet with its gateway: the network address, the IPv4 broadcast address
/// and the gateway are never handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subnet {
    net: IpNet,
    gateway: IpAddr,
}

impl Subnet {
    /// Validates `net` (a CIDR whose host bits are zero; room for a gateway and at least one
    /// container, so at most /30 for IPv4 and /126 for IPv6; not loopback, multicast or
    /// unspecified) and `gateway` (default: the first address after the network address).
    ///
    /// # Errors
    /// [`NetError::InvalidSubnet`] saying what is wrong.
    pub fn new(net: IpNet, gateway: Option<IpAddr>) -> Result<Self> {
        let invalid = |reason: String| NetError::InvalidSubnet {
            input: net.to_string(),
            reason,
        };
        if net.addr() != net.network() {
            return Err(invalid(format!(
                "host bits are set (the network is {})",
                net.trunc()
            )));
        }
        let max_prefix = match net {
            IpNet::V4(_) => 30,
            IpNet::V6(_) => 126,
        };
        if net.prefix_len() > max_prefix {
            return Err(invalid(format!(
                "a /{} has no room for a gateway and a container (at most /{max_prefix})",
                net.prefix_len()
            )));
        }
        let first = net.network();
        if first.is_loopback() || first.is_multicast() || first.is_unspecified() {
            return Err(invalid(
                "loopback, multicast and unspecified ranges cannot be container networks".into(),
            ));
        }
        let mut subnet = Self {
            net,
            gateway: first,
        };
        subnet.gateway = subnet.nth(1);
        if let Some(gateway) = gateway {
            if !net.contains(&gateway) || subnet.is_network_or_broadcast(gateway) {
                return Err(invalid(format!(
                    "gateway {gateway} is not a host address of the subnet"
                )));
            }
            subnet.gateway = gateway;
        }
        Ok(subnet)
    }

    /// The subnet itself (`10.88.0.0/16`).
    pub fn net(&self) -> IpNet {
        self.net
    }

    /// The gateway address (the bridge's).
    pub fn gateway(&self) -> IpAddr {
        self.gateway
    }

    /// The gateway with the subnet's prefix length (`10.88.0.1/16`), as [`crate::Bridge`]
    /// takes it.
    pub fn gateway_net(&self) -> IpNet {
        self.with_prefix(self.gateway)
    }

    /// `ip` with the subnet's prefix length, as [`crate::Attachment`] takes it.
    pub fn with_prefix(&self, ip: IpAddr) -> IpNet {
        match (ip, self.net) {
            (IpAddr::V4(ip), IpNet::V4(net)) => {
                ipnet::Ipv4Net::new_assert(ip, net.prefix_len()).into()
            }
            (IpAddr::V6(ip), IpNet::V6(net)) => {
                ipnet::Ipv6Net::new_assert(ip, net.prefix_len()).into()
            }
            // A mismatched family: a host route.
            (ip, _) => IpNet::from(ip),
        }
    }

    /// Whether `ip` is inside the subnet.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.net.contains(&ip)
    }

    /// Whether the two subnets share any address (never for two families).
    pub fn overlaps(&self, other: &Subnet) -> bool {
        self.net.contains(&other.net.network()) || other.net.contains(&self.net.network())
    }

    /// Checks that the subnet overlaps none of `others` (the subnets of existing networks).
    ///
    /// # Errors
    /// [`NetError::SubnetOverlap`] naming the first overlapping one.
    pub fn check_no_overlap<'a>(&self, others: impl IntoIterator<Item = &'a Subnet>) -> Result<()> {
        match others.into_iter().find(|other| self.overlaps(other)) {
            Some(other) => Err(NetError::SubnetOverlap(self.to_string(), other.to_string())),
            None => Ok(()),
        }
    }

    /// Checks a requested address (`--ip`): inside the subnet, not the network, broadcast or
    /// gateway address, and not in `used`.
    ///
    /// # Errors
    /// [`NetError::AddressUnavailable`] saying which rule it breaks.
    pub fn check_static(&self, ip: IpAddr, used: &HashSet<IpAddr>) -> Result<()> {
        let reason = if !self.contains(ip) {
            "it is outside the subnet"
        } else if self.is_network_or_broadcast(ip) {
            "it is the network or broadcast address"
        } else if ip == self.gateway {
            "it is the gateway address"
        } else if used.contains(&ip) {
            "it is already in use"
        } else {
            return Ok(());
        };
        Err(NetError::AddressUnavailable {
            ip,
            subnet: self.to_string(),
            reason,
        })
    }

    /// The lowest host address that is neither reserved nor in `used`. Takes at most
    /// `used.len() + 2` steps, whatever the subnet's size.
    ///
    /// # Errors
    /// [`NetError::SubnetExhausted`] when every host address is taken.
    pub fn allocate(&self, used: &HashSet<IpAddr>) -> Result<IpAddr> {
        let last = self.last_host_offset();
        let mut offset: u128 = 1;
        while offset <= last {
            let ip = self.nth(offset);
            if ip != self.gateway && !used.contains(&ip) {
                return Ok(ip);
            }
            offset += 1;
        }
        Err(NetError::SubnetExhausted(self.to_string()))
    }

    fn host_bits(&self) -> u32 {
        u32::from(self.net.max_prefix_len() - self.net.prefix_len())
    }

    /// The offset of the last address that can be handed out: IPv4 keeps its broadcast
    /// address; IPv6 has none.
    fn last_host_offset(&self) -> u128 {
        let all_ones = u128::MAX >> (128 - self.host_bits());
        match self.net {
            IpNet::V4(_) => all_ones - 1,
            IpNet::V6(_) => all_ones,
        }
    }

    fn is_network_or_broadcast(&self, ip: IpAddr) -> bool {
        ip == self.net.network() || (self.net.addr().is_ipv4() && ip == self.net.broadcast())
    }

    /// The address `offset` after the network address (`offset` is within the subnet).
    fn nth(&self, offset: u128) -> IpAddr {
        match self.net {
            IpNet::V4(net) => {
                let base = u32::from(net.network());
                // The offset fits: it is at most the subnet's size, and the subnet is v4.
                let offset = u32::try_from(offset).unwrap_or(u32::MAX);
                IpAddr::V4(Ipv4Addr::from(base.saturating_add(offset)))
            }
            IpNet::V6(net) => IpAddr::V6(Ipv6Addr::from(
                u128::from(net.network()).saturating_add(offset),
            )),
        }
    }
}

impl FromStr for Subnet {
    type Err = NetError;

    /// Parses `ADDRESS/PREFIX` with the default gateway (see [`Subnet::new`]).
    fn from_str(s: &str) -> Result<Self> {
        let net = s
            .trim()
            .parse::<IpNet>()
            .map_err(|_| NetError::InvalidSubnet {
                input: s.to_owned(),
                reason: "not a CIDR (ADDRESS/PREFIX, e.g. 10.89.0.0/24 or fd00:89::/64)".into(),
            })?;
        Self::new(net, None)
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.net.fmt(f)
    }
}
