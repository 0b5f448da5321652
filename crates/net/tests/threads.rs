//! No call leaves a thread behind, so that a single-threaded caller may fork afterwards
//! (DESIGN.md). One test alone in its binary, so that no other test's threads are counted.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test setup should panic

mod common;

use std::os::fd::AsFd;

use peapod_net::{Attachment, Bridge, ContainerNetwork, ContainerPorts, Firewall};

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Waits (bounded) until the process has `want` threads: a joined thread's task can linger in
/// /proc for an instant after `pthread_join` returns (seen in a slow TCG guest).
fn assert_threads_settle(want: usize) {
    let start = std::time::Instant::now();
    while threads() != want {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "{} threads, {want} expected: a thread outlived a call",
            threads()
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

#[test]
#[ignore = "root: cargo xtask test"]
fn no_call_leaves_a_thread_behind() {
    let dir = common::fake_host();
    let before = threads();
    let (fw, rules) = common::bridge_network("ppth-br0", "10.74.0.0/24");
    let ctr = ContainerNetwork {
        netns_path: dir.path().join("threads"),
        attachments: vec![Attachment {
            bridge: "ppth-br0".into(),
            host_ifname: "ppth-veth".into(),
            container_ifname: "eth0".into(),
            addresses: vec!["10.74.0.2/24".parse().unwrap()],
            gateways: vec!["10.74.0.1".parse().unwrap()],
            mtu: None,
        }],
        ports: ContainerPorts {
            id: "thtest".into(),
            ipv4: Some("10.74.0.2".parse().unwrap()),
            ipv6: None,
            ports: vec!["8080:80".parse().unwrap()],
        },
    };
    let ns = ctr.setup(&fw).unwrap();
    peapod_net::in_netns(ns.as_fd(), || Ok(())).unwrap();
    assert_threads_settle(before);
    drop(ns);
    ctr.teardown(&fw).unwrap();
    assert!(
        ctr.wait_links_gone(std::time::Duration::from_secs(10))
            .unwrap()
    );
    fw.teardown_network(&rules).unwrap();
    assert!(Bridge::remove_if_unused("ppth-br0").unwrap());
    assert_threads_settle(before);
    assert_eq!(peapod_net::link_names().unwrap(), ["lo"]);
}
