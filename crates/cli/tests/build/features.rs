//! One Containerfile per feature, built and run.

use crate::support::{Engine, IMAGE};
use crate::{assert_clean, build_ok, context, last_line, run_ok};

#[test]
#[ignore = "root: cargo xtask test"]
fn run_copy_env_workdir_and_cmd_make_a_runnable_image_with_history() {
    let e = Engine::new();
    let ctx = context(
        &e,
        "basic",
        &[
            ("hello.txt", "hello\n"),
            (
                "Containerfile",
                &format!(
                    "FROM {IMAGE}\nENV GREETING=hi\nCOPY hello.txt /app/\nWORKDIR /app\nRUN echo \"$GREETING from run\" > made.txt && rm /bin/ls\nCMD [\"cat\", \"/app/made.txt\"]\n"
                ),
            ),
        ],
    );
    let out = build_ok(&e, &["-t", "demo", ctx.to_str().unwrap()]);
    assert!(out.contains("STEP 5/6: RUN echo"), "{out}");
    assert!(
        out.contains("COMMIT docker.io/library/demo:latest"),
        "{out}"
    );
    assert_eq!(run_ok(&e, "demo", &[]), "hi from run\n");
    assert_eq!(run_ok(&e, "demo", &["cat", "hello.txt"]), "hello\n");
    // The RUN's deletion is a whiteout in its layer.
    assert_eq!(
        run_ok(&e, "demo", &["sh", "-c", "test -e /bin/ls || echo gone"]),
        "gone\n"
    );
    let history = e.ok(&["image", "inspect", "--format", "{{len .History}}", "demo"]);
    let base = e.ok(&["image", "inspect", "--format", "{{len .History}}", IMAGE]);
    assert_eq!(
        history.trim().parse::<usize>().unwrap(),
        base.trim().parse::<usize>().unwrap() + 5,
        "a history entry per step"
    );
    let layers = e.ok(&[
        "image",
        "inspect",
        "--format",
        "{{len .RootFS.Layers}}",
        "demo",
    ]);
    let base_layers = e.ok(&[
        "image",
        "inspect",
        "--format",
        "{{len .RootFS.Layers}}",
        IMAGE,
    ]);
    assert_eq!(
        layers.trim().parse::<usize>().unwrap(),
        base_layers.trim().parse::<usize>().unwrap() + 2,
        "COPY and RUN make layers, the rest only config"
    );
    e.ok(&["rmi", "demo"]);
    assert_clean(&e);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn multi_stage_copy_from_and_target() {
    let e = Engine::new();
    let ctx = context(
        &e,
        "multi",
        &[(
            "Containerfile",
            &format!(
                "FROM {IMAGE} AS builder\nRUN mkdir /out && echo built > /out/artifact\n\nFROM {IMAGE} AS unused\nRUN exit 7\n\nFROM scratch\nCOPY --from=builder /out/artifact /artifact\nCOPY --from=builder /bin/busybox /bin/busybox\nCOPY --from={IMAGE} /etc/passwd /etc/passwd\nCMD [\"/bin/busybox\", \"cat\", \"/artifact\"]\n"
            ),
        )],
    );
    // The unused stage (which would fail) is not built.
    build_ok(&e, &["-t", "final", ctx.to_str().unwrap()]);
    assert_eq!(run_ok(&e, "final", &[]), "built\n");
    // A scratch image has only what was copied.
    assert_eq!(
        run_ok(&e, "final", &["/bin/busybox", "ls", "/bin"]),
        "busybox\n"
    );
    build_ok(
        &e,
        &["-t", "first", "--target", "builder", ctx.to_str().unwrap()],
    );
    assert_eq!(run_ok(&e, "first", &["cat", "/out/artifact"]), "built\n");
    e.ok(&["rmi", "final", "first"]);
    assert_clean(&e);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn arg_before_from_build_args_and_their_defaults() {
    let e = Engine::new();
    let ctx = context(
        &e,
        "args",
        &[(
            "Containerfile",
            "ARG BASE=localhost/busybox:latest\nFROM $BASE\nARG WHO=world\nARG BASE\nRUN echo \"$WHO on ${BASE}\" > /greeting\nENV FROM_ARG=${WHO:-none}\n",
        )],
    );
    build_ok(&e, &["-t", "args1", ctx.to_str().unwrap()]);
    assert_eq!(
        run_ok(&e, "args1", &["cat", "/greeting"]),
        "world on localhost/busybox:latest\n"
    );
    assert_eq!(
        run_ok(
            &e,
            "args1",
            &["sh", "-c", "echo $FROM_ARG; echo ${WHO:-unset}"]
        ),
        "world\nunset\n",
        "ARGs are not in the image's environment"
    );
    let out = crate::build(
        &e,
        &[
            "-t",
            "args2",
            "--build-arg",
            "WHO=peapod",
            "--build-arg",
            "NOBODY=x",
            ctx.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", crate::support::text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("build-args [\"NOBODY\"] were not consumed"),
        "{}",
        crate::support::text(&out)
    );
    assert_eq!(
        run_ok(&e, "args2", &["cat", "/greeting"]),
        "peapod on localhost/busybox:latest\n"
    );
    e.ok(&["rmi", "args1", "args2"]);
    assert_clean(&e);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn copy_chown_chmod_wildcards_and_the_ignore_file() {
    let e = Engine::new();
    let ctx = context(
        &e,
        "copy",
        &[
            ("a.conf", "a"),
            ("b.conf", "b"),
            ("notes.txt", "n"),
            ("secret.key", "s"),
            ("dir/keep", "k"),
            ("dir/drop.log", "d"),
            (".containerignore", "*.key\n**/*.log\n"),
            (
                "Containerfile",
                &format!(
                    "FROM {IMAGE}\nCOPY --chown=nobody:nobody --chmod=600 *.conf /etc/app/\nCOPY . /ctx\nCOPY --chown=1234:5678 dir /d\n"
                ),
            ),
        ],
    );
    build_ok(&e, &["-t", "copy", ctx.to_str().unwrap()]);
    let conf = run_ok(
        &e,
        "copy",
        &[
            "stat",
            "-c",
            "%n %a %U %G",
            "/etc/app/a.conf",
            "/etc/app/b.conf",
        ],
    );
    assert_eq!(
        conf,
        "/etc/app/a.conf 600 nobody nobody\n/etc/app/b.conf 600 nobody nobody\n"
    );
    let listed = run_ok(&e, "copy", &["find", "/ctx", "/d"]);
    let mut listed: Vec<&str> = listed.lines().collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            "/ctx",
            "/ctx/.containerignore",
            "/ctx/Containerfile",
            "/ctx/a.conf",
            "/ctx/b.conf",
            "/ctx/dir",
            "/ctx/dir/keep",
            "/ctx/notes.txt",
            "/d",
            "/d/keep"
        ],
        "the ignored files are not copied"
    );
    assert_eq!(
        run_ok(&e, "copy", &["stat", "-c", "%u:%g", "/d/keep", "/d"]),
        "1234:5678\n1234:5678\n"
    );
    assert_eq!(
        run_ok(&e, "copy", &["stat", "-c", "%u:%g %a", "/ctx/notes.txt"]),
        "0:0 644\n"
    );
    e.ok(&["rmi", "copy"]);
    assert_clean(&e);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn add_extracts_a_local_tar_and_copies_other_files() {
    let e = Engine::new();
    let ctx = context(&e, "add", &[("plain.txt", "p")]);
    {
        let file = std::fs::File::create(ctx.join("bundle.tar.gz")).unwrap();
        let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        let mut h = tar::Header::new_gnu();
        h.set_size(6);
        h.set_mode(0o755);
        h.set_uid(42);
        h.set_gid(43);
        tar.append_data(&mut h, "tool/run.sh", &b"#!/bx\n"[..])
            .unwrap();
        tar.into_inner().unwrap().finish().unwrap();
    }
    std::fs::write(
        ctx.join("Containerfile"),
        format!("FROM {IMAGE}\nADD bundle.tar.gz /opt/\nADD plain.txt /opt/plain.txt\n"),
    )
    .unwrap();
    build_ok(&e, &["-t", "add", ctx.to_str().unwrap()]);
    assert_eq!(
        run_ok(
            &e,
            "add",
            &["stat", "-c", "%a %u:%g %s", "/opt/tool/run.sh"]
        ),
        "755 42:43 6\n"
    );
    assert_eq!(run_ok(&e, "add", &["cat", "/opt/plain.txt"]), "p");
    e.ok(&["rmi", "add"]);
    assert_clean(&e);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn user_shell_entrypoint_and_the_config_instructions() {
    let e = Engine::new();
    let ctx = context(
        &e,
        "config",
        &[(
            "Containerfile",
            &format!(
                "FROM {IMAGE}\nSHELL [\"/bin/sh\", \"-ec\"]\nRUN echo \"$0 $-\" > /shell\nWORKDIR /work\nRUN touch here && chown nobody here\nUSER nobody\nRUN id -un > /tmp/who\nLABEL app=demo \"two words\"=yes\nEXPOSE 8080 53/udp\nVOLUME /data\nSTOPSIGNAL SIGINT\nHEALTHCHECK --interval=5s --retries=2 CMD true\nENTRYPOINT [\"echo\", \"entry\"]\nCMD [\"default\"]\n"
            ),
        )],
    );
    build_ok(
        &e,
        &["-t", "cfg", "--label", "extra=1", ctx.to_str().unwrap()],
    );
    assert_eq!(run_ok(&e, "cfg", &[]), "entry default\n");
    assert_eq!(run_ok(&e, "cfg", &["x"]), "entry x\n");
    let run = |args: &[&str]| {
        let mut full = vec!["run", "--rm", "--entrypoint", ""];
        full.push("cfg");
        full.extend_from_slice(args);
        e.ok(&full)
    };
    assert_eq!(run(&["cat", "/shell"]), "/bin/sh ce\n", "SHELL's -e");
    assert_eq!(
        run(&["cat", "/tmp/who"]),
        "nobody\n",
        "USER applies to later RUNs"
    );
    assert_eq!(run(&["sh", "-c", "id -un; pwd"]), "nobody\n/work\n");
    let inspect = |f: &str| {
        e.ok(&["image", "inspect", "--format", f, "cfg"])
            .trim()
            .to_owned()
    };
    assert_eq!(
        inspect(
            "{{index .Config.Labels \"app\"}} {{index .Config.Labels \"two words\"}} {{index .Config.Labels \"extra\"}}"
        ),
        "demo yes 1"
    );
    assert_eq!(inspect("{{.Config.StopSignal}}"), "SIGINT");
    let ports = inspect("{{json .Config.ExposedPorts}}");
    assert!(
        ports.contains("8080/tcp") && ports.contains("53/udp"),
        "{ports}"
    );
    assert!(inspect("{{json .Config.Volumes}}").contains("/data"));
    assert!(inspect("{{json .Config.Healthcheck}}").contains("5000000000"));
    e.ok(&["rmi", "cfg"]);
    assert_clean(&e);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_containerfile_on_stdin_builds_without_a_context() {
    let e = Engine::new();
    let mut cmd = e.cmd(&["build", "--cgroup-parent", &e.cgroup, "-t", "stdin", "-"]);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("FROM {IMAGE}\nRUN echo from-stdin > /f\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", crate::support::text(&out));
    assert_eq!(last_line(&String::from_utf8_lossy(&out.stdout)).len(), 64);
    assert_eq!(run_ok(&e, "stdin", &["cat", "/f"]), "from-stdin\n");
    e.ok(&["rmi", "stdin"]);
    assert_clean(&e);
}

#[test]
#[ignore = "root: cargo xtask test"]
fn run_steps_are_on_the_default_network_unless_told_otherwise() {
    let e = Engine::new();
    let ctx = context(
        &e,
        "network",
        &[(
            "Containerfile",
            &format!(
                "FROM {IMAGE}\nRUN readlink /proc/self/ns/net > /ns && ls /sys/class/net > /nets\nRUN --network=host readlink /proc/self/ns/net > /ns-flag\n"
            ),
        )],
    );
    // The host is the fake host peapod runs in (its namespace file's inode).
    let host_ns = format!(
        "net:[{}]",
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(e.host.path()).unwrap())
    );
    build_ok(
        &e,
        &["--network", "none", "-t", "net-none", ctx.to_str().unwrap()],
    );
    let ns = run_ok(&e, "net-none", &["cat", "/ns", "/nets", "/ns-flag"]);
    let lines: Vec<&str> = ns.lines().collect();
    assert_ne!(lines[0], host_ns, "a namespace of its own");
    assert_eq!(lines[1..], ["lo", &host_ns], "only lo; RUN --network=host");
    // Without --network: the engine's default mode, the default bridge network (its own
    // eth0, in a sysfs of its own namespace).
    build_ok(
        &e,
        &["--no-cache", "-t", "net-default", ctx.to_str().unwrap()],
    );
    let ns = run_ok(&e, "net-default", &["cat", "/ns", "/nets", "/ns-flag"]);
    let lines: Vec<&str> = ns.lines().collect();
    assert_ne!(lines[0], host_ns, "a namespace of its own");
    assert_eq!(lines[1..], ["eth0", "lo", &host_ns], "{ns}");
    build_ok(
        &e,
        &[
            "--network",
            "host",
            "--no-cache",
            "-t",
            "net-host",
            ctx.to_str().unwrap(),
        ],
    );
    assert_eq!(run_ok(&e, "net-host", &["cat", "/ns"]).trim(), host_ns);
    e.ok(&["rmi", "net-none", "net-default", "net-host"]);
    assert_clean(&e);
}
