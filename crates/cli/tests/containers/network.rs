//! Bridge networks, inside a network namespace the test creates (a fake host holding the
//! bridge and the nft table): no traffic leaves this machine, and the fake host goes with
//! the test.

use std::process::{Command, Stdio};

use crate::fake_host::ask_until;
use crate::support::{Engine, IMAGE, text, words};

#[test]
#[ignore = "root: cargo xtask test"]
fn containers_on_the_default_bridge_talk_by_address_and_leave_nothing() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "bridge",
        IMAGE,
        "sh",
        "-c",
        "while true; do echo hello-from-srv | nc -l -p 8080; done",
    ]);
    let ip = e.inspect("srv", "{{.NetworkSettings.IPAddress}}");
    let ip = ip.trim();
    assert!(ip.starts_with("10.90."), "{ip}");
    // The server listens once its shell runs: retry the client, bounded.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let out = e.run(&[
            "run",
            "--rm",
            "--network",
            "bridge",
            IMAGE,
            "nc",
            ip,
            "8080",
        ]);
        if String::from_utf8_lossy(&out.stdout) == "hello-from-srv\n" {
            break;
        }
        assert!(
            std::time::Instant::now() < until,
            "no answer from {ip}: {}",
            text(&out)
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Its own name and address are in its /etc/hosts; its route goes through the bridge.
    let hosts = e.ok(&["exec", "srv", "cat", "/etc/hosts"]);
    assert!(
        hosts.contains(&format!("{ip}\t")) && hosts.contains(" srv\n"),
        "{hosts}"
    );
    let route = e.ok(&["exec", "srv", "ip", "route"]);
    assert!(
        route.starts_with("default via 10.90.0.1 dev eth0"),
        "{route}"
    );
    assert!(e.host.links().contains("peapod0"), "{}", e.host.links());
    e.ok(&["rm", "-f", "srv"]);
    // No veth, no pinned namespace, no lease: the next container gets the same address.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while e.host.links().lines().any(|l| l.starts_with("pp")) {
        assert!(
            std::time::Instant::now() < until,
            "veth left: {}",
            e.host.links()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let pinned: Vec<_> = std::fs::read_dir(e.runroot().join("netns"))
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(pinned.is_empty(), "{pinned:?}");
    let again = e.ok(&[
        "run",
        "--rm",
        "--network",
        "bridge",
        IMAGE,
        "sh",
        "-c",
        "ip -o -4 addr show eth0",
    ]);
    assert!(again.contains(&format!("{ip}/16")), "{again}");
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn parallel_containers_get_distinct_addresses_and_networks_refuse_bad_input() {
    let e = Engine::new();
    let children: Vec<_> = (0..50)
        .map(|i| {
            let name = format!("n{i}");
            e.cmd(&[
                "run",
                "-d",
                "--name",
                &name,
                "--network",
                "bridge",
                IMAGE,
                "sleep",
                "1000",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    let ips = e.ok(&["ps", "--format", "{{.Names}}"]);
    let mut addresses: Vec<String> = ips
        .lines()
        .map(|n| {
            e.ok(&["inspect", "--format", "{{.NetworkSettings.IPAddress}}", n])
                .trim()
                .to_owned()
        })
        .collect();
    assert_eq!(addresses.len(), 50);
    addresses.sort();
    addresses.dedup();
    assert_eq!(addresses.len(), 50, "duplicate addresses: {addresses:?}");
    // A user network: its own subnet; overlapping or malformed subnets are refused.
    e.ok(&["network", "create", "--subnet", "10.77.0.0/24", "backend"]);
    let out = e.ok(&[
        "run",
        "--rm",
        "--network",
        "backend",
        IMAGE,
        "sh",
        "-c",
        "ip -o -4 addr show eth0",
    ]);
    assert!(out.contains("10.77.0."), "{out}");
    let taken = e.inspect("n0", "{{.NetworkSettings.IPAddress}}");
    let before = e.state();
    for (line, needle) in [
        (
            format!("run --rm --network bridge --ip {} IMAGE true", taken.trim()),
            "already in use",
        ),
        (
            "run --rm --network bridge --ip 10.91.0.9 IMAGE true".into(),
            "outside the subnet",
        ),
        (
            "run --rm --network bridge --ip 10.90.0.1 IMAGE true".into(),
            "gateway",
        ),
        (
            "run --rm --network bridge --ip 10.90.0.300 IMAGE true".into(),
            "--ip",
        ),
        (
            "run --rm --network bridge -p 8080:65536 IMAGE true".into(),
            "out of range",
        ),
        (
            "network create --subnet 10.90.128.0/17 inside-default".into(),
            "overlap",
        ),
        (
            "network create --subnet 10.77.0.0/33 badprefix".into(),
            "10.77.0.0/33",
        ),
        (
            "network create --subnet 10.77.0.1/24 hostbits".into(),
            "host bits",
        ),
        ("network rm nosuchnet".into(), "nosuchnet"),
    ] {
        e.failsw(&line, needle);
    }
    assert_eq!(e.state(), before, "nothing changed");
    for (args, needle) in [
        (
            &["network", "create", "--subnet", "10.77.0.128/25", "overlap"][..],
            "overlap",
        ),
        (
            &["network", "create", "--subnet", "10.999.0.0/24", "bad"][..],
            "10.999.0.0/24",
        ),
        (
            &["network", "create", "--subnet", "10.78.0.0/24", "backend"][..],
            "backend",
        ),
        (
            &["run", "--rm", "--network", "nosuchnet", IMAGE, "true"][..],
            "nosuchnet",
        ),
        (&["network", "rm", "peapod"][..], "default"),
    ] {
        let out = e.run(args);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .to_lowercase()
                .contains(needle),
            "{args:?}: {}",
            text(&out)
        );
    }
    assert_eq!(
        e.ok(&["network", "ls", "-q"]),
        "backend\npeapod\n",
        "nothing made"
    );
    e.ok(&[
        "create",
        "--name",
        "holder",
        "--network",
        "backend",
        IMAGE,
        "true",
    ]);
    let before = e.state();
    e.failsw("network rm backend", "in use");
    assert_eq!(e.state(), before, "nothing changed");
    e.ok(&["rm", "holder"]);
    e.ok(&["network", "rm", "backend"]);
    let names: Vec<String> = (0..50).map(|i| format!("n{i}")).collect();
    let mut rm = vec!["rm", "-f"];
    rm.extend(names.iter().map(String::as_str));
    e.ok(&rm);
    e.assert_clean();
    let pinned: Vec<_> = std::fs::read_dir(e.runroot().join("netns"))
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(pinned.is_empty(), "{pinned:?}");
}

#[test]
#[ignore = "root: cargo xtask test"]
fn published_ports_names_and_aliases_resolve_and_a_port_in_use_is_refused() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "bridge",
        "-p",
        "8081:8080",
        "--network-alias",
        "www",
        IMAGE,
        "sh",
        "-c",
        "while true; do echo hello-published | nc -l -p 8080; done",
    ]);
    e.ok(&[
        "run",
        "-d",
        "--name",
        "db",
        "--network",
        "bridge",
        "--add-host",
        "pea.example:192.0.2.9",
        "--dns",
        "192.0.2.53",
        IMAGE,
        "sleep",
        "1000",
    ]);
    // Names: each container's hosts file has the others, by name and alias, as they come.
    let hosts = e.ok(&["exec", "web", "cat", "/etc/hosts"]);
    assert!(hosts.contains("\tdb\n"), "{hosts}");
    let hosts = e.ok(&["exec", "db", "cat", "/etc/hosts"]);
    assert!(
        hosts.contains("\tweb www\n") && hosts.contains("192.0.2.9\tpea.example\n"),
        "{hosts}"
    );
    assert!(
        e.ok(&["exec", "db", "cat", "/etc/resolv.conf"])
            .contains("nameserver 192.0.2.53")
    );
    let ping = e.ok(&["exec", "db", "ping", "-c", "1", "-W", "2", "www"]);
    assert!(ping.contains("1 packets received"), "{ping}");
    // The published port: on the fake host's loopback, and from a container (hairpin
    // through the gateway).
    ask_until(&e, "host", "127.0.0.1", "8081", "hello-published\n");
    ask_until(&e, "bridge", "10.90.0.1", "8081", "hello-published\n");
    // A host port in use is refused before anything is made.
    let out = e.run(&[
        "run",
        "--rm",
        "--network",
        "bridge",
        "-p",
        "8081:80",
        IMAGE,
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("8081"),
        "{}",
        text(&out)
    );
    for (args, needle) in [
        (
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "-p",
                "8082:80",
                IMAGE,
                "true",
            ][..],
            "bridge network",
        ),
        (
            &[
                "run",
                "--rm",
                "--network",
                "bridge",
                "-p",
                "99999:80",
                IMAGE,
                "true",
            ][..],
            "99999",
        ),
        (
            &[
                "run",
                "--rm",
                "--network",
                "bridge",
                "--ip",
                "10.91.0.5",
                IMAGE,
                "true",
            ][..],
            "10.91.0.5",
        ),
        (
            &[
                "run",
                "--rm",
                "--network",
                "bridge",
                "--dns",
                "not-an-ip",
                IMAGE,
                "true",
            ][..],
            "not-an-ip",
        ),
    ] {
        let out = e.run(args);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{args:?}: {}",
            text(&out)
        );
    }
    // A fixed address is honoured, and refused when taken.
    let out = e.ok(&[
        "run",
        "--rm",
        "--network",
        "bridge",
        "--ip",
        "10.90.3.3",
        IMAGE,
        "ip",
        "-o",
        "-4",
        "addr",
        "show",
        "eth0",
    ]);
    assert!(out.contains("10.90.3.3/16"), "{out}");
    let web_ip = e.inspect("web", "{{.NetworkSettings.IPAddress}}");
    let out = e.run(&[
        "run",
        "--rm",
        "--network",
        "bridge",
        "--ip",
        web_ip.trim(),
        IMAGE,
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    e.ok(&["rm", "-f", "web", "db"]);
    let rules = Command::new("ip")
        .args(["netns", "exec", &e.host.name, "nft", "list", "ruleset"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&rules.stdout).contains("c-"),
        "{}",
        text(&rules)
    );
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_lost_monitor_or_a_failed_start_leaves_no_veth_namespace_rule_or_lease() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "lost",
        "--network",
        "bridge",
        "-p",
        "8090:80",
        IMAGE,
        "sleep",
        "1000",
    ]);
    let id = e.ok(&["inspect", "--format", "{{.Id}}", "lost"]);
    let state = std::fs::read(
        e.runroot()
            .join("containers")
            .join(id.trim())
            .join("state.json"),
    )
    .unwrap();
    let state: serde_json::Value = serde_json::from_slice(&state).unwrap();
    let (monitor, init) = (
        state["monitor_pid"].as_i64().unwrap(),
        state["pid"].as_i64().unwrap(),
    );
    for pid in [monitor, init] {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    }
    e.wait_for_in(&|a| e.ok(a), "lost", "{{.State.Status}}", "exited");
    let wait_no_veth = || {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while e.host.links().lines().any(|l| l.starts_with("pp")) {
            assert!(
                std::time::Instant::now() < until,
                "veth left: {}",
                e.host.links()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    wait_no_veth();
    let rules = Command::new("ip")
        .args(["netns", "exec", &e.host.name, "nft", "list", "ruleset"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&rules.stdout).contains("c-"),
        "{}",
        text(&rules)
    );
    // Started again it gets its namespace, address and port back.
    e.ok(&["start", "lost"]);
    e.ok(&["rm", "-f", "lost"]);
    wait_no_veth();
    // A start that fails on its port (taken meanwhile by another container) leaves nothing.
    e.okw("create --name late --network bridge -p 8091:80 IMAGE sleep 1000");
    e.okw("run -d --name early --network bridge -p 8091:80 IMAGE sleep 1000");
    let out = e.run(&["start", "late"]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("8091"),
        "{}",
        text(&out)
    );
    e.ok(&["rm", "-f", "late", "early"]);
    wait_no_veth();
    let pinned: Vec<_> = std::fs::read_dir(e.runroot().join("netns"))
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(pinned.is_empty(), "{pinned:?}");
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn network_container_shares_another_containers_localhost() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "app",
        "--network",
        "bridge",
        IMAGE,
        "sh",
        "-c",
        "while true; do echo from-app | nc -l -p 9000; done",
    ]);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let out = e.run(&[
            "run",
            "--rm",
            "--network",
            "container:app",
            IMAGE,
            "nc",
            "127.0.0.1",
            "9000",
        ]);
        if String::from_utf8_lossy(&out.stdout) == "from-app\n" {
            break;
        }
        assert!(std::time::Instant::now() < until, "{}", text(&out));
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = e.run(&[
        "run",
        "--rm",
        "--network",
        "container:nosuch",
        IMAGE,
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nosuch"),
        "{}",
        text(&out)
    );
    e.ok(&[
        "create",
        "--name",
        "sidecar",
        "--network",
        "container:app",
        IMAGE,
        "true",
    ]);
    e.ok(&["stop", "-t", "1", "app"]);
    let out = e.run(&["start", "sidecar"]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not running"),
        "{}",
        text(&out)
    );
    e.ok(&["rm", "-f", "app", "sidecar"]);
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn an_internal_network_has_no_route_out_but_its_members_talk() {
    let e = Engine::new();
    e.ok(&[
        "network",
        "create",
        "--internal",
        "--subnet",
        "10.66.0.0/24",
        "inside",
    ]);
    e.ok(&[
        "run",
        "-d",
        "--name",
        "aa",
        "--network",
        "inside",
        IMAGE,
        "sh",
        "-c",
        "while true; do echo from-aa | nc -l -p 7000; done",
    ]);
    let route = e.ok(&["exec", "aa", "ip", "route"]);
    assert!(!route.contains("default"), "{route}");
    // The gateway (the fake host) is not reachable beyond the subnet's own link.
    let out = e.run(&words(
        "run --rm --network inside IMAGE ping -c 1 -W 1 192.0.2.1",
    ));
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let out = e.run(&words("run --rm --network inside IMAGE nc aa 7000"));
        if String::from_utf8_lossy(&out.stdout) == "from-aa\n" {
            break;
        }
        assert!(std::time::Instant::now() < until, "{}", text(&out));
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    e.ok(&["rm", "-f", "aa"]);
    e.ok(&["network", "rm", "inside"]);
    e.assert_clean();
}
