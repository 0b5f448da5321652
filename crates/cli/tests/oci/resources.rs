//! cgroup limits as the container meets them: OOM and pids exhaustion seen through the exit
//! code, limits readable in the container's cgroup, `kill --all`.

use serde_json::json;

use crate::support::{World, assert_checks_passed, checker, text, wait_for_status};

#[test]
#[ignore = "root: cargo xtask test"]
fn an_out_of_memory_container_is_killed_and_run_reports_it() {
    let mut world = World::new(
        "oom",
        &[
            "sh",
            "-c",
            "x=$(head -c 64m /dev/zero | tr '\\0' a); echo survived",
        ],
    );
    world.config["linux"]["resources"]["memory"] =
        json!({"limit": 16 * 1024 * 1024, "swap": 16 * 1024 * 1024});
    let out = world.run();
    // The OOM killer's SIGKILL: 128 + 9.
    assert_eq!(out.status.code(), Some(137), "{}", text(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("survived"));
    world.assert_nothing_left();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_pids_limit_refuses_forks_beyond_it() {
    let mut world = World::new(
        "pids",
        &[
            "sh",
            "-c",
            "for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait",
        ],
    );
    world.config["linux"]["resources"]["pids"] = json!({"limit": 4});
    let out = world.run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("can't fork") || stderr.contains("Resource temporarily unavailable"),
        "{}",
        text(&out)
    );
    world.assert_nothing_left();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn limits_are_in_the_containers_cgroup_and_kill_all_reaches_every_process() {
    let mut world = World::new("limits", &["sh", "-c", "sleep 1000 & sleep 1000 & wait"]);
    world.config["linux"]["resources"]["memory"] = json!({"limit": 32 * 1024 * 1024});
    world.config["linux"]["resources"]["pids"] = json!({"limit": 64});
    world.config["linux"]["resources"]["cpu"] = json!({"quota": 50000, "period": 100000});
    world.run_detached();
    let path = world.cgroup_path();
    let read = |file: &str| std::fs::read_to_string(file).unwrap().trim().to_owned();
    if std::path::Path::new("/sys/fs/cgroup/memory").exists() {
        assert_eq!(
            read(&format!(
                "/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"
            )),
            "33554432"
        );
        assert_eq!(read(&format!("/sys/fs/cgroup/pids{path}/pids.max")), "64");
        assert_eq!(
            read(&format!("/sys/fs/cgroup/cpu{path}/cpu.cfs_quota_us")),
            "50000"
        );
    } else {
        assert_eq!(
            read(&format!("/sys/fs/cgroup{path}/memory.max")),
            "33554432"
        );
        assert_eq!(read(&format!("/sys/fs/cgroup{path}/pids.max")), "64");
        assert_eq!(
            read(&format!("/sys/fs/cgroup{path}/cpu.max")),
            "50000 100000"
        );
    }
    // The shell forks its two sleeps after start returns: poll until ps sees all three.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let out = world.oci(&["ps", "--format", "json", &world.id]);
        let pids: Vec<i64> = serde_json::from_slice(&out.stdout).unwrap();
        if pids.len() == 3 {
            break;
        }
        assert!(
            pids.len() < 3 && std::time::Instant::now() < deadline,
            "ps never listed the shell and its two sleeps: {}",
            text(&out)
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        world
            .oci(&["kill", "--all", &world.id, "KILL"])
            .status
            .success()
    );
    wait_for_status(&world, "stopped");
    assert!(world.oci(&["delete", &world.id]).status.success());
    world.assert_nothing_left();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn the_container_reads_its_own_limits_in_its_cgroup_namespace_and_mount() {
    let mut world = World::new("cgroupns", &[]);
    world.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "cgroup"}));
    world.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
        "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]
    }));
    world.config["linux"]["resources"]["pids"] = json!({"limit": 64});
    world.config["linux"]["resources"]["memory"] = json!({"limit": 32 * 1024 * 1024});
    let v1 = std::path::Path::new("/sys/fs/cgroup/memory").exists();
    let checks: &[&str] = if v1 {
        &[
            "cgroupns=1",
            "file=/sys/fs/cgroup/pids/pids.max:64",
            "file=/sys/fs/cgroup/memory/memory.limit_in_bytes:33554432",
            "mount=/sys/fs/cgroup:tmpfs:ro",
            "readonly=/sys/fs/cgroup/pids",
        ]
    } else {
        &[
            "cgroupns=1",
            "file=/sys/fs/cgroup/pids.max:64",
            "file=/sys/fs/cgroup/memory.max:33554432",
        ]
    };
    world.config["process"]["args"] = json!(checker(checks));
    let out = world.run();
    assert_checks_passed(&out);
    world.assert_nothing_left();
}

/// Where clone3 is refused (Docker's seccomp profile answers it with ENOSYS, should we run
/// inside such a container), init is moved into its cgroup instead of being born there and
/// still gets its cgroup namespace. On a pure v2 host (the VM) this is the fallback path;
/// on v1 and hybrid hosts init is always moved.
#[test]
#[ignore = "root: cargo xtask test"]
fn a_refused_clone3_still_puts_init_in_its_cgroup_and_cgroup_namespace() {
    let mut world = World::new("noclone3", &["sleep", "1000"]);
    world.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "cgroup"}));
    world.write_config();
    let filter = refuse_clone3();
    let bundle = world.bundle();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_peapod-oci"));
    cmd.arg("--root").arg(world.root()).args([
        "run",
        "--detach",
        "--bundle",
        bundle.to_str().unwrap(),
        &world.id,
    ]);
    // SAFETY: the closure runs between fork and exec and only makes one syscall on a filter
    // built before the fork.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            let prog = nix::libc::sock_fprog {
                len: u16::try_from(filter.len()).unwrap_or(u16::MAX),
                filter: filter.as_ptr().cast_mut(),
            };
            let ret = nix::libc::syscall(
                nix::libc::SYS_seccomp,
                nix::libc::SECCOMP_SET_MODE_FILTER,
                0,
                &prog as *const nix::libc::sock_fprog,
            );
            if ret < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(())
            }
        });
    }
    let out = crate::support::run_to_files(&mut cmd, world.tmp.path());
    assert!(out.status.success(), "{}", text(&out));
    let pid = world.state()["pid"].as_i64().unwrap();
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let path = world.cgroup_path();
    for line in cgroups.lines().filter(|l| !l.contains("::/init.scope")) {
        // Seen from the host (outside its namespace), every hierarchy puts it in its cgroup.
        assert!(line.ends_with(&path), "{line} in\n{cgroups}");
    }
    let ns = |p: &str| std::fs::read_link(p).unwrap();
    assert_ne!(
        ns(&format!("/proc/{pid}/ns/cgroup")),
        ns("/proc/self/ns/cgroup")
    );
    world.delete_force_leaving_nothing();
}

/// A seccomp filter (raw BPF, built now) that answers clone3 with ENOSYS and allows the rest.
fn refuse_clone3() -> Vec<nix::libc::sock_filter> {
    use std::io::{Read, Seek};
    let mut ctx = libseccomp::ScmpFilterContext::new(libseccomp::ScmpAction::Allow).unwrap();
    ctx.add_rule(
        libseccomp::ScmpAction::Errno(nix::libc::ENOSYS),
        libseccomp::ScmpSyscall::from_name("clone3").unwrap(),
    )
    .unwrap();
    let mut file = tempfile::tempfile().unwrap();
    ctx.export_bpf(&file).unwrap();
    file.rewind().unwrap();
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).unwrap();
    bytes
        .chunks_exact(8)
        .map(|c| nix::libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect()
}
