//! The crate's error type: every message names the object and the cause.

use std::io;

/// Everything `peapod-net` can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// A netlink request the kernel refused (`what` says which object and operation).
    #[error("cannot {what}: {source}")]
    Netlink {
        /// The operation and its object, e.g. `create veth pp0a1b2c on bridge peapod0`.
        what: String,
        /// The kernel's answer as an errno, or the netlink library's error.
        source: io::Error,
    },
    /// A system call or file operation failed.
    #[error("cannot {what}: {source}")]
    Io {
        /// The operation and its object.
        what: String,
        /// The cause.
        source: io::Error,
    },
    /// A link we looked for does not exist.
    #[error("no network interface named {0:?}")]
    NoSuchLink(String),
    /// A link that should be a bridge is something else (it is left alone).
    #[error("interface {0:?} exists and is not a bridge")]
    NotABridge(String),
    /// An interface name the kernel would refuse (empty, over 15 bytes, `/`, `:` or space).
    #[error("invalid interface name {0:?}: 1 to 15 characters, no '/', ':' or whitespace")]
    InvalidLinkName(String),
    /// A subnet, gateway or address that cannot be used.
    #[error("invalid subnet {input:?}: {reason}")]
    InvalidSubnet {
        /// What the caller gave.
        input: String,
        /// Why it is refused.
        reason: String,
    },
    /// Two subnets share addresses.
    #[error("subnet {0} overlaps subnet {1}")]
    SubnetOverlap(String, String),
    /// A requested address (`--ip`) that cannot be given out.
    #[error("cannot use address {ip} in subnet {subnet}: {reason}")]
    AddressUnavailable {
        /// The address asked for.
        ip: std::net::IpAddr,
        /// The subnet it was asked from.
        subnet: String,
        /// Why: outside the subnet, reserved, or taken.
        reason: &'static str,
    },
    /// Every address of the subnet is in use.
    #[error("no free address left in subnet {0}")]
    SubnetExhausted(String),
    /// A port publishing spec that does not parse or is out of range.
    #[error("invalid port mapping {input:?}: {reason}")]
    InvalidPort {
        /// What the caller gave.
        input: String,
        /// Why it is refused.
        reason: String,
    },
    /// A host port that is already bound by some process or published by another container.
    #[error("host port {port}/{proto} on {host} is already in use ({by})")]
    PortInUse {
        /// The host address (`0.0.0.0` for every address).
        host: std::net::IpAddr,
        /// The port.
        port: u16,
        /// `tcp` or `udp`.
        proto: &'static str,
        /// Who holds it: a listener, or another published container.
        by: String,
    },
    /// The `nft` program failed or could not be run.
    #[error("nftables: cannot {what}: {stderr}")]
    Nft {
        /// What the batch was for.
        what: String,
        /// What `nft` said (or why it could not be started).
        stderr: String,
    },
    /// An `--add-host` or DNS option that does not parse.
    #[error("invalid {what} {input:?}: {reason}")]
    InvalidOption {
        /// Which option (`--add-host`, `--dns-search`, ...).
        what: &'static str,
        /// What the caller gave.
        input: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// Teardown is best effort: every step ran and these failed.
    #[error("teardown incomplete: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Teardown(Vec<NetError>),
}

/// The crate's result type.
pub type Result<T, E = NetError> = std::result::Result<T, E>;

impl NetError {
    pub(crate) fn io(what: impl Into<String>, source: impl Into<io::Error>) -> Self {
        Self::Io {
            what: what.into(),
            source: source.into(),
        }
    }

    pub(crate) fn netlink(what: impl Into<String>, err: rtnetlink::Error) -> Self {
        let source = match &err {
            rtnetlink::Error::NetlinkError(msg) => msg.to_io(),
            other => io::Error::other(other.to_string()),
        };
        Self::Netlink {
            what: what.into(),
            source,
        }
    }

    /// The errno behind a netlink or I/O failure, if there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Self::Netlink { source, .. } | Self::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}
