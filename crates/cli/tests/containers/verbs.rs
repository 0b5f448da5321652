//! The observing and housekeeping verbs: `stats`, `top`, `cp`, `port`, `events`, `info`,
//! `version`, `completion`, `system df`, `system prune`, and `rmi`/`image prune` keeping
//! an image a container uses. Each bad input: a clear error, exit 125, nothing left.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::support::{Engine, IMAGE, text};

/// Runs and asserts exit code 125 with every `needles` in stderr; stderr.
fn fails(e: &Engine, args: &[&str], needles: &[&str]) -> String {
    let out = e.run(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(125),
        "peapod {args:?}: {}",
        text(&out)
    );
    for n in needles {
        assert!(err.contains(n), "peapod {args:?}: no {n:?} in {err}");
    }
    err
}

/// The mounts whose line mentions `needle` (a test's root, a container id).
fn mounts_of(needle: &str) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// Spawns `cmd` with its stdout read line by line on a thread, into the receiver.
fn spawn_lines(mut cmd: std::process::Command) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
#[ignore = "root: cargo xtask test"]
fn stats_shows_docker_columns_once_and_streams_until_interrupted() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "busy",
        "-m",
        "64m",
        IMAGE,
        "sh",
        "-c",
        "while :; do :; done",
    ]);
    e.ok(&["create", "--name", "idle", IMAGE, "true"]);

    let table = e.ok(&["stats", "--no-stream"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "only the running one: {table}");
    for h in [
        "CONTAINER ID",
        "NAME",
        "CPU %",
        "MEM USAGE / LIMIT",
        "NET I/O",
        "PIDS",
    ] {
        assert!(lines[0].contains(h), "{table}");
    }
    assert!(
        lines[1].contains("busy") && lines[1].contains("/ 64MiB"),
        "{table}"
    );

    let json = e.ok(&["stats", "--no-stream", "--format", "json", "busy", "idle"]);
    let rows: Vec<Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{json}");
    assert_eq!(rows[0]["Name"], "busy");
    assert_eq!(rows[0]["PIDs"], "1");
    let cpu: f64 = rows[0]["CPUPerc"]
        .as_str()
        .unwrap()
        .trim_end_matches('%')
        .parse()
        .unwrap();
    assert!(cpu > 10.0, "a busy loop shows CPU use: {json}");
    assert_eq!(rows[1]["Name"], "idle");
    assert_eq!(
        rows[1]["CPUPerc"], "0.00%",
        "a stopped container shows zeros"
    );
    assert_eq!(rows[1]["PIDs"], "0");
    let names = e.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}}:{{.PIDs}}",
        "busy",
    ]);
    assert_eq!(names, "busy:1\n");

    // Streaming: a new table every second until interrupted.
    let (mut child, rx) = spawn_lines(e.cmd(&["stats", "busy"]));
    let mut headers = 0;
    while headers < 2 {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a second frame");
        headers += usize::from(line.contains("CONTAINER ID"));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    fails(
        &e,
        &["stats", "--no-stream", "nosuch"],
        &["no such container: nosuch"],
    );
    fails(
        &e,
        &["stats", "--no-stream", "--format", "{{.Bogus", "busy"],
        &["--format"],
    );
    e.ok(&["rm", "-f", "busy", "idle"]);
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn top_lists_the_processes_with_ps_descriptors() {
    let e = Engine::new();
    e.ok(&[
        "run", "-d", "--name", "tp", "--user", "nobody", IMAGE, "sleep", "100",
    ]);
    let table = e.ok(&["top", "tp"]);
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        [
            "USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND"
        ],
        "{table}"
    );
    assert_eq!(lines.len(), 2, "{table}");
    assert_eq!(
        lines[1][0], "nobody",
        "user names from the container: {table}"
    );
    assert_eq!(lines[1][1], "1", "{table}");
    assert_eq!(&lines[1][7..], ["sleep", "100"], "{table}");

    let picked = e.ok(&["top", "tp", "pid,user", "args"]);
    let lines: Vec<Vec<&str>> = picked
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["PID", "USER", "COMMAND"], "{picked}");
    assert_eq!(lines[1], ["1", "nobody", "sleep", "100"], "{picked}");

    fails(
        &e,
        &["top", "tp", "bogus"],
        &["unknown descriptor \"bogus\"", "valid descriptors are"],
    );
    fails(&e, &["top", "nosuch"], &["no such container: nosuch"]);
    let stopped = e.ok(&["create", "--name", "stopped", IMAGE, "true"]);
    fails(&e, &["top", "stopped"], &["stopped", "created"]);

    // `container prune` takes the stopped one only, after asking.
    fails(&e, &["container", "prune"], &["confirmation", "--force"]);
    let pruned = e.ok(&["container", "prune", "-f"]);
    assert_eq!(
        pruned,
        format!("Deleted Containers:\n{stopped}\nTotal reclaimed space: 0B\n"),
    );
    assert_eq!(e.ok(&["ps", "-a", "--format", "{{.Names}}"]), "tp\n");
    e.ok(&["rm", "-f", "tp"]);
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn cp_copies_both_ways_running_or_not_and_refuses_what_is_missing() {
    let e = Engine::new();
    let host = e.tmp.path().join("host");
    std::fs::create_dir(&host).unwrap();
    let file = host.join("hello.txt");
    std::fs::write(&file, "hello\n").unwrap();
    nix::unistd::chown(&file, Some(1234.into()), Some(1234.into())).unwrap();
    let file = file.to_str().unwrap();

    // Into and out of a created container (its rootfs is mounted since create).
    let root = e.tmp.path().to_string_lossy().into_owned();
    e.ok(&[
        "create", "--name", "cpc", "--user", "nobody", IMAGE, "sleep", "100",
    ]);
    let before = mounts_of(&root);
    e.ok(&["cp", file, "cpc:/tmp/"]);
    e.ok(&["cp", "-a", file, "cpc:/tmp/owned"]);
    let back = host.join("back.txt");
    e.ok(&["cp", "cpc:/tmp/hello.txt", back.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "hello\n");
    assert_eq!(
        mounts_of(&root),
        before,
        "cp leaves the mounts as they were"
    );

    // An exited container: its rootfs is mounted for the copy only.
    let ex = e.ok(&["run", "--name", "ex", IMAGE, "true"]);
    assert_eq!(ex, "");
    let ex_id = e.inspect("ex", "{{.Id}}");
    assert!(mounts_of(&ex_id).is_empty(), "{:#?}", mounts_of(&ex_id));
    e.ok(&["cp", file, "ex:/hello.txt"]);
    let back_ex = host.join("back-ex.txt");
    e.ok(&["cp", "ex:/hello.txt", back_ex.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&back_ex).unwrap(), "hello\n");
    assert!(mounts_of(&ex_id).is_empty(), "{:#?}", mounts_of(&ex_id));
    fails(
        &e,
        &["cp", "ex:/nope", "-"],
        &["Could not find the file /nope in container ex"],
    );
    assert!(mounts_of(&ex_id).is_empty(), "a failed copy unmounts too");
    e.ok(&["rm", "ex"]);

    // Running: the copies made before are there, with the owners cp gave them.
    e.ok(&["start", "cpc"]);
    let owners = e.ok(&[
        "exec",
        "cpc",
        "stat",
        "-c",
        "%u:%g",
        "/tmp/hello.txt",
        "/tmp/owned",
    ]);
    assert_eq!(
        owners, "1234:1234\n65534:65534\n",
        "-a gives the container user's ids"
    );
    let etc = host.join("etc");
    e.ok(&["cp", "cpc:/etc", etc.to_str().unwrap()]);
    assert!(etc.join("passwd").is_file());

    // A symlink source is copied as a link; with -L, as what it points to.
    e.ok(&["exec", "cpc", "ln", "-s", "/tmp/hello.txt", "/tmp/link"]);
    let link = host.join("link");
    e.ok(&["cp", "cpc:/tmp/link", link.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        std::path::Path::new("/tmp/hello.txt")
    );
    let followed = host.join("followed");
    e.ok(&["cp", "-L", "cpc:/tmp/link", followed.to_str().unwrap()]);
    assert!(std::fs::symlink_metadata(&followed).unwrap().is_file());
    assert_eq!(std::fs::read_to_string(&followed).unwrap(), "hello\n");

    // Tar streams both ways.
    let out = e.cmd(&["cp", "cpc:/tmp/hello.txt", "-"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let mut archive = tar::Archive::new(&out.stdout[..]);
    let names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|en| en.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["hello.txt"]);
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(9);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, "streamed", &b"streamed\n"[..])
        .unwrap();
    let bytes = tar.into_inner().unwrap();
    let mut child = e
        .cmd(&["cp", "-", "cpc:/tmp"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(e.ok(&["exec", "cpc", "cat", "/tmp/streamed"]), "streamed\n");

    // Bad input: docker's message for a missing container path, 125, nothing made.
    let nowhere = host.join("nowhere");
    let nowhere = nowhere.to_str().unwrap();
    fails(
        &e,
        &["cp", "cpc:/nope", nowhere],
        &["Could not find the file /nope in container cpc"],
    );
    fails(
        &e,
        &["cp", file, "cpc:/no/such/dir/x"],
        &["Could not find the file /no/such/dir in container cpc"],
    );
    fails(
        &e,
        &["cp", "nosuch:/etc", nowhere],
        &["no such container: nosuch"],
    );
    fails(&e, &["cp", "cpc:/a", "cpc:/b"], &["between containers"]);
    fails(&e, &["cp", file, nowhere], &["at least one container"]);
    fails(
        &e,
        &["cp", "/no/such/host/file", "cpc:/tmp"],
        &["/no/such/host/file"],
    );
    assert!(!std::path::Path::new(nowhere).exists());
    e.ok(&["rm", "-f", "cpc"]);
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn port_events_info_version_and_completion_describe_the_engine() {
    let e = Engine::new();
    // Follows new events (bounded by an --until far enough for a slow guest).
    let since = unix_now().to_string();
    let until = (unix_now() + 120).to_string();
    let (mut follower, rx) = spawn_lines(e.cmd(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "container=ev",
    ]));
    let id = e.ok(&["create", "--name", "ev", IMAGE, "true"]);
    let id = id.trim();
    e.ok(&["create", "--name", "other", IMAGE, "true"]);
    assert_eq!(e.ok(&["port", "ev"]), "", "no published ports");
    fails(&e, &["port", "nosuch"], &["no such container: nosuch"]);
    e.ok(&["rm", "ev"]);
    let mut lines = Vec::new();
    while lines.len() < 2 {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("followed events: {lines:?}"));
        lines.push(line);
    }
    assert!(
        lines[0].contains(&format!("container create {id} (image={IMAGE}, name=ev)")),
        "{lines:?}"
    );
    assert!(
        lines[1].contains(&format!("container remove {id}")),
        "{lines:?}"
    );
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "only ev's events"
    );
    follower.kill().unwrap();
    follower.wait().unwrap();

    // An --until that comes ends the follower by itself.
    let soon = (unix_now() + 2).to_string();
    let mut ending = e
        .cmd(&["events", "--until", &soon, "--filter", "container=nosuch"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = ending.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "events did not stop at --until"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());

    let past = e.ok(&[
        "events",
        "--since",
        "1m",
        "--until",
        "0s",
        "--filter",
        "event=create",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}}",
    ]);
    assert_eq!(past, "create ev\ncreate other\n");
    let json = e.ok(&[
        "events", "--since", "1m", "--until", "0s", "--format", "json",
    ]);
    let first: Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(first["Type"], "container");
    assert_eq!(first["Actor"]["ID"], id);
    fails(
        &e,
        &["events", "--filter", "bogus=1", "--until", "0s"],
        &["bogus"],
    );
    fails(&e, &["events", "--since", "yesterday-ish"], &["--since"]);

    let info: Value = serde_json::from_str(&e.ok(&["info", "--format", "json"])).unwrap();
    assert_eq!(info["Containers"], 1);
    assert_eq!(info["ContainersStopped"], 1);
    assert_eq!(info["Images"], 1);
    assert_eq!(info["DockerRootDir"], e.root().to_str().unwrap());
    assert!(
        ["1", "2"].contains(&info["CgroupVersion"].as_str().unwrap()),
        "{info}"
    );
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(info["KernelVersion"], release.trim());
    assert!(e.ok(&["info"]).contains("Cgroup Version: "));
    assert_eq!(e.ok(&["info", "--format", "{{.Images}}"]), "1\n");

    let version: Value = serde_json::from_str(&e.ok(&["version", "--format", "json"])).unwrap();
    assert_eq!(version["Client"]["Version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(version["Server"]["APIVersion"], env!("CARGO_PKG_VERSION"));
    assert!(
        e.ok(&["version"])
            .starts_with("Client:       peapod\nVersion:")
    );

    assert!(
        e.ok(&["completion", "bash"])
            .contains("peapod__subcmd__stats")
    );
    assert!(e.ok(&["completion", "zsh"]).contains("#compdef peapod"));
    assert!(e.ok(&["completion", "fish"]).contains("complete -c peapod"));
    fails(&e, &["completion", "tcsh"], &["tcsh"]);
    e.ok(&["rm", "other"]);
    e.assert_clean();
}

/// `system df`'s JSON row of `kind`.
fn df_row(e: &Engine, kind: &str) -> Value {
    let rows: Value = serde_json::from_str(&e.ok(&["system", "df", "--format", "json"])).unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["Type"] == kind)
        .cloned()
        .unwrap_or_else(|| panic!("no {kind} row: {rows}"))
}

#[test]
#[ignore = "root: cargo xtask test"]
fn system_prune_and_df_count_containers_volumes_and_images_in_use() {
    let e = Engine::new();
    e.ok(&["run", "-d", "--name", "up", IMAGE, "sleep", "100"]);
    let stopped = e.ok(&["create", "--name", "down", "-v", "/data", IMAGE, "true"]);
    let stopped = stopped.trim();
    e.ok(&["volume", "create", "named"]);
    let big = e.tmp.path().join("big");
    std::fs::write(&big, vec![7u8; 20_000]).unwrap();
    e.ok(&["cp", big.to_str().unwrap(), "down:/big"]);

    let table = e.ok(&["system", "df"]);
    let types: Vec<&str> = table
        .lines()
        .skip(1)
        .map(|l| l.split("  ").next().unwrap())
        .collect();
    assert_eq!(
        types,
        ["Images", "Containers", "Local Volumes", "Build Cache"],
        "{table}"
    );
    let c = df_row(&e, "Containers");
    assert_eq!(
        (c["TotalCount"].as_u64(), c["Active"].as_u64()),
        (Some(2), Some(1)),
        "{c}"
    );
    assert!(c["RawReclaimable"].as_u64().unwrap() >= 20_000, "{c}");
    let v = df_row(&e, "Local Volumes");
    assert_eq!(
        (v["TotalCount"].as_u64(), v["Active"].as_u64()),
        (Some(2), Some(1)),
        "{v}"
    );
    assert_eq!(df_row(&e, "Images")["Active"], 1);

    // An image a container uses is neither removed nor pruned.
    e.ok(&["rmi", "localhost/oci:latest"]); // one of its two names: an untag
    fails(&e, &["rmi", IMAGE], &["in use by a container"]);
    assert_eq!(
        e.ok(&["image", "prune", "-a", "-f"]),
        "Total reclaimed space: 0B\n"
    );
    assert_eq!(e.ok(&["images", "-q"]).lines().count(), 1);
    fails(&e, &["system", "prune"], &["confirmation", "--force"]);
    assert_eq!(e.count(), 2, "refused: nothing removed");

    // Stopped containers and their anonymous volumes go; the running one, the named volume
    // and the image it uses stay.
    let out = e.ok(&["system", "prune", "-f", "--volumes"]);
    assert!(
        out.starts_with(&format!(
            "Deleted Containers:\n{stopped}\n\nDeleted Volumes:\n"
        )),
        "{out}"
    );
    assert!(!out.contains("Deleted Images"), "{out}");
    let reclaimed = out.lines().last().unwrap();
    assert!(
        reclaimed.starts_with("Total reclaimed space: ") && reclaimed.ends_with("kB"),
        "{out}"
    );
    assert_eq!(e.ok(&["ps", "-a", "--format", "{{.Names}}"]), "up\n");
    assert_eq!(e.ok(&["volume", "ls", "-q"]), "named\n");

    e.ok(&["rm", "-f", "up"]);
    let out = e.ok(&["system", "prune", "-a", "-f", "--volumes"]);
    assert!(out.contains("Deleted Volumes:\nnamed\n"), "{out}");
    assert!(out.contains("Deleted Images:\ndeleted: sha256:"), "{out}");
    assert_eq!(e.ok(&["images", "-q"]), "");
    assert_eq!(e.ok(&["volume", "ls", "-q"]), "");
    e.assert_clean();
}
