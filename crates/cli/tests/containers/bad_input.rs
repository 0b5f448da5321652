//! Bad input: a clear error naming the object and the cause, docker's exit code, and
//! nothing left behind.

use crate::support::{Engine, IMAGE, text};

#[test]
#[ignore = "root: cargo xtask test"]
fn bad_flags_and_missing_things_are_refused_before_anything_is_made() {
    let e = Engine::new();
    let missing_host = e.tmp.path().join("no-such-dir");
    let missing_host = format!("{}:/x", missing_host.display());
    let env_file = e.tmp.path().join("no-such.env");
    let env_file = env_file.to_string_lossy().into_owned();
    e.ok(&["create", "--name", "taken", IMAGE, "true"]);
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "run",
                "--rm",
                "--pull",
                "never",
                "localhost/nosuch:1",
                "true",
            ],
            "nosuch",
        ),
        (&["run", "--rm", "-m", "lots", IMAGE, "true"], "--memory"),
        (&["run", "--rm", "--cpus", "-1", IMAGE, "true"], "--cpus"),
        (&["run", "--rm", "--cpus", "abc", IMAGE, "true"], "--cpus"),
        (
            &["run", "--rm", "-v", "rel/path:/x", IMAGE, "true"],
            "--volume",
        ),
        (
            &["run", "--rm", "-v", "/a:/b:bogus", IMAGE, "true"],
            "bogus",
        ),
        (
            &["run", "--rm", "-v", &missing_host, IMAGE, "true"],
            "does not exist",
        ),
        (&["run", "--rm", "--name", "taken", IMAGE, "true"], "taken"),
        (
            &["run", "--rm", "--name", "bad name", IMAGE, "true"],
            "bad name",
        ),
        (
            &["run", "--rm", "--restart", "bogus", IMAGE, "true"],
            "--restart",
        ),
        (
            &["run", "--rm", "--env-file", &env_file, IMAGE, "true"],
            "no-such.env",
        ),
        (
            &["run", "--rm", "--ulimit", "nofile=2:1", IMAGE, "true"],
            "--ulimit",
        ),
        (
            &["run", "--rm", "--cap-add", "NOT_A_CAP", IMAGE, "true"],
            "NOT_A_CAP",
        ),
        (
            &["run", "--rm", "-w", "relative", IMAGE, "true"],
            "relative",
        ),
        (&["run", "--rm", "-m", "1k", IMAGE, "true"], "minimum"),
        (
            &["run", "--rm", "--network", "bogus", IMAGE, "true"],
            "--network",
        ),
        (&["start", "nosuch"], "nosuch"),
        (&["stop", "nosuch"], "nosuch"),
        (&["rm", "nosuch"], "nosuch"),
        (&["logs", "nosuch"], "nosuch"),
        (&["exec", "taken", "true"], "not running"),
    ];
    for (args, needle) in cases {
        let out = e.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {}", text(&out));
        assert!(
            stderr.contains(needle),
            "{args:?}: the error does not name {needle:?}: {stderr}"
        );
        assert!(stderr.starts_with("Error: "), "{args:?}: {stderr}");
    }
    assert_eq!(e.ok(&["ps", "-a", "--format", "{{.Names}}"]), "taken\n");
    e.ok(&["rm", "taken"]);
    e.assert_clean();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_command_not_found_is_127_and_not_executable_is_126_with_nothing_left() {
    let e = Engine::new();
    let out = e.run(&["run", "--rm", IMAGE, "no-such-command"]);
    assert_eq!(out.status.code(), Some(127), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no-such-command"),
        "{}",
        text(&out)
    );
    let out = e.run(&["run", "--rm", IMAGE, "/etc/passwd"]);
    assert_eq!(out.status.code(), Some(126), "{}", text(&out));
    let out = e.run(&["run", "-d", "--rm", IMAGE, "no-such-command"]);
    assert_eq!(out.status.code(), Some(127), "{}", text(&out));
    e.assert_clean();
    // Without --rm the container stays, exited with that code, and can be removed.
    let out = e.run(&["run", "--name", "kept", IMAGE, "no-such-command"]);
    assert_eq!(out.status.code(), Some(127), "{}", text(&out));
    assert_eq!(
        e.inspect("kept", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 127"
    );
    e.ok(&["rm", "kept"]);
    e.assert_clean();
}
