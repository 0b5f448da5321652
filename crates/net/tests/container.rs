//! One container's whole network as a transaction: set up, torn down, and rolled back on any
//! failure with nothing left, inside a fake host.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test setup should panic

mod common;

use std::time::Duration;

use common::{assert_netns_gone, exchange, fake_host, listen_in};
use peapod_net::{
    Attachment, Bridge, ContainerNetwork, ContainerPorts, Firewall, NetError, Nftables, Subnet,
    link_names,
};

fn network(dir: &std::path::Path, name: &str, last: u8, ports: &[&str]) -> ContainerNetwork {
    let subnet: Subnet = "10.76.0.0/24".parse().unwrap();
    let ip = format!("10.76.0.{last}").parse().unwrap();
    ContainerNetwork {
        netns_path: dir.join(name),
        attachments: vec![Attachment {
            bridge: "ppct-br0".into(),
            host_ifname: format!("ppct-{name}"),
            container_ifname: "eth0".into(),
            addresses: vec![subnet.with_prefix(ip)],
            gateways: vec![subnet.gateway()],
            mtu: None,
        }],
        ports: ContainerPorts {
            id: format!("cttest-{name}"),
            ipv4: Some(format!("10.76.0.{last}").parse().unwrap()),
            ipv6: None,
            ports: ports.iter().map(|p| p.parse().unwrap()).collect(),
        },
    }
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_container_network_is_a_transaction() {
    let dir = fake_host();
    let (fw, rules) = common::bridge_network("ppct-br0", "10.76.0.0/24");

    let a = network(dir.path(), "a", 2, &["8080:80"]);
    let ns = a.setup(&fw).unwrap();
    let web = listen_in(&ns, "10.76.0.2:80");
    assert_eq!(
        exchange(None, "127.0.0.1:8080", &web, "hi").unwrap(),
        "hi|10.76.0.1"
    );
    let table = fw.list_table().unwrap().unwrap();

    // Failures at each step leave nothing of b behind, and a untouched.
    let mut two_networks = network(dir.path(), "b", 3, &[]);
    let mut second = two_networks.attachments[0].clone();
    second.bridge = "ppct-missing".into();
    second.host_ifname = "ppct-b2".into();
    two_networks.attachments.push(second);
    let conflicting = network(dir.path(), "b", 3, &["8081:80", "8080:80"]);
    let mut bad_publish = network(dir.path(), "b", 3, &["8082:80"]);
    bad_publish.ports.id = "no spaces allowed".into();
    for (b, want) in [
        (two_networks, "no network interface named \"ppct-missing\""),
        (
            conflicting,
            "host port 8080/tcp on 0.0.0.0 is already in use (published by container cttest-a)",
        ),
        (bad_publish, "invalid container id \"no spaces allowed\""),
    ] {
        let err = b.setup(&fw).unwrap_err();
        assert!(err.to_string().starts_with(want), "{err}");
        assert_netns_gone(&b.netns_path);
        let links = link_names().unwrap();
        assert!(
            !links.iter().any(|l| l == "ppct-b" || l == "ppct-b2"),
            "{links:?}"
        );
        assert_eq!(fw.list_table().unwrap().unwrap(), table, "rules unchanged");
    }
    assert_eq!(
        exchange(None, "127.0.0.1:8080", &web, "still").unwrap(),
        "still|10.76.0.1"
    );

    // Teardown: the rules and the namespace at once, the veth with the namespace.
    drop((ns, web));
    a.teardown(&fw).unwrap();
    assert_netns_gone(&a.netns_path);
    assert!(
        a.wait_links_gone(Duration::from_secs(10)).unwrap(),
        "the veth went with the netns"
    );
    assert!(!fw.list_table().unwrap().unwrap().contains("cttest-a"));
    a.teardown(&fw).unwrap();
    fw.teardown_network(&rules).unwrap();
    assert_eq!(fw.list_table().unwrap(), None);
    assert!(Bridge::remove_if_unused("ppct-br0").unwrap());
    assert_eq!(link_names().unwrap(), ["lo"]);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn teardown_reports_every_failure() {
    let dir = fake_host();
    let fw = Nftables::with_program("/nonexistent/nft");
    let a = network(dir.path(), "t", 4, &["8090:80"]);
    std::fs::create_dir(&a.netns_path).unwrap();
    std::fs::write(
        a.netns_path.join("keep"),
        "a file in a directory: cannot be unlinked",
    )
    .unwrap();
    match a.teardown(&fw).unwrap_err() {
        NetError::Teardown(errors) => {
            assert_eq!(errors.len(), 2, "{errors:?}");
            assert!(
                errors[0]
                    .to_string()
                    .contains("cannot run /nonexistent/nft"),
                "{}",
                errors[0]
            );
            assert!(
                errors[1]
                    .to_string()
                    .contains("remove network namespace file"),
                "{}",
                errors[1]
            );
        }
        other => panic!("{other}"),
    }
    std::fs::remove_dir_all(&a.netns_path).unwrap();
}
