//! IPAM: subnet validation and allocation over a set of used addresses (no root needed).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test setup should panic

use std::collections::HashSet;
use std::net::IpAddr;

use peapod_net::{NetError, Subnet};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn reason(input: &str) -> String {
    match input.parse::<Subnet>() {
        Err(NetError::InvalidSubnet { reason, .. }) => reason,
        other => panic!("{input}: {other:?}"),
    }
}

#[test]
fn subnets_are_validated() {
    let s: Subnet = "10.89.0.0/24".parse().unwrap();
    assert_eq!(s.gateway(), ip("10.89.0.1"));
    assert_eq!(s.gateway_net().to_string(), "10.89.0.1/24");
    let s6: Subnet = "fd00:89::/64".parse().unwrap();
    assert_eq!(s6.gateway(), ip("fd00:89::1"));
    assert!(reason("10.89.0.0").contains("not a CIDR"));
    assert!(reason("10.89.0.300/24").contains("not a CIDR"));
    assert!(reason("10.89.0.5/24").contains("host bits are set (the network is 10.89.0.0/24)"));
    assert!(reason("10.89.0.0/31").contains("no room"));
    assert!(reason("fd00::/127").contains("no room"));
    assert!(reason("127.0.0.0/8").contains("loopback"));
    assert!(reason("224.0.0.0/8").contains("multicast"));
    let err = "10.89.0.0/24: bad".parse::<Subnet>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid subnet \"10.89.0.0/24: bad\": not a CIDR (ADDRESS/PREFIX, e.g. 10.89.0.0/24 or fd00:89::/64)"
    );
}

#[test]
fn gateways_must_be_host_addresses_inside() {
    let net = "10.89.0.0/24".parse().unwrap();
    assert_eq!(
        Subnet::new(net, Some(ip("10.89.0.254"))).unwrap().gateway(),
        ip("10.89.0.254")
    );
    for bad in ["10.89.0.0", "10.89.0.255", "10.90.0.1", "fd00::1"] {
        let err = Subnet::new(net, Some(ip(bad))).unwrap_err();
        assert!(
            err.to_string()
                .contains("is not a host address of the subnet"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn overlaps_are_detected() {
    let a: Subnet = "10.88.0.0/16".parse().unwrap();
    let inner: Subnet = "10.88.5.0/24".parse().unwrap();
    let beside: Subnet = "10.89.0.0/16".parse().unwrap();
    let v6: Subnet = "fd00::/64".parse().unwrap();
    assert!(a.overlaps(&inner) && inner.overlaps(&a) && a.overlaps(&a));
    assert!(!a.overlaps(&beside) && !a.overlaps(&v6));
    assert!(beside.check_no_overlap([&a, &v6]).is_ok());
    let err = inner.check_no_overlap([&beside, &a]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "subnet 10.88.5.0/24 overlaps subnet 10.88.0.0/16"
    );
}

#[test]
fn allocation_skips_reserved_and_used_addresses_until_exhausted() {
    let s: Subnet = "10.89.0.0/29".parse().unwrap();
    let mut used = HashSet::new();
    let mut given = Vec::new();
    for _ in 0..5 {
        let next = s.allocate(&used).unwrap();
        used.insert(next);
        given.push(next.to_string());
    }
    // .0 network, .1 gateway, .7 broadcast: never.
    assert_eq!(
        given,
        [
            "10.89.0.2",
            "10.89.0.3",
            "10.89.0.4",
            "10.89.0.5",
            "10.89.0.6"
        ]
    );
    let err = s.allocate(&used).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no free address left in subnet 10.89.0.0/29"
    );
    // A released address is given out again.
    used.remove(&ip("10.89.0.4"));
    assert_eq!(s.allocate(&used).unwrap(), ip("10.89.0.4"));
}

#[test]
fn allocation_in_a_huge_v6_subnet_is_quick_and_never_the_network_address() {
    let s: Subnet = "fd00:1::/64".parse().unwrap();
    let used: HashSet<IpAddr> = (2..2000).map(|i| ip(&format!("fd00:1::{i:x}"))).collect();
    assert_eq!(s.allocate(&used).unwrap(), ip("fd00:1::7d0"));
    let tiny: Subnet = "fd00:2::/126".parse().unwrap();
    let mut used = HashSet::new();
    for want in ["fd00:2::2", "fd00:2::3"] {
        let got = tiny.allocate(&used).unwrap();
        assert_eq!(got, ip(want));
        used.insert(got);
    }
    assert!(matches!(
        tiny.allocate(&used),
        Err(NetError::SubnetExhausted(_))
    ));
}

#[test]
fn static_addresses_are_checked() {
    let s: Subnet = "10.89.0.0/24".parse().unwrap();
    let used = HashSet::from([ip("10.89.0.9")]);
    assert!(s.check_static(ip("10.89.0.10"), &used).is_ok());
    for (bad, why) in [
        ("10.90.0.10", "outside the subnet"),
        ("10.89.0.0", "network or broadcast"),
        ("10.89.0.255", "network or broadcast"),
        ("10.89.0.1", "gateway"),
        ("10.89.0.9", "already in use"),
    ] {
        let err = s.check_static(ip(bad), &used).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "cannot use address {bad} in subnet 10.89.0.0/24: "
            )),
            "{err}"
        );
        assert!(err.contains(why), "{err}");
    }
    assert_eq!(s.with_prefix(ip("10.89.0.10")).to_string(), "10.89.0.10/24");
}
