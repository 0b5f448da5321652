//! Bridges, veth pairs, addresses and routes, and persisted namespaces, inside a fake host.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test setup should panic

mod common;

use std::os::fd::AsFd;

use common::{assert_netns_gone, exchange, fake_host, listen_in, run_ip};
use peapod_net::{Attachment, Bridge, NetError, create_netns, detach, link_names, remove_netns};

fn bridge() -> Bridge {
    Bridge {
        name: "ppnl-br0".into(),
        addresses: vec![
            "10.77.0.1/24".parse().unwrap(),
            "fd77::1/64".parse().unwrap(),
        ],
        mtu: Some(1400),
    }
}

fn attachment(host: &str, last: u8) -> Attachment {
    Attachment {
        bridge: "ppnl-br0".into(),
        host_ifname: host.into(),
        container_ifname: "eth0".into(),
        addresses: vec![
            format!("10.77.0.{last}/24").parse().unwrap(),
            format!("fd77::{last}/64").parse().unwrap(),
        ],
        gateways: vec!["10.77.0.1".parse().unwrap(), "fd77::1".parse().unwrap()],
        mtu: Some(1400),
    }
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_namespace_is_wired_to_the_bridge_and_torn_down_without_trace() {
    let dir = fake_host();
    let ns_path = dir.path().join("netlink-net-a");
    let ns = create_netns(&ns_path).unwrap();
    assert!(
        run_ip(Some(&ns), &["link", "show", "lo"]).contains("UP"),
        "lo is up"
    );

    let index = bridge().ensure().unwrap();
    assert_eq!(bridge().ensure().unwrap(), index, "ensure is idempotent");
    attachment("ppnl-veth-a", 2).attach(ns.as_fd()).unwrap();

    let eth0 = run_ip(Some(&ns), &["-d", "addr", "show", "eth0"]);
    assert!(
        eth0.contains("mtu 1400") && eth0.contains("10.77.0.2/24"),
        "{eth0}"
    );
    assert!(
        eth0.contains("fd77::2/64 scope global nodad"),
        "usable at once: {eth0}"
    );
    let routes = run_ip(Some(&ns), &["route", "show", "default"]);
    assert!(
        routes.contains("default via 10.77.0.1 dev eth0"),
        "{routes}"
    );
    let routes6 = run_ip(Some(&ns), &["-6", "route", "show", "default"]);
    assert!(
        routes6.contains("default via fd77::1 dev eth0"),
        "{routes6}"
    );
    let host = run_ip(None, &["link", "show", "ppnl-veth-a"]);
    assert!(
        host.contains("master ppnl-br0") && host.contains("mtu 1400"),
        "{host}"
    );

    // Traffic both ways, v4 and v6.
    let in_ctr = listen_in(&ns, "10.77.0.2:8000");
    assert_eq!(
        exchange(None, "10.77.0.2:8000", &in_ctr, "hi").unwrap(),
        "hi|10.77.0.1"
    );
    let in_ctr6 = listen_in(&ns, "[fd77::2]:8000");
    assert_eq!(
        exchange(None, "[fd77::2]:8000", &in_ctr6, "v6").unwrap(),
        "v6|fd77::1"
    );
    let on_host = std::net::TcpListener::bind("10.77.0.1:9000").unwrap();
    assert_eq!(
        exchange(Some(&ns), "10.77.0.1:9000", &on_host, "up").unwrap(),
        "up|10.77.0.2"
    );

    // Teardown: the pair goes, then the unused bridge, then the namespace file.
    assert!(
        !Bridge::remove_if_unused("ppnl-br0").unwrap(),
        "a bridge in use stays"
    );
    assert!(detach("ppnl-veth-a").unwrap());
    assert!(!detach("ppnl-veth-a").unwrap(), "detach is idempotent");
    assert!(Bridge::remove_if_unused("ppnl-br0").unwrap());
    assert_eq!(link_names().unwrap(), ["lo"]);
    drop(ns);
    remove_netns(&ns_path).unwrap();
    assert_netns_gone(&ns_path);
    remove_netns(&ns_path).unwrap();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn failures_leave_nothing_behind() {
    let dir = fake_host();
    let ns_path = dir.path().join("netlink-net-b");
    let ns = create_netns(&ns_path).unwrap();
    assert!(
        matches!(create_netns(&ns_path), Err(NetError::Io { .. })),
        "no second pin on one file"
    );

    // No bridge yet.
    let err = attachment("ppnl-veth-b", 3).attach(ns.as_fd()).unwrap_err();
    assert!(
        matches!(err, NetError::NoSuchLink(ref n) if n == "ppnl-br0"),
        "{err}"
    );
    bridge().ensure().unwrap();
    // A link of the bridge's name that is no bridge is refused, and never deleted.
    let mut not_a_bridge = bridge();
    not_a_bridge.name = "ppnl-dummy".into();
    run_ip(
        None,
        &[
            "link",
            "add",
            "ppnl-dummy",
            "type",
            "veth",
            "peer",
            "name",
            "ppnl-dummy-p",
        ],
    );
    let err = not_a_bridge.ensure().unwrap_err();
    assert_eq!(
        err.to_string(),
        "interface \"ppnl-dummy\" exists and is not a bridge"
    );
    assert!(matches!(
        Bridge::remove_if_unused("ppnl-dummy"),
        Err(NetError::NotABridge(_))
    ));
    run_ip(None, &["link", "del", "ppnl-dummy"]);
    // A bad name, and an address the container side refuses (a v6 address on a v4 gateway
    // route is fine; a duplicate address is not: two identical entries).
    let mut bad = attachment("ppnl-veth-b", 3);
    bad.host_ifname = "a-name-longer-than-15".into();
    assert!(matches!(
        bad.attach(ns.as_fd()),
        Err(NetError::InvalidLinkName(_))
    ));
    let mut twice = attachment("ppnl-veth-b", 3);
    twice.addresses.push(twice.addresses[0]);
    let err = twice.attach(ns.as_fd()).unwrap_err();
    assert_eq!(err.errno(), Some(17), "{err}");
    assert!(
        err.to_string().contains("add address 10.77.0.3/24 to eth0"),
        "{err}"
    );
    assert_eq!(
        run_ip(Some(&ns), &["-o", "link"]).lines().count(),
        1,
        "only lo in the namespace"
    );
    let mut names = link_names().unwrap();
    names.sort();
    assert_eq!(names, ["lo", "ppnl-br0"], "the failed veth is gone");

    // A host name already in use: the first container keeps its link.
    attachment("ppnl-veth-b", 3).attach(ns.as_fd()).unwrap();
    let ns2_path = dir.path().join("netlink-net-c");
    let ns2 = create_netns(&ns2_path).unwrap();
    let err = attachment("ppnl-veth-b", 4)
        .attach(ns2.as_fd())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("create veth ppnl-veth-b on bridge ppnl-br0"),
        "{err}"
    );
    assert!(run_ip(Some(&ns), &["addr", "show", "eth0"]).contains("10.77.0.3/24"));

    assert!(detach("ppnl-veth-b").unwrap());
    assert!(Bridge::remove_if_unused("ppnl-br0").unwrap());
    assert_eq!(link_names().unwrap(), ["lo"]);
    drop((ns, ns2));
    for p in [&ns_path, &ns2_path] {
        remove_netns(p).unwrap();
        assert_netns_gone(p);
    }
}

#[test]
#[ignore = "root: cargo xtask test"]
fn unpinning_the_namespace_deletes_the_pair_with_it() {
    let dir = fake_host();
    let ns_path = dir.path().join("netlink-net-d");
    let ns = create_netns(&ns_path).unwrap();
    bridge().ensure().unwrap();
    attachment("ppnl-veth-d", 5).attach(ns.as_fd()).unwrap();
    drop(ns);
    remove_netns(&ns_path).unwrap();
    assert_netns_gone(&ns_path);
    // The kernel deletes the namespace's links in the background: wait, bounded.
    let start = std::time::Instant::now();
    while link_names().unwrap().iter().any(|l| l == "ppnl-veth-d") {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "the veth outlived its netns"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(Bridge::remove_if_unused("ppnl-br0").unwrap());
    assert_eq!(link_names().unwrap(), ["lo"]);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn twenty_namespaces_attached_in_parallel_reach_each_other() {
    let dir = fake_host();
    bridge().ensure().unwrap();
    let host_ns = peapod_net::open_netns(std::path::Path::new("/proc/thread-self/ns/net")).unwrap();
    let namespaces: Vec<_> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..20u8)
            .map(|i| {
                let (dir, host_ns) = (&dir, &host_ns);
                scope.spawn(move || {
                    // Each worker acts from the fake host, as an engine's threads would.
                    peapod_net::in_netns(host_ns.as_fd(), || {
                        let ns = create_netns(&dir.path().join(format!("par-{i}"))).unwrap();
                        attachment(&format!("ppnl-par{i}"), 10 + i).attach(ns.as_fd())?;
                        Ok(ns)
                    })
                    .unwrap()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    // The first and the last talk over v4 and v6, through the bridge.
    let server = listen_in(&namespaces[19], "[fd77::29]:7000");
    assert_eq!(
        exchange(Some(&namespaces[0]), "[fd77::29]:7000", &server, "v6").unwrap(),
        "v6|fd77::10"
    );
    let server = listen_in(&namespaces[19], "10.77.0.29:7000");
    assert_eq!(
        exchange(Some(&namespaces[0]), "10.77.0.29:7000", &server, "v4").unwrap(),
        "v4|10.77.0.10"
    );
    let mut names = link_names().unwrap();
    names.retain(|n| n.starts_with("ppnl-par"));
    assert_eq!(names.len(), 20);
    for (i, ns) in namespaces.into_iter().enumerate() {
        assert!(detach(&format!("ppnl-par{i}")).unwrap());
        drop(ns);
        let path = dir.path().join(format!("par-{i}"));
        remove_netns(&path).unwrap();
        assert_netns_gone(&path);
    }
    assert!(Bridge::remove_if_unused("ppnl-br0").unwrap());
    assert_eq!(link_names().unwrap(), ["lo"]);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_live_namespace_connects_to_a_second_network_and_disconnects() {
    let dir = fake_host();
    let ns_path = dir.path().join("netlink-net-e");
    let ns = create_netns(&ns_path).unwrap();
    bridge().ensure().unwrap();
    let second = Bridge {
        name: "ppnl-br1".into(),
        addresses: vec!["10.75.0.1/24".parse().unwrap()],
        mtu: None,
    };
    second.ensure().unwrap();
    attachment("ppnl-veth-e", 6).attach(ns.as_fd()).unwrap();
    let eth1 = Attachment {
        bridge: "ppnl-br1".into(),
        host_ifname: "ppnl-veth-e1".into(),
        container_ifname: "eth1".into(),
        addresses: vec!["10.75.0.6/24".parse().unwrap()],
        gateways: vec![],
        mtu: None,
    };
    eth1.attach(ns.as_fd()).unwrap();
    let server = std::net::TcpListener::bind("10.75.0.1:7100").unwrap();
    assert_eq!(
        exchange(Some(&ns), "10.75.0.1:7100", &server, "two").unwrap(),
        "two|10.75.0.6"
    );
    let routes = run_ip(Some(&ns), &["route", "show", "default"]);
    assert!(
        routes.contains("via 10.77.0.1 dev eth0") && !routes.contains("eth1"),
        "{routes}"
    );

    assert!(detach("ppnl-veth-e1").unwrap());
    let links = run_ip(Some(&ns), &["-o", "link"]);
    assert!(!links.contains("eth1") && links.contains("eth0"), "{links}");
    assert!(Bridge::remove_if_unused("ppnl-br1").unwrap());
    assert!(detach("ppnl-veth-e").unwrap());
    assert!(Bridge::remove_if_unused("ppnl-br0").unwrap());
    assert_eq!(link_names().unwrap(), ["lo"]);
    drop(ns);
    remove_netns(&ns_path).unwrap();
    assert_netns_gone(&ns_path);
}
