//! Regression tests for the runtime CVEs of ANCHORS.md §4 that live at the runtime level
//! (the rootfs ones are in crates/rootfs's tests).

use std::os::unix::fs::OpenOptionsExt;

use serde_json::json;

use crate::support::{World, assert_checks_passed, checker, text};

/// CVE-2019-5736: while init runs the runtime's code (before exec), its /proc/<pid>/exe is
/// a sealed in-memory copy that cannot be opened for writing.
#[test]
#[ignore = "root: cargo xtask test"]
fn the_runtime_binary_seen_from_a_container_is_a_sealed_copy() {
    let world = World::new("sealed", &["true"]);
    world.write_config();
    let bundle = world.bundle();
    let out = world.oci(&["create", "--bundle", bundle.to_str().unwrap(), &world.id]);
    assert!(out.status.success(), "{}", text(&out));
    let pid = world.state()["pid"].as_i64().unwrap();
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    let writable = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(0)
        .open(format!("/proc/{pid}/exe"));
    let deleted = world.oci(&["delete", "--force", &world.id]);
    assert!(
        exe.to_string_lossy().starts_with("/memfd:"),
        "init runs {}",
        exe.display()
    );
    assert!(writable.is_err(), "init's exe could be opened for writing");
    assert!(deleted.status.success(), "{}", text(&deleted));
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
