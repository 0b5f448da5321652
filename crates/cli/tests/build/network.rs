//! `build --network`: RUN steps as endpoints of a bridge network, in a fake host (a network
//! namespace of the test's, so no bridge, veth or rule reaches the real host): a RUN
//! reaches a container of that network by name and by address; `none` has no way out;
//! nothing of a step's endpoint (veth, lease, namespace pin) outlives it, even a failing
//! one's.

use std::time::{Duration, Instant};

use crate::support::{Engine, IMAGE, text, words};
use crate::{assert_clean, context, last_line, run_ok};

/// `peapod build --cgroup-parent <the test's> ARGS` inside the fake host.
fn build_in(e: &Engine, args: &[&str]) -> std::process::Output {
    let mut full = vec!["build", "--cgroup-parent", &e.cgroup];
    full.extend_from_slice(args);
    e.run(&full)
}

/// What a build must leave as it found: the fake host's links, the engine's namespace pins
/// and the default network's members (its leases), once the kernel has deleted a step's
/// veth pair (in the background: bounded wait).
fn wait_state(e: &Engine, want: &str) {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let got = state(e);
        if got == want {
            return;
        }
        assert!(
            Instant::now() < until,
            "left behind:\n{got}\nwanted:\n{want}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn state(e: &Engine) -> String {
    let mut links: Vec<String> = e
        .host
        .links()
        .lines()
        .filter_map(|l| l.split(['@', ' ']).next().map(str::to_owned))
        .collect();
    links.sort();
    let mut pins: Vec<String> = std::fs::read_dir(e.runroot().join("netns"))
        .map(|d| {
            d.flatten()
                .map(|x| x.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    pins.sort();
    let members = e.ok(&[
        "network",
        "inspect",
        "--format",
        "{{json .Containers}}",
        "peapod",
    ]);
    format!("{links:?}\n{pins:?}\n{members}")
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_run_on_the_bridge_reaches_a_container_by_name_and_address_and_leaves_nothing() {
    let e = Engine::new();
    let mut web = words("run -d --name web --network bridge IMAGE sh -c");
    web.push("mkdir -p /www && echo fetched > /www/x && exec httpd -f -p 8080 -h /www");
    e.ok(&web);
    let ip = e.okw("inspect --format {{.NetworkSettings.IPAddress}} web");
    let ip = ip.trim();
    assert!(ip.starts_with("10.90."), "{ip}");
    // Only the web container is on the network now.
    let before = state(&e);
    assert!(before.contains("peapod0"), "{before}");

    // By name (retried, bounded, until httpd listens) and by address.
    let fetch = format!(
        "FROM {IMAGE}\n\
         RUN for i in $(seq 100); do wget -q -O- http://web:8080/x > /by-name && break; sleep 0.1; done; test -s /by-name\n\
         RUN wget -q -O- http://{ip}:8080/x > /by-ip\n"
    );
    let ctx = context(&e, "net", &[("Containerfile", &fetch)]);
    let out = build_in(
        &e,
        &["--network", "bridge", "-t", "net1", ctx.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let id = last_line(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        run_ok(&e, "net1", &["cat", "/by-name", "/by-ip"]),
        "fetched\nfetched\n"
    );
    wait_state(&e, &before);

    // The network is not part of the cache key: on `none`, every step is reused.
    let out = build_in(
        &e,
        &["--network", "none", "-t", "net2", ctx.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches("--> Using cache").count(), 2, "{stdout}");
    assert_eq!(last_line(&stdout), id);

    // On `none` the same fetch cannot reach it (no route: it fails at once; busybox's
    // `wget -T` dies of SIGSEGV here, so no timeout flag).
    let unreachable =
        format!("FROM {IMAGE}\nRUN wget -q -O- http://{ip}:8080/x > /out || exit 7\n");
    let ctx = context(&e, "none", &[("Containerfile", &unreachable)]);
    let out = build_in(&e, &["--network", "none", ctx.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("exited with code 7"),
        "{}",
        text(&out)
    );
    // `default` (the engine's default mode, the default network) reaches it.
    let out = build_in(&e, &["--network", "default", "-q", ctx.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let untagged = last_line(&String::from_utf8_lossy(&out.stdout));
    wait_state(&e, &before);

    // A failing RUN on the bridge leaves nothing either.
    let failing = format!("FROM {IMAGE}\nRUN wget -q -O- http://web:8080/x && exit 3\n");
    let ctx = context(&e, "failing", &[("Containerfile", &failing)]);
    let out = build_in(&e, &["--network", "bridge", ctx.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    wait_state(&e, &before);

    // A network that does not exist: a clear error, nothing made.
    let out = build_in(&e, &["--network", "nosuchnet", ctx.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nosuchnet"),
        "{}",
        text(&out)
    );
    wait_state(&e, &before);

    // A container's network is no build network, and a RUN's own flag takes only none,
    // host or default: clear errors naming the flag (and the line).
    let out = build_in(&e, &["--network", "container:web", ctx.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    assert!(text(&out).contains("--network"), "{}", text(&out));
    let flagged = format!("FROM {IMAGE}\nRUN --network=bridge true\n");
    let ctx = context(&e, "flagged", &[("Containerfile", &flagged)]);
    let out = build_in(&e, &[ctx.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 2") && err.contains("--network=bridge"),
        "{}",
        text(&out)
    );
    wait_state(&e, &before);

    e.ok(&["rm", "-f", "web"]);
    e.ok(&["rmi", "net1", "net2", &untagged]);
    e.wait_clean();
    assert_clean(&e);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn ctrl_c_during_a_run_on_the_bridge_leaves_no_veth_lease_or_pin() {
    let e = Engine::new();
    let ctx = context(
        &e,
        "interrupt",
        &[(
            "Containerfile",
            &format!("FROM {IMAGE}\nRUN sleep 3171918\n"),
        )],
    );
    // The harness's nsenter execs peapod (no fork): the signal goes to the build itself.
    let cmd = e.cmd(&[
        "build",
        "--cgroup-parent",
        &e.cgroup,
        "--network",
        "bridge",
        ctx.to_str().unwrap(),
    ]);
    let out = crate::interrupt_build(cmd, "3171918", || {
        let during = state(&e);
        assert_eq!(during.matches("10.90.").count(), 1, "leased: {during}");
    });
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    // Only the bridge stays (as `network create` and a container's first run leave it).
    wait_state(&e, "[\"lo\", \"peapod0\"]\n[]\n{}\n");
    e.wait_clean();
    assert_clean(&e);
}
