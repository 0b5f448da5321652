//! Regression tests for the runtime CVEs of ANCHORS.md §4 that live at the runtime level
//! (the rootfs ones are in crates/rootfs's tests).

use serde_json::json;

use crate::support::{World, assert_checks_passed, checker, text};

/// CVE-2019-5736: no container process can run the runtime's binary, nor reach it through
/// /proc/<pid>/exe. Init runs our code until its exec and is non-dumpable meanwhile, so a
/// container process without CAP_SYS_PTRACE cannot open init's exe; the container's program
/// is exec'd by a sealed trampoline, so a program that is `/proc/self/exe` is that
/// trampoline, never peapod-oci.
#[test]
#[ignore = "root: cargo xtask test"]
fn no_container_process_can_run_or_reach_the_runtime_binary() {
    let world = World::new("sealed", &["true"]);
    world.write_config();
    let bundle = world.bundle();
    let out = world.oci(&["create", "--bundle", bundle.to_str().unwrap(), &world.id]);
    assert!(out.status.success(), "{}", text(&out));
    // Root in the container, with the default capabilities, beside the waiting init.
    let peek = world.oci(&[
        "exec",
        &world.id,
        "sh",
        "-c",
        "readlink /proc/1/exe; echo rc=$?; readlink /proc/self/exe",
    ]);
    let deleted = world.oci(&["delete", "--force", &world.id]);
    assert!(deleted.status.success(), "{}", text(&deleted));
    let peek_out = String::from_utf8_lossy(&peek.stdout);
    assert!(
        peek.status.success() && peek_out.starts_with("rc=1\n"),
        "init's exe was reachable: {}",
        text(&peek)
    );
    assert!(peek_out.contains("/bin/busybox"), "{}", text(&peek));

    let mut world = World::new("selfexe", &["/proc/self/exe", "--version"]);
    world.config["process"]["env"] = json!(["PATH=/bin", "A=1"]);
    let out = world.run();
    assert_eq!(out.status.code(), Some(127), "{}", text(&out));
    assert_the_trampoline_refused(&out);
    world.assert_nothing_left();

    // A startContainer hook runs in the container, after pivot_root: its path resolves in
    // the image, so it goes through the trampoline too.
    let mut world = World::new("selfexe-hook", &["true"]);
    world.config["hooks"] = json!({"startContainer": [
        {"path": "/proc/self/exe", "args": ["/proc/self/exe", "--version"]}
    ]});
    let out = world.run();
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert_the_trampoline_refused(&out);
    world.assert_nothing_left();
}

/// CVE-2024-21626: no runtime fd reaches the container, even with --preserve-fds.
#[test]
#[ignore = "root: cargo xtask test"]
fn no_runtime_fd_leaks_into_the_container_and_preserved_fds_do() {
    let mut world = World::new("fds", &[]);
    world.config["process"]["args"] = json!(checker(&["fds=0,1,2,3"]));
    world.write_config();
    let bundle = world.bundle();
    let extra = std::fs::File::open("/dev/null").unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_peapod-oci"));
    cmd.arg("--root").arg(world.root()).args([
        "run",
        "--preserve-fds",
        "1",
        "--bundle",
        bundle.to_str().unwrap(),
        &world.id,
    ]);
    let raw = std::os::fd::AsRawFd::as_raw_fd(&extra);
    // SAFETY: the closure runs between fork and exec and only calls dup2.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            // dup2 onto itself would keep close-on-exec: clear it explicitly.
            if nix::libc::dup2(raw, 3) < 0 || nix::libc::fcntl(3, nix::libc::F_SETFD, 0) < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(())
            }
        });
    }
    let out = crate::support::run_to_files(&mut cmd, world.tmp.path());
    assert_checks_passed(&out);
    world.assert_nothing_left();
}

/// CVE-2024-21626: a cwd through /proc/self/fd/N cannot land outside the container.
#[test]
#[ignore = "root: cargo xtask test"]
fn a_cwd_through_a_leaked_fd_is_refused_or_stays_inside() {
    for fd in 3..=9 {
        let mut world = World::new(&format!("cwd{fd}"), &[]);
        world.config["process"]["cwd"] = json!(format!("/proc/self/fd/{fd}"));
        world.config["process"]["args"] = json!(checker(&["cwd=/"]));
        let out = world.run();
        let output = text(&out);
        if out.status.success() {
            assert!(!output.contains("FAIL"), "fd {fd}: {output}");
        } else {
            assert!(
                output.contains("process.cwd /proc/self/fd/"),
                "fd {fd}: {output}"
            );
            assert!(
                !output.contains("FAIL cwd"),
                "fd {fd}: the container ran outside its root: {output}"
            );
        }
        world.assert_nothing_left();
    }
}

/// `/proc/self/exe` was exec'd as the sealed trampoline (which then found no program), never
/// as peapod-oci (which would have printed its version).
fn assert_the_trampoline_refused(out: &std::process::Output) {
    assert!(
        text(out).contains("peapod-oci: cannot exec in the container: errno "),
        "{}",
        text(out)
    );
    assert!(
        !text(out).contains(env!("CARGO_PKG_VERSION")),
        "{}",
        text(out)
    );
}
