//! NAT and published ports through nftables, inside a fake host: from the host's addresses and
//! 127.0.0.1, hairpin, udp, masquerade out, internal networks, ports in use, clean removal.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test setup should panic

mod common;

use std::net::UdpSocket;
use std::os::fd::{AsFd, OwnedFd};
use std::process::Command;
use std::time::Duration;

use common::NsDir;
use common::{assert_netns_gone, exchange, fake_host, listen_in, run_ip};
use peapod_net::{
    Attachment, Bridge, ContainerPorts, Firewall, NetError, NetworkRules, Nftables, Subnet,
    create_netns, detach, link_names, remove_netns,
};

/// The fake host: a bridge `ppfw-br0` (10.78.0.0/24, fd78::/64), an extra host address
/// 192.0.2.10 on lo, and an "outside" namespace behind bridge `ppfw-wan` (198.51.100.0/24,
/// 2001:db8:ff::/64)
/// that has no route back to the containers.
struct Host {
    dir: NsDir,
    fw: Nftables,
    net: NetworkRules,
    outside: OwnedFd,
}

const WAN: &str = "ppfw-wan";

impl Host {
    fn new(internal: bool) -> Self {
        let dir = fake_host();
        run_ip(None, &["addr", "add", "192.0.2.10/32", "dev", "lo"]);
        let subnets: Vec<Subnet> = ["10.78.0.0/24", "fd78::/64"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        Bridge {
            name: "ppfw-br0".into(),
            addresses: subnets.iter().map(Subnet::gateway_net).collect(),
            mtu: None,
        }
        .ensure()
        .unwrap();
        Bridge {
            name: WAN.into(),
            addresses: vec![
                "198.51.100.1/24".parse().unwrap(),
                "2001:db8:ff::1/64".parse().unwrap(),
            ],
            mtu: None,
        }
        .ensure()
        .unwrap();
        let outside = create_netns(&dir.path().join("fw-outside")).unwrap();
        Attachment {
            bridge: WAN.into(),
            host_ifname: "ppfw-out".into(),
            container_ifname: "eth0".into(),
            addresses: vec![
                "198.51.100.2/24".parse().unwrap(),
                "2001:db8:ff::2/64".parse().unwrap(),
            ],
            gateways: vec![],
            mtu: None,
        }
        .attach(outside.as_fd())
        .unwrap();
        let net = NetworkRules {
            bridge: "ppfw-br0".into(),
            subnets: subnets.iter().map(Subnet::net).collect(),
            internal,
        };
        let fw = Nftables::default();
        fw.setup_network(&net).unwrap();
        Self {
            dir,
            fw,
            net,
            outside,
        }
    }

    /// A container `name` at 10.78.0.LAST / fd78::LAST.
    fn container(&self, name: &str, last: u8) -> OwnedFd {
        let ns = create_netns(&self.dir.path().join(name)).unwrap();
        Attachment {
            bridge: "ppfw-br0".into(),
            host_ifname: format!("ppfw-{name}"),
            container_ifname: "eth0".into(),
            addresses: vec![
                format!("10.78.0.{last}/24").parse().unwrap(),
                format!("fd78::{last}/64").parse().unwrap(),
            ],
            gateways: vec!["10.78.0.1".parse().unwrap(), "fd78::1".parse().unwrap()],
            mtu: None,
        }
        .attach(ns.as_fd())
        .unwrap();
        ns
    }

    fn ports(id: &str, last: u8, specs: &[&str]) -> ContainerPorts {
        ContainerPorts {
            id: id.into(),
            ipv4: Some(format!("10.78.0.{last}").parse().unwrap()),
            ipv6: Some(format!("fd78::{last}").parse().unwrap()),
            ports: specs.iter().map(|s| s.parse().unwrap()).collect(),
        }
    }

    /// Tears everything down and asserts that nothing of ours is left.
    fn finish(self, containers: Vec<(&str, OwnedFd)>) {
        for (name, ns) in containers {
            assert!(detach(&format!("ppfw-{name}")).unwrap());
            drop(ns);
            let path = self.dir.path().join(name);
            remove_netns(&path).unwrap();
            assert_netns_gone(&path);
        }
        self.fw.teardown_network(&self.net).unwrap();
        assert_eq!(self.fw.list_table().unwrap(), None, "our table is gone");
        assert!(detach("ppfw-out").unwrap());
        assert!(Bridge::remove_if_unused("ppfw-br0").unwrap());
        assert!(Bridge::remove_if_unused(WAN).unwrap());
        assert_eq!(link_names().unwrap(), ["lo"]);
        drop(self.outside);
        remove_netns(&self.dir.path().join("fw-outside")).unwrap();
    }
}

fn nft_list_ruleset() -> String {
    let out = Command::new("nft")
        .args(["list", "ruleset"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
#[ignore = "root: cargo xtask test"]
fn published_ports_are_reached_from_host_addresses_loopback_and_hairpin() {
    let host = Host::new(false);
    let a = host.container("ctr-a", 2);
    let b = host.container("ctr-b", 3);
    host.fw
        .publish(&Host::ports(
            "fwtest-a",
            2,
            &["8080:80", "9000-9001:7000-7001"],
        ))
        .unwrap();
    let web = listen_in(&a, "[::]:80");
    // From the host: its own addresses and loopback (masqueraded to the gateway); from
    // another container, and from the container itself (hairpin): DNAT-ed traffic from the
    // subnet is masqueraded, so both are seen as the gateway.
    for (from, to, seen) in [
        (None, "192.0.2.10:8080", "::ffff:192.0.2.10"),
        (None, "10.78.0.1:8080", "::ffff:10.78.0.1"),
        (None, "127.0.0.1:8080", "::ffff:10.78.0.1"),
        (None, "[fd78::1]:8080", "fd78::1"),
        (Some(&b), "192.0.2.10:8080", "::ffff:10.78.0.1"),
        (Some(&a), "192.0.2.10:8080", "::ffff:10.78.0.1"),
    ] {
        assert_eq!(
            exchange(from, to, &web, "hi").unwrap(),
            format!("hi|{seen}"),
            "{to}"
        );
    }
    // A range.
    let high = listen_in(&a, "10.78.0.2:7001");
    assert_eq!(
        exchange(None, "127.0.0.1:9001", &high, "7").unwrap(),
        "7|10.78.0.1"
    );

    // Removing a's ports removes exactly them.
    host.fw
        .publish(&Host::ports("fwtest-b", 3, &["8081:80"]))
        .unwrap();
    host.fw
        .unpublish(&Host::ports(
            "fwtest-a",
            2,
            &["8080:80", "9000-9001:7000-7001"],
        ))
        .unwrap();
    let table = host.fw.list_table().unwrap().unwrap();
    assert!(
        !table.contains("fwtest-a") && table.contains("tcp . 8081 : jump c-fwtest-b"),
        "{table}"
    );
    assert!(exchange(None, "127.0.0.1:8080", &web, "gone").is_err());
    host.fw
        .unpublish(&Host::ports("fwtest-b", 3, &["8081:80"]))
        .unwrap();
    drop((web, high));
    host.finish(vec![("ctr-a", a), ("ctr-b", b)]);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn udp_ports_are_published() {
    let host = Host::new(false);
    let a = host.container("ctr-u", 4);
    host.fw
        .publish(&Host::ports("fwtest-u", 4, &["5353:53/udp"]))
        .unwrap();
    let dns =
        peapod_net::in_netns(a.as_fd(), || Ok(UdpSocket::bind("10.78.0.4:53").unwrap())).unwrap();
    dns.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.send_to(b"query", "127.0.0.1:5353").unwrap();
    let mut buf = [0; 16];
    let (n, from) = dns.recv_from(&mut buf).unwrap();
    assert_eq!(
        (&buf[..n], from.ip().to_string().as_str()),
        (&b"query"[..], "10.78.0.1")
    );
    host.fw
        .unpublish(&Host::ports("fwtest-u", 4, &["5353:53/udp"]))
        .unwrap();
    drop(dns);
    host.finish(vec![("ctr-u", a)]);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn outbound_traffic_is_masqueraded_and_an_internal_network_has_no_way_out() {
    for internal in [false, true] {
        std::thread::spawn(move || {
            let host = Host::new(internal);
            let a = host.container("ctr-m", 5);
            for (server, seen) in [
                ("198.51.100.2:7777", "198.51.100.1"),
                ("[2001:db8:ff::2]:7777", "2001:db8:ff::1"),
            ] {
                let listener = listen_in(&host.outside, server);
                let got = exchange(Some(&a), server, &listener, "out");
                if internal {
                    assert!(
                        got.is_err(),
                        "an internal network reached {server}: {got:?}"
                    );
                } else {
                    assert_eq!(
                        got.unwrap(),
                        format!("out|{seen}"),
                        "seen as the host's address"
                    );
                }
            }
            host.finish(vec![("ctr-m", a)]);
        })
        .join()
        .unwrap();
    }
}

#[test]
#[ignore = "root: cargo xtask test"]
fn ports_in_use_are_refused_before_anything_changes() {
    // Someone else's table must survive everything we do.
    let host = Host::new(false);
    let other = "table inet pptest_other {\n\tchain c {\n\t\ttcp dport 1 accept\n\t}\n}\n";
    let mut nft = Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut nft.stdin.take().unwrap(), other.as_bytes()).unwrap();
    assert!(nft.wait().unwrap().success());
    let a = host.container("ctr-p", 6);
    host.fw
        .publish(&Host::ports("fwtest-p", 6, &["8080:80"]))
        .unwrap();
    let before = nft_list_ruleset();

    let _listener = std::net::TcpListener::bind("0.0.0.0:8082").unwrap();
    for (specs, want) in [
        (
            &["8082:80"][..],
            "host port 8082/tcp on 0.0.0.0 is already in use (a process on the host is bound to it)",
        ),
        (
            &["8079-8080:80-81"][..],
            "host port 8080/tcp on 0.0.0.0 is already in use (published by container fwtest-p)",
        ),
    ] {
        let other = Host::ports("fwtest-q", 7, specs);
        assert_eq!(
            host.fw.check_ports(&other.ports).unwrap_err().to_string(),
            want
        );
        assert_eq!(host.fw.publish(&other).unwrap_err().to_string(), want);
    }
    let err = host
        .fw
        .publish(&Host::ports("fwtest-q", 7, &["203.0.113.9:8085:80"]))
        .unwrap_err();
    assert!(
        matches!(err, NetError::InvalidPort { .. })
            && err.to_string().contains("not an address of this host"),
        "{err}"
    );
    let err = host
        .fw
        .publish(&Host::ports("bad id!", 7, &["8086:80"]))
        .unwrap_err();
    assert!(err.to_string().contains("container id"), "{err}");
    assert_eq!(nft_list_ruleset(), before, "nothing changed");

    host.fw
        .unpublish(&Host::ports("fwtest-p", 6, &["8080:80"]))
        .unwrap();
    host.finish(vec![("ctr-p", a)]);
    let after = nft_list_ruleset();
    assert!(
        after.contains("table inet pptest_other") && after.contains("tcp dport 1 accept"),
        "{after}"
    );
    assert!(!after.contains("peapod"), "{after}");
}

#[test]
#[ignore = "root: cargo xtask test"]
fn without_a_network_publishing_fails_clearly_and_teardown_is_idempotent() {
    let _dir = fake_host();
    let fw = Nftables::default();
    let ports = Host::ports("fwtest-n", 8, &["8080:80"]);
    let err = fw.publish(&ports).unwrap_err();
    assert!(
        matches!(err, NetError::Nft { .. })
            && err
                .to_string()
                .starts_with("nftables: cannot publish the ports of container fwtest-n: "),
        "{err}"
    );
    assert_eq!(fw.list_table().unwrap(), None, "nothing made");
    fw.unpublish(&ports).unwrap();
    let net = NetworkRules {
        bridge: "ppfw-none".into(),
        subnets: vec![],
        internal: true,
    };
    fw.teardown_network(&net).unwrap();
    assert_eq!(fw.list_table().unwrap(), None, "nothing left");
    let missing = Nftables::with_program("/nonexistent/nft");
    let err = missing.publish(&ports).unwrap_err().to_string();
    assert!(err.contains("cannot run /nonexistent/nft"), "{err}");
}

#[test]
#[ignore = "root: cargo xtask test"]
fn containers_cannot_reach_the_hosts_loopback_services() {
    // route_localnet on the bridge (for publishing on 127.0.0.1) would let a container that
    // routes 127.0.0.0/8 to its gateway reach the host's loopback-only services.
    let host = Host::new(false);
    let a = host.container("ctr-l", 9);
    peapod_net::in_netns(a.as_fd(), || {
        std::fs::write("/proc/sys/net/ipv4/conf/eth0/route_localnet", "1").unwrap();
        Ok(())
    })
    .unwrap();
    for args in [
        &["rule", "del", "pref", "0", "lookup", "local"][..],
        &["rule", "add", "pref", "100", "lookup", "local"],
        &[
            "rule",
            "add",
            "pref",
            "50",
            "to",
            "127.0.0.99",
            "lookup",
            "main",
        ],
        &[
            "route",
            "add",
            "127.0.0.99/32",
            "via",
            "10.78.0.1",
            "dev",
            "eth0",
        ],
    ] {
        run_ip(Some(&a), args);
    }
    let secret = std::net::TcpListener::bind("127.0.0.99:7300").unwrap();
    // Without our rules the hole is there (so this test can fail) ...
    host.fw.teardown_network(&host.net).unwrap();
    assert_eq!(
        exchange(Some(&a), "127.0.0.99:7300", &secret, "in").unwrap(),
        "in|10.78.0.9"
    );
    // ... and with them it is closed.
    host.fw.setup_network(&host.net).unwrap();
    let got = exchange(Some(&a), "127.0.0.99:7300", &secret, "in");
    assert!(
        got.is_err(),
        "a container reached the host's loopback: {got:?}"
    );
    drop(secret);
    host.finish(vec![("ctr-l", a)]);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_running_containers_ports_change_without_touching_the_others() {
    let host = Host::new(false);
    let a = host.container("ctr-c", 10);
    let b = host.container("ctr-d", 11);
    host.fw
        .publish(&Host::ports("fwtest-c", 10, &["8080:80"]))
        .unwrap();
    host.fw
        .publish(&Host::ports("fwtest-d", 11, &["8070:80"]))
        .unwrap();
    let web = listen_in(&a, "[::]:80");
    let added: Vec<_> = ["8090-8091:80-81".parse().unwrap()].to_vec();
    host.fw
        .change_ports(
            &Host::ports("fwtest-c", 10, &["8080:80", "8090-8091:80-81"]),
            &added,
            &[],
        )
        .unwrap();
    for to in ["127.0.0.1:8080", "127.0.0.1:8090", "192.0.2.10:8090"] {
        assert!(exchange(None, to, &web, "x").is_ok(), "{to}");
    }

    // A port another container publishes: refused, nothing changed.
    let before = nft_list_ruleset();
    let err = host
        .fw
        .change_ports(
            &Host::ports("fwtest-c", 10, &["8080:80", "8090-8091:80-81", "8070:80"]),
            &["8070:80".parse().unwrap()],
            &[],
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "host port 8070/tcp on 0.0.0.0 is already in use (published by container fwtest-d)"
    );
    // Removing a port of another container fails too: the batch is all or nothing.
    assert!(
        host.fw
            .change_ports(
                &Host::ports("fwtest-c", 10, &["8080:80", "8090-8091:80-81"]),
                &[],
                &["8070:80".parse().unwrap()],
            )
            .is_err()
    );
    assert_eq!(nft_list_ruleset(), before, "nothing changed");

    // Removing 8080 leaves 8090 and the other container's port.
    host.fw
        .change_ports(
            &Host::ports("fwtest-c", 10, &["8090-8091:80-81"]),
            &[],
            &["8080:80".parse().unwrap()],
        )
        .unwrap();
    assert!(exchange(None, "127.0.0.1:8080", &web, "gone").is_err());
    assert!(exchange(None, "127.0.0.1:8090", &web, "kept").is_ok());
    let table = host.fw.list_table().unwrap().unwrap();
    assert!(
        table.contains("tcp . 8070 : jump c-fwtest-d") && !table.contains("tcp . 8080 "),
        "{table}"
    );
    // Removing the last one removes the container's chain as well.
    host.fw
        .change_ports(&Host::ports("fwtest-c", 10, &[]), &[], &added)
        .unwrap();
    let table = host.fw.list_table().unwrap().unwrap();
    assert!(!table.contains("fwtest-c"), "{table}");
    host.fw
        .unpublish(&Host::ports("fwtest-d", 11, &["8070:80"]))
        .unwrap();
    drop(web);
    host.finish(vec![("ctr-c", a), ("ctr-d", b)]);
}
