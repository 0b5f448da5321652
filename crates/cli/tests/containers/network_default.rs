//! `bridge` is the default network mode (as in docker and podman): a container or pod made
//! without `--network` is on the default network `peapod`, made on first use; the
//! configuration's `containers.netns` changes that default, and a bad value is refused
//! before anything is made. Inside the engine's fake host.

use std::time::{Duration, Instant};

use crate::support::{Engine, IMAGE, text, words};

/// The interface names of `ip -o link`'s output.
fn names(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_owned())
        .collect()
}

/// The IPv4 address and prefix of `eth0` in container `name` (`10.90.0.2/16`).
fn eth0(e: &Engine, name: &str) -> String {
    let out = e.ok(&["exec", name, "ip", "-o", "-4", "addr", "show", "eth0"]);
    out.split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .unwrap_or_default()
        .to_owned()
}

#[test]
#[ignore = "root: cargo xtask test"]
fn without_network_a_container_is_on_the_default_bridge_and_reaches_another_by_name() {
    let e = Engine::new();
    let mut srv = words("run -d --name srv IMAGE sh -c");
    srv.push("while true; do echo hello-default | nc -l -p 8080; done");
    e.ok(&srv);
    let addr = eth0(&e, "srv");
    assert!(
        addr.starts_with("10.90.") && addr.ends_with("/16"),
        "{addr}"
    );
    assert!(e.host.links().contains("peapod0"), "{}", e.host.links());
    // Another container without --network reaches it by name (the server may still be
    // starting: bounded retries).
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let out = e.run(&["run", "--rm", IMAGE, "nc", "-w", "2", "srv", "8080"]);
        if out.stdout == b"hello-default\n" {
            break;
        }
        assert!(Instant::now() < until, "srv:8080 by name: {}", text(&out));
        std::thread::sleep(Duration::from_millis(100));
    }
    // A pod without --network is on it too, and its members have its address.
    e.ok(&["pod", "create", "--name", "pd"]);
    e.ok(&[
        "run", "-d", "--pod", "pd", "--name", "member", IMAGE, "sleep", "1000",
    ]);
    let member = eth0(&e, "member");
    assert!(
        member.starts_with("10.90.") && member != addr,
        "{member} {addr}"
    );
    e.ok(&["pod", "rm", "-f", "pd"]);
    e.ok(&["rm", "-f", "srv"]);
    e.wait_clean();
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn the_configured_default_mode_is_used_and_a_bad_one_is_refused_with_nothing_made() {
    let e = Engine::new();
    let conf = e.tmp.path().join("peapod.conf");
    let ok = |line: &str| {
        let out = e.with_config(&conf, line);
        assert!(out.status.success(), "{line}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // What a refused command must not change (the default network is not made yet).
    let state = || {
        format!(
            "{}\n{}\n{}\n{}",
            e.host.links(),
            e.host.ruleset(),
            e.ok(&["ps", "-a", "--format", "{{.Names}}"]),
            e.ok(&["pod", "ls", "-q"]),
        )
    };
    let before = state();
    for (value, why) in [
        (
            "no such!",
            "expected bridge, none, host or a network's name",
        ),
        ("container:srv", "names one container"),
        ("", "expected bridge"),
    ] {
        std::fs::write(&conf, format!("[containers]\nnetns = \"{value}\"\n")).unwrap();
        for line in ["run --rm IMAGE true", "pod create --name refused"] {
            let out = e.with_config(&conf, line);
            assert_eq!(out.status.code(), Some(125), "{value}: {}", text(&out));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains(conf.to_str().unwrap())
                    && err.contains("containers.netns")
                    && err.contains(why),
                "{value}: {err}"
            );
        }
    }
    assert_eq!(state(), before, "nothing changed");

    std::fs::write(&conf, "[containers]\nnetns = \"none\"\n").unwrap();
    assert_eq!(names(&ok("run --rm IMAGE ip -o link")), ["lo"]);
    ok("pod create --name quiet");
    assert_eq!(names(&ok("run --rm --pod quiet IMAGE ip -o link")), ["lo"]);
    ok("pod rm -f quiet");
    assert!(!e.host.links().contains("peapod0"), "{}", e.host.links());
    // --network still wins over the configured default.
    assert_eq!(
        names(&ok("run --rm --network bridge IMAGE ip -o link")),
        ["lo", "eth0"]
    );
    e.wait_clean();
    e.assert_clean();
}
