//! # peapod-net: container networking
//!
//! **Owns:** bridges, veth pairs, addresses and routes (rtnetlink, one connection per network
//! namespace), address management (IPAM leases), NAT and published ports (nftables), and the
//! `/etc/hosts` and `/etc/resolv.conf` a container sees.
//!
//! **Does not own:** creating or pinning the network namespace itself (`peapod-ns`), or which
//! networks a container is attached to (`peapod-engine`).
//!
//! Status: the API arrives with the networking issue; this crate holds no code yet.
