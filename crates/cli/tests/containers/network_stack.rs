//! Dual-stack networks, `network connect`/`disconnect` on a running container, and
//! `network prune`, inside a fake host.

use crate::fake_host::ask_until;
use crate::support::words;
use crate::support::{Engine, IMAGE};

/// `inspect --format TEMPLATE NAME` inside the fake host, trimmed.
fn inspect(e: &Engine, name: &str, template: &str) -> String {
    e.ok(&["inspect", "--format", template, name])
        .trim()
        .to_owned()
}

/// `network inspect --format TEMPLATE NAME` inside the fake host, trimmed.
fn net_inspect(e: &Engine, name: &str, template: &str) -> String {
    e.ok(&["network", "inspect", "--format", template, name])
        .trim()
        .to_owned()
}

const SERVE: &str = "while true; do echo hello-from-srv | nc -l -p 8080; done";

#[test]
#[ignore = "root: cargo xtask test"]
fn a_dual_stack_network_gives_both_families_and_carries_ipv6_tcp() {
    let e = Engine::new();
    e.okw("network create --ipv6 --subnet 10.93.0.0/24 --subnet fd93::/64 -o mtu=1400 dual");
    let configs = "{{range .IPAM.Config}}{{.Subnet}}/{{.Gateway}} {{end}}";
    assert_eq!(
        net_inspect(
            &e,
            "dual",
            &format!("{{{{.EnableIPv6}}}} {configs}{{{{.Options.mtu}}}}")
        ),
        "true 10.93.0.0/24/10.93.0.1 fd93::/64/fd93::1 1400"
    );
    let mut run = words("run -d --name srv --network dual --ip6 fd93::99 -p 8086:8080");
    run.extend([IMAGE, "sh", "-c", SERVE]);
    e.ok(&run);
    let settings = "{{.NetworkSettings.IPAddress}} {{.NetworkSettings.GlobalIPv6Address}}/\
                    {{.NetworkSettings.GlobalIPv6PrefixLen}} {{.NetworkSettings.IPv6Gateway}}";
    assert_eq!(
        inspect(&e, "srv", settings),
        "10.93.0.2 fd93::99/64 fd93::1"
    );
    // Both families on eth0, both default routes, the network's MTU.
    let probe =
        "ip -o addr show eth0; ip route; ip -6 route; ip -o link show eth0 | grep -o 'mtu [0-9]*'";
    let inside = e.ok(&["exec", "srv", "sh", "-c", probe]);
    for want in [
        "inet 10.93.0.2/24",
        "inet6 fd93::99/64",
        "default via 10.93.0.1 dev eth0",
        "default via fd93::1 dev eth0",
        "mtu 1400\n",
    ] {
        assert!(inside.contains(want), "{want}: {inside}");
    }
    // IPv6 TCP between two containers; names resolve to both addresses; a published port
    // on the fake host's IPv6 address and on 127.0.0.1.
    ask_until(&e, "dual", "fd93::99", "8080", "hello-from-srv\n");
    let hosts = e.okw("run --rm --network dual IMAGE cat /etc/hosts");
    assert!(
        hosts.contains("fd93::99\tsrv") && hosts.contains("10.93.0.2\tsrv"),
        "{hosts}"
    );
    ask_until(&e, "host", "fd93::1", "8086", "hello-from-srv\n");
    ask_until(&e, "host", "127.0.0.1", "8086", "hello-from-srv\n");

    // An address outside the subnet, of a family the network lacks, or taken: refused,
    // nothing changed.
    let before = e.state();
    for (flags, needle) in [
        ("--ip6 fd94::5", "outside the subnet"),
        ("--ip6 fd93::99", "already in use"),
        ("--ip6 10.93.0.9", "not an ipv6 address"),
        ("--ip fd93::1", "gateway"),
    ] {
        e.failsw(
            &format!("run --rm --network dual {flags} IMAGE true"),
            needle,
        );
    }
    e.okw("network create v4only");
    let with_v4only = e.state();
    let line = "run --rm --network v4only --ip6 fd93::5 IMAGE true";
    e.failsw(line, "no subnet of its family");
    assert_eq!(e.state(), with_v4only, "nothing changed");
    e.okw("network rm v4only");
    for (line, needle) in [
        ("network create --subnet fd95::/64 nov6", "needs --ipv6"),
        (
            "network create --ipv6 --subnet fd93:0:0:0:1::/80 over6",
            "overlap",
        ),
        (
            "network create --ipv6 --subnet fd96::/64 --subnet fd97::/64 two6",
            "one subnet per address family",
        ),
        (
            "network create --gateway fd96::1 gw6",
            "no --subnet of its address family",
        ),
        ("network create -o mtu=9 tiny", "mtu"),
        ("network create -o color=blue odd", "only mtu"),
    ] {
        e.failsw(line, needle);
    }
    assert_eq!(e.state(), before, "nothing changed");
    // --ipv6 alone picks both subnets.
    e.okw("network create --ipv6 auto6");
    let auto = net_inspect(&e, "auto6", configs);
    assert!(
        auto.starts_with("10.") && auto.contains(" fd90:0:0:"),
        "{auto}"
    );
    e.okw("network rm auto6");

    e.okw("rm -f srv");
    e.okw("network rm dual");
    e.wait_clean();
    let rules = e.host.ruleset();
    assert!(
        !rules.contains("fd93") && !rules.contains("8086"),
        "{rules}"
    );
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn connect_and_disconnect_a_running_container_and_prune_networks() {
    let e = Engine::new();
    e.okw("network create --subnet 10.94.0.0/24 front");
    e.okw("run -d --name ca --network bridge IMAGE sleep 1000");
    e.ok(&[
        "run",
        "-d",
        "--name",
        "cb",
        "--network",
        "front",
        IMAGE,
        "sh",
        "-c",
        SERVE,
    ]);
    let a_hosts = || e.okw("exec ca cat /etc/hosts");
    let b_hosts = || e.okw("exec cb cat /etc/hosts");
    assert!(!a_hosts().contains("\tcb"), "{}", a_hosts());

    e.okw("network connect --ip 10.94.0.50 front ca");
    let links = e.okw("exec ca ip -o addr show eth1");
    assert!(links.contains("inet 10.94.0.50/24"), "{links}");
    assert!(a_hosts().contains("\tcb\n"), "{}", a_hosts());
    assert!(b_hosts().contains("10.94.0.50\tca\n"), "{}", b_hosts());
    // By name over the new network; the default route stays on the first one.
    assert_eq!(e.okw("exec ca nc -w 5 cb 8080"), "hello-from-srv\n");
    let route = e.okw("exec ca ip route");
    assert!(route.contains("default via 10.90.0.1 dev eth0"), "{route}");
    let each = "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}} {{end}}";
    let mut networks: Vec<String> = inspect(&e, "ca", each)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    networks.sort();
    let first = inspect(&e, "ca", "{{.NetworkSettings.IPAddress}}");
    assert_eq!(
        networks,
        ["front=10.94.0.50".to_owned(), format!("peapod={first}")]
    );
    let members = net_inspect(&e, "front", "{{range .Containers}}{{.Name}} {{end}}");
    let mut members: Vec<&str> = members.split_whitespace().collect();
    members.sort_unstable();
    assert_eq!(members, ["ca", "cb"]);

    // Refused, with nothing changed.
    let before = e.state();
    for (line, needle) in [
        ("network connect front ca", "already"),
        ("network connect nosuch ca", "nosuch"),
        ("network connect front nosuch", "no such container"),
        ("network disconnect peapod ca", "its --network"),
        ("network disconnect front cb", "its --network"),
        ("network rm front", "in use"),
    ] {
        e.failsw(line, needle);
    }
    e.okw("run -d --name cc --network bridge IMAGE sleep 1000");
    let with_cc = e.state();
    e.failsw("network connect --ip 10.94.0.50 front cc", "in use");
    e.failsw("network connect --ip 10.95.0.5 front cc", "outside");
    assert_eq!(e.state(), with_cc, "nothing changed");
    e.okw("rm -f cc");
    e.wait_state(&before);

    e.okw("network disconnect front ca");
    let links = e.okw("exec ca ip -o link");
    assert!(!links.contains("eth1"), "{links}");
    assert!(!a_hosts().contains("\tcb"), "{}", a_hosts());
    assert!(!b_hosts().contains("\tca"), "{}", b_hosts());

    // A stopped container connected now is on the network at its next start.
    e.okw("create --name cd --network bridge IMAGE sleep 1000");
    e.okw("network connect front cd");
    e.okw("start cd");
    assert_eq!(e.okw("exec cd nc -w 5 cb 8080"), "hello-from-srv\n");
    assert!(b_hosts().contains("\tcd\n"), "{}", b_hosts());
    // Removed, it leaves the hosts files of every network it was on.
    e.okw("rm -f cd");
    assert!(!b_hosts().contains("\tcd"), "{}", b_hosts());

    // Prune removes only networks nobody is on.
    e.okw("network create idle");
    assert_eq!(e.okw("network prune -f"), "Deleted Networks:\nidle\n");
    e.okw("rm -f ca cb");
    assert_eq!(e.okw("network prune -f"), "Deleted Networks:\nfront\n");
    assert_eq!(e.okw("network ls -q"), "peapod\n");
    e.wait_clean();
    assert!(
        !e.host.links().contains("pp-"),
        "bridge left: {}",
        e.host.links()
    );
    e.assert_clean();
}
