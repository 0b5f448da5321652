//! Pods: containers sharing the pod's network (localhost), IPC, hostname and PID namespaces,
//! held by the infra process; pod-wide limits; the pod as a unit; faults and bad input, each
//! leaving nothing behind.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Engine, IMAGE, text};

/// `pod inspect --format T POD`, trimmed.
fn pod_field(e: &Engine, pod: &str, template: &str) -> String {
    e.ok(&["pod", "inspect", "--format", template, pod])
        .trim()
        .to_owned()
}

/// Waits (bounded) until the pod's state is `want`.
fn wait_pod_state(e: &Engine, pod: &str, want: &str) {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let got = pod_field(e, pod, "{{.State}}");
        if got == want {
            return;
        }
        assert!(Instant::now() < until, "pod {pod} is {got}, not {want}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a member to completion and returns its output.
fn in_pod(e: &Engine, pod: &str, script: &str) -> String {
    e.ok(&["run", "--rm", "--pod", pod, IMAGE, "sh", "-c", script])
}

/// The states of the children of `pid` on the host (`/proc/*/stat`: state, ppid).
fn children_states(pid: i32) -> Vec<(i32, char)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            let after = &stat[stat.rfind(')')? + 2..];
            let mut f = after.split(' ');
            let state = f.next()?.chars().next()?;
            let ppid: i32 = f.next()?.parse().ok()?;
            (ppid == pid).then_some((p, state))
        })
        .collect()
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_pod_shares_localhost_hostname_ipc_and_pid_and_its_infra_reaps() {
    let e = Engine::new();
    let id = e.ok(&[
        "pod",
        "create",
        "--name",
        "duo",
        "--hostname",
        "podhost",
        "--share",
        "+pid",
    ]);
    assert_eq!(id.trim().len(), 64, "{id}");
    assert_eq!(pod_field(&e, "duo", "{{.State}}"), "Created");
    e.ok(&[
        "run",
        "-d",
        "--pod",
        "duo",
        "--name",
        "web",
        IMAGE,
        "sh",
        "-c",
        "mkdir /www && echo hello-from-the-pod > /www/index.html && touch /dev/mqueue/web-queue && exec httpd -f -p 8080 -h /www",
    ]);
    wait_pod_state(&e, "duo", "Running");
    // localhost between members (wait for httpd to listen: bounded retries in the client).
    let got = in_pod(
        &e,
        "duo",
        "for i in $(seq 100); do wget -q -O - http://localhost:8080/ && exit 0; sleep 0.1; done; exit 1",
    );
    assert_eq!(got.trim(), "hello-from-the-pod");
    // The pod's hostname, in both.
    assert_eq!(in_pod(&e, "duo", "hostname").trim(), "podhost");
    assert_eq!(
        e.ok(&["exec", "web", "cat", "/etc/hostname"]).trim(),
        "podhost"
    );
    // IPC: web's POSIX message queue is seen here; a System V segment made in web's IPC
    // namespace (by the host's perl, entering it) is listed here.
    let web_pid = e.inspect("web", "{{.State.Pid}}");
    let shm = Command::new("nsenter")
        .args([
            &format!("--ipc=/proc/{web_pid}/ns/ipc"),
            "perl",
            "-e",
            "defined(my $id = shmget(0x7065617, 4096, 01600)) or die $!; print $id",
        ])
        .output()
        .unwrap();
    assert!(shm.status.success(), "{}", text(&shm));
    let seen = in_pod(&e, "duo", "ls /dev/mqueue; cat /proc/sysvipc/shm");
    assert!(seen.contains("web-queue"), "{seen}");
    assert!(seen.contains(&format!("{}", 0x0706_5617)), "{seen}");
    // A container outside the pod sees neither.
    let outside = e.ok(&[
        "run",
        "--rm",
        IMAGE,
        "sh",
        "-c",
        "ls /dev/mqueue; cat /proc/sysvipc/shm",
    ]);
    assert!(
        !outside.contains("web-queue") && !outside.contains(&format!("{}", 0x0706_5617)),
        "{outside}"
    );
    // PID: the infra is PID 1 and every member sees the others.
    let ps = in_pod(
        &e,
        "duo",
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; ps -o pid,args",
    );
    assert!(
        ps.starts_with(&format!("{} __peapod-infra", env!("CARGO_BIN_EXE_peapod")))
            || ps.contains("__peapod-infra"),
        "{ps}"
    );
    assert!(ps.contains("httpd -f -p 8080"), "{ps}");
    // An orphan is reparented to the infra, which reaps it when it exits: no zombie stays.
    let infra: i32 = pod_field(&e, "duo", "{{.InfraPid}}").parse().unwrap();
    in_pod(&e, "duo", "(sleep 0.3 &) ; true");
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let children = children_states(infra);
        if children.is_empty() {
            break;
        }
        assert!(
            Instant::now() < until,
            "the infra {infra} keeps children {children:?} (a zombie is 'Z')"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // `pod top`, `pod ls --format json`, `pod exists`.
    let top = e.ok(&["pod", "top", "duo", "pid", "args"]);
    assert!(top.contains("web") && top.contains("httpd"), "{top}");
    let list: serde_json::Value =
        serde_json::from_str(&e.ok(&["pod", "ls", "--format", "json"])).unwrap();
    assert_eq!(list[0]["Name"], "duo");
    assert_eq!(list[0]["NumContainers"], 2);
    assert!(e.run(&["pod", "exists", "duo"]).status.success());
    assert_eq!(e.run(&["pod", "exists", "nope"]).status.code(), Some(1));
    e.ok(&["pod", "rm", "-f", "duo"]);
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_memory_hog_is_oom_killed_within_the_pods_limit_and_pod_stats_shows_it() {
    let e = Engine::new();
    e.ok(&[
        "pod",
        "create",
        "--name",
        "small",
        "--memory",
        "32m",
        "--pids-limit",
        "64",
    ]);
    e.ok(&[
        "run", "-d", "--pod", "small", "--name", "idle", IMAGE, "sleep", "1000",
    ]);
    let stats = e.ok(&[
        "pod",
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.MemUsage}} {{.PIDs}}",
        "small",
    ]);
    let first = stats.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("small ") && first.contains("/ 32MiB"),
        "{stats}"
    );
    assert!(stats.lines().any(|l| l.starts_with("idle ")), "{stats}");
    // The hog has no limit of its own: the pod's stops it.
    let out = e.run(&[
        "run",
        "--pod",
        "small",
        "--name",
        "hog",
        IMAGE,
        "sh",
        "-c",
        "tail /dev/zero",
    ]);
    assert_eq!(out.status.code(), Some(137), "{}", text(&out));
    assert_eq!(e.inspect("hog", "{{.State.OOMKilled}}"), "true");
    // The other member lives on: the pod is degraded, not down.
    assert_eq!(e.inspect("idle", "{{.State.Status}}"), "running");
    assert_eq!(pod_field(&e, "small", "{{.State}}"), "Degraded");
    e.ok(&["pod", "rm", "-f", "small"]);
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_pod_stops_starts_restarts_pauses_and_is_pruned_as_one_unit() {
    let e = Engine::new();
    e.ok(&[
        "run", "-d", "--pod", "new:unit", "--name", "first", IMAGE, "sleep", "1000",
    ]);
    e.ok(&[
        "run", "-d", "--pod", "unit", "--name", "second", IMAGE, "sleep", "1000",
    ]);
    wait_pod_state(&e, "unit", "Running");
    let infra = pod_field(&e, "unit", "{{.InfraPid}}");
    e.ok(&["pod", "pause", "unit"]);
    wait_pod_state(&e, "unit", "Paused");
    e.ok(&["pod", "unpause", "unit"]);
    wait_pod_state(&e, "unit", "Running");
    e.ok(&["pod", "stop", "-t", "0", "unit"]);
    assert_eq!(pod_field(&e, "unit", "{{.State}}"), "Exited");
    assert_eq!(pod_field(&e, "unit", "{{.InfraPid}}"), "0");
    // Stopped: no process, pin or cgroup of it is left, but its rows are.
    assert!(crate::support::processes_mentioning(&e.tmp.path().to_string_lossy()).is_empty());
    assert!(
        crate::support::cgroups_under(&e.cgroup).is_empty(),
        "{:?}",
        crate::support::cgroups_under(&e.cgroup)
    );
    e.ok(&["pod", "start", "unit"]);
    wait_pod_state(&e, "unit", "Running");
    assert_ne!(pod_field(&e, "unit", "{{.InfraPid}}"), infra);
    e.ok(&["pod", "restart", "-t", "0", "unit"]);
    wait_pod_state(&e, "unit", "Running");
    // Running pods are kept by prune (and `system prune`, which removes the others) and
    // refused by a plain rm.
    assert_eq!(e.ok(&["pod", "prune", "-f"]), "");
    e.ok(&["pod", "create", "--name", "spare"]);
    let pruned = e.ok(&["system", "prune", "-f"]);
    assert!(pruned.starts_with("Deleted Pods:\nspare\n\n"), "{pruned}");
    assert_eq!(e.ok(&["pod", "ls", "-q"]).lines().count(), 1);
    let out = e.run(&["pod", "rm", "unit"]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pod unit is Running"),
        "{}",
        text(&out)
    );
    // The infra is the pod's: container verbs refuse it.
    let infra_name = format!("{}-infra", &pod_field(&e, "unit", "{{.Id}}")[..12]);
    for verb in [&["rm", "-f"][..], &["stop"], &["kill"], &["exec"]] {
        let mut args = verb.to_vec();
        args.push(&infra_name);
        if verb == ["exec"] {
            args.push("true");
        }
        let out = e.run(&args);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("infra container of pod"),
            "{}",
            text(&out)
        );
    }
    e.ok(&["pod", "kill", "unit"]);
    wait_pod_state(&e, "unit", "Exited");
    assert_eq!(e.ok(&["pod", "prune", "-f"]).trim(), "unit");
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_killed_infra_leaves_the_pod_degraded_and_rm_f_removes_everything() {
    let e = Engine::new();
    e.ok(&[
        "pod",
        "create",
        "--name",
        "frail",
        "--restart",
        "on-failure:2",
    ]);
    e.ok(&[
        "run", "-d", "--pod", "frail", "--name", "member", IMAGE, "sleep", "1000",
    ]);
    wait_pod_state(&e, "frail", "Running");
    let infra: i32 = pod_field(&e, "frail", "{{.InfraPid}}").parse().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(infra),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    // Without a shared PID namespace the member lives on (its namespaces are pinned).
    wait_pod_state(&e, "frail", "Degraded");
    assert_eq!(e.inspect("member", "{{.State.Status}}"), "running");
    assert_eq!(e.ok(&["exec", "member", "hostname"]).trim(), "frail");
    // A member started now starts a new infra, which joins the namespaces the first member
    // still holds (a fresh set would split the pod): both see the same ones.
    e.ok(&[
        "run", "-d", "--pod", "frail", "--name", "second", IMAGE, "sleep", "1000",
    ]);
    wait_pod_state(&e, "frail", "Running");
    let namespaces = |name: &str| {
        e.ok(&[
            "exec",
            name,
            "sh",
            "-c",
            "for n in net ipc uts; do readlink /proc/self/ns/$n; done",
        ])
    };
    let first = namespaces("member");
    assert_eq!(first.lines().count(), 3, "{first}");
    assert_eq!(namespaces("second"), first);
    let new_infra: i32 = pod_field(&e, "frail", "{{.InfraPid}}").parse().unwrap();
    assert_ne!(new_infra, infra);
    let infra_net = std::fs::read_link(format!("/proc/{new_infra}/ns/net")).unwrap();
    assert_eq!(
        first.lines().next(),
        Some(infra_net.to_string_lossy().as_ref())
    );
    // The pod's restart policy is its members': a failing one is restarted twice.
    e.ok(&[
        "run", "-d", "--pod", "frail", "--name", "failing", IMAGE, "sh", "-c", "exit 3",
    ]);
    e.wait_for(
        "failing",
        "{{.RestartCount}} {{.State.Status}}",
        "2 exited",
        Duration::from_secs(20),
    );
    e.ok(&["pod", "rm", "-f", "frail"]);
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn bad_pod_input_is_refused_clearly_and_leaves_nothing() {
    let e = Engine::new();
    let refused = |args: &[&str], needle: &str| {
        let out = e.run(args);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    };
    refused(
        &["run", "--rm", "--pod", "nope", IMAGE, "true"],
        "no such pod: nope",
    );
    refused(&["pod", "rm", "nope"], "no such pod: nope");
    refused(
        &["pod", "create", "--share", "net,bogus"],
        "unknown namespace \"bogus\"",
    );
    refused(
        &["pod", "create", "--name", "bad name"],
        "invalid container name",
    );
    refused(
        &["pod", "create", "--network", "none", "-p", "8080:80"],
        "publishing a port needs a bridge network",
    );
    refused(
        &["pod", "create", "--infra=false", "-p", "8080:80"],
        "without an infra container",
    );
    refused(&["pod", "create", "--memory", "lots"], "--memory");
    e.ok(&["pod", "create", "--name", "taken"]);
    refused(
        &["pod", "create", "--name", "taken"],
        "pod name \"taken\" is already in use",
    );
    refused(
        &[
            "run",
            "--rm",
            "--pod",
            "taken",
            "--network",
            "host",
            IMAGE,
            "true",
        ],
        "uses the pod's network",
    );
    refused(
        &[
            "run", "--rm", "--pod", "taken", "-h", "other", IMAGE, "true",
        ],
        "uses the pod's hostname",
    );
    // `--pod new:` of a taken name, and a container that cannot be made in a new pod: no pod
    // and no container stay.
    refused(
        &["run", "--rm", "--pod", "new:taken", IMAGE, "true"],
        "already in use",
    );
    refused(
        &[
            "run",
            "--rm",
            "--pod",
            "new:fresh",
            "no-such-image-here",
            "true",
        ],
        "no-such-image-here",
    );
    assert_eq!(e.ok(&["pod", "ls", "-q"]).lines().count(), 1);
    assert_eq!(e.count(), 1, "{}", e.ok(&["ps", "-a"]));
    e.ok(&["pod", "rm", "taken"]);
    e.assert_clean();
}
