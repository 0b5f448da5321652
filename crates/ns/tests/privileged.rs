//! Joining and pinning real namespaces (root).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test setup should panic

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use peapod_ns::oci_spec::runtime::{LinuxNamespaceBuilder, LinuxNamespaceType};
use peapod_ns::{
    IdMap, NamespaceKind, Namespaces, is_pinned, pin, unpin, unshare_namespaces, write_id_maps,
};

fn assert_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this privileged test must run as root (cargo xtask test)"
    );
}

/// A process holding a new uts namespace whose hostname is `name`.
fn uts_holder(name: &str) -> Child {
    Command::new("unshare")
        .args([
            "--uts",
            "sh",
            "-c",
            &format!("hostname {name} && echo ready && exec sleep 60"),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_ready(child: &mut Child) {
    use std::io::Read;
    let mut buf = [0u8; 6];
    child.stdout.as_mut().unwrap().read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ready\n");
}

fn joined(typ: LinuxNamespaceType, path: &Path) -> Namespaces {
    Namespaces::from_oci(&[LinuxNamespaceBuilder::default()
        .typ(typ)
        .path(path)
        .build()
        .unwrap()])
    .unwrap()
}

/// Runs `hostname` in a child that first enters `namespaces`.
fn hostname_in(namespaces: &Namespaces) -> String {
    let joined = namespaces.open_joined().unwrap();
    let mut cmd = Command::new("hostname");
    // SAFETY: the closure runs between fork and exec and only calls setns.
    unsafe { cmd.pre_exec(move || joined.enter().map_err(std::io::Error::other)) };
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_process_joins_a_uts_namespace_by_path() {
    assert_root();
    let mut holder = uts_holder("peapod-ns-join");
    wait_ready(&mut holder);
    let path = format!("/proc/{}/ns/uts", holder.id());
    let got = hostname_in(&joined(LinuxNamespaceType::Uts, Path::new(&path)));
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(got, "peapod-ns-join");
    assert_ne!(nix::unistd::gethostname().unwrap(), "peapod-ns-join");
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_pinned_namespace_outlives_its_process_and_unpin_leaves_nothing() {
    assert_root();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("uts");
    let mut holder = uts_holder("peapod-ns-pin");
    wait_ready(&mut holder);
    assert!(!is_pinned(&target), "nothing there yet");
    pin(holder.id() as i32, NamespaceKind::Uts, &target).unwrap();
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(is_pinned(&target));

    assert_eq!(
        hostname_in(&joined(LinuxNamespaceType::Uts, &target)),
        "peapod-ns-pin"
    );

    unpin(&target).unwrap();
    assert!(!target.exists());
    assert!(!is_pinned(&target));
    std::fs::write(&target, b"").unwrap();
    assert!(!is_pinned(&target), "a plain file left behind is no pin");
    std::fs::remove_file(&target).unwrap();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(dir.path().to_str().unwrap()),
        "pin leaked a mount"
    );
    unpin(&target).unwrap(); // idempotent
}

#[test]
#[ignore = "root: cargo xtask test"]
fn pinning_a_dead_process_fails_and_leaves_no_file() {
    assert_root();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("net");
    let err = pin(i32::MAX, NamespaceKind::Net, &target)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!(
            "cannot pin network namespace at {}",
            target.display()
        )),
        "{err}"
    );
    assert!(!target.exists());
}

#[test]
#[ignore = "root: cargo xtask test"]
fn id_maps_written_for_a_new_user_namespace_take_effect() {
    assert_root();
    // A child that unshares a user namespace, then waits for its maps before printing its ids.
    let (read_fd, write_fd) = nix::unistd::pipe().unwrap();
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "read _ <&3; id -u; id -g; cat /proc/self/setgroups"]);
    let read_raw = std::os::fd::AsRawFd::as_raw_fd(&read_fd);
    // SAFETY: the closure runs between fork and exec and only calls unshare and dup2.
    unsafe {
        cmd.pre_exec(move || {
            unshare_namespaces(nix::sched::CloneFlags::CLONE_NEWUSER)
                .map_err(std::io::Error::other)?;
            if nix::libc::dup2(read_raw, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    };
    let child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    drop(read_fd);
    // The child runs as host root: mapping host 0 to 1000 makes it uid/gid 1000 inside.
    let map = [
        IdMap {
            container_id: 1000,
            host_id: 0,
            size: 1,
        },
        IdMap {
            container_id: 0,
            host_id: 100_000,
            size: 1000,
        },
    ];
    write_id_maps(child.id() as i32, &map, &map, true).unwrap();
    nix::unistd::write(&write_fd, b"go\n").unwrap();
    drop(write_fd);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    // setgroups was denied before the maps were written.
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "1000\n1000\ndeny\n");
}

/// clone3(CLONE_INTO_CGROUP): the child starts in the given cgroup v2 directory, in its new
/// namespaces (pid 1 of a new pid namespace).
#[test]
#[ignore = "root: cargo xtask test"]
fn a_child_is_born_in_a_cgroup_v2_directory() {
    use std::os::fd::AsFd;
    assert_root();
    // Pure v2 hosts mount cgroup2 at /sys/fs/cgroup, hybrid ones at /sys/fs/cgroup/unified.
    let base = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.join("cgroup.procs").exists() && p.join("cgroup.controllers").exists())
        .expect("a cgroup2 mount");
    let name = format!("peapod-ns-clone3-{}", std::process::id());
    let dir = base.join(&name);
    std::fs::create_dir(&dir).unwrap();
    let fd = std::fs::File::open(&dir).unwrap();
    let (rx, tx) = nix::unistd::pipe().unwrap();
    // SAFETY: the child only reads a file into a stack buffer, writes it to a pipe and
    // _exits (no allocation, no locks), so cloning from the multi-threaded test harness is
    // sound.
    let forked =
        unsafe { peapod_ns::clone_process_into(nix::sched::CloneFlags::CLONE_NEWPID, fd.as_fd()) };
    match forked.unwrap() {
        peapod_ns::Forked::Child => {
            let mut buf = [0u8; 512];
            let n = nix::fcntl::open(
                "/proc/self/cgroup",
                nix::fcntl::OFlag::O_RDONLY,
                nix::sys::stat::Mode::empty(),
            )
            .and_then(|f| nix::unistd::read(&f, &mut buf))
            .unwrap_or(0);
            let pid = nix::unistd::getpid().as_raw().to_ne_bytes();
            let ok =
                nix::unistd::write(&tx, &pid).is_ok() && nix::unistd::write(&tx, &buf[..n]).is_ok();
            // SAFETY: _exit ends the child at once.
            unsafe { libc::_exit(i32::from(!ok)) }
        }
        peapod_ns::Forked::Parent(child) => {
            drop(tx);
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut std::fs::File::from(rx), &mut out).unwrap();
            let status = nix::sys::wait::waitpid(child, None).unwrap();
            std::fs::remove_dir(&dir).unwrap();
            assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
            assert_eq!(i32::from_ne_bytes(out[..4].try_into().unwrap()), 1);
            let cgroups = String::from_utf8_lossy(&out[4..]);
            assert!(
                cgroups.lines().any(|l| l == format!("0::/{name}")),
                "{cgroups}"
            );
        }
    }
}
