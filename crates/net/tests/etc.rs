//! /etc/hosts and /etc/resolv.conf generation (no root needed).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test setup should panic

use peapod_net::{DnsOptions, HostEntry, NetError, hosts_file, resolv_conf};

const HOST: &str = "# written by someone\nsearch corp.example lab.example\nnameserver 127.0.0.53\n\
                    nameserver 192.0.2.53\nnameserver fd00::53\noptions edns0 trust-ad\n";

#[test]
fn hosts_lists_loopback_added_hosts_the_container_and_its_peers() {
    let add = HostEntry::parse_add_host("db:192.0.2.7", None).unwrap();
    let gw = HostEntry::parse_add_host(
        "host.docker.internal=host-gateway",
        Some("10.88.0.1".parse().unwrap()),
    )
    .unwrap();
    let v6 = HostEntry::parse_add_host("six:[fd00::5]", None).unwrap();
    let own = HostEntry {
        ip: "10.88.0.2".parse().unwrap(),
        names: vec!["web".into(), "frontend".into()],
    };
    let peer = HostEntry {
        ip: "10.88.0.3".parse().unwrap(),
        names: vec!["api".into()],
    };
    assert_eq!(
        hosts_file(&[add, gw, v6], &[own], &[peer]),
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n192.0.2.7\tdb\n\
         10.88.0.1\thost.docker.internal\nfd00::5\tsix\n10.88.0.2\tweb frontend\n10.88.0.3\tapi\n"
    );
}

#[test]
fn bad_add_hosts_say_why() {
    for (input, why) in [
        ("db", "expected NAME:IP"),
        ("db:300.1.1.1", "not an IP address"),
        ("-db:10.0.0.1", "not a host name"),
        ("gw:host-gateway", "no host gateway"),
    ] {
        let err = HostEntry::parse_add_host(input, None).unwrap_err();
        assert!(
            matches!(
                err,
                NetError::InvalidOption {
                    what: "--add-host",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains(why), "{input}: {err}");
    }
}

#[test]
fn resolv_conf_takes_the_hosts_reachable_upstreams_unless_told_otherwise() {
    assert_eq!(
        resolv_conf(HOST, &DnsOptions::default()),
        "search corp.example lab.example\nnameserver 192.0.2.53\nnameserver fd00::53\noptions edns0 trust-ad\n",
        "127.0.0.53 is the host's own loopback: unreachable from a container"
    );
    let opts = DnsOptions {
        servers: vec!["10.88.0.1".parse().unwrap()],
        search: vec!["svc.example".into()],
        options: vec!["ndots:2".into()],
    };
    opts.validate().unwrap();
    assert_eq!(
        resolv_conf(HOST, &opts),
        "search svc.example\nnameserver 10.88.0.1\noptions ndots:2\n"
    );
    let none = DnsOptions {
        search: vec![".".into()],
        ..DnsOptions::default()
    };
    none.validate().unwrap();
    assert!(!resolv_conf(HOST, &none).contains("search"));
    assert_eq!(
        resolv_conf(
            "domain home.example\nnameserver 127.0.0.1\n",
            &DnsOptions::default()
        ),
        "search home.example\n"
    );
    let bad = DnsOptions {
        search: vec!["bad domain".into()],
        ..DnsOptions::default()
    };
    assert!(
        bad.validate()
            .unwrap_err()
            .to_string()
            .starts_with("invalid --dns-search \"bad domain\"")
    );
}

#[test]
fn hosts_files_are_rewritten_in_place() {
    use std::os::unix::fs::MetadataExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hosts");
    std::fs::write(&path, "a long first version of the file\nwith two lines\n").unwrap();
    let inode = std::fs::metadata(&path).unwrap().ino();
    peapod_net::rewrite_in_place(&path, "short\n").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "short\n");
    assert_eq!(
        std::fs::metadata(&path).unwrap().ino(),
        inode,
        "same inode: bind mounts see it"
    );
    let err = peapod_net::rewrite_in_place(&dir.path().join("missing"), "x").unwrap_err();
    assert!(err.to_string().starts_with("cannot rewrite "), "{err}");
}
