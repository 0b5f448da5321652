//! `peapod-oci checkpoint` and `restore` through criu (issue 11), with the flags go-runc
//! passes, and stdio as containerd's shim gives it: pipes.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};

use std::path::Path;

use crate::support::{World, criu, namespace_holder, read_until, text};

/// `peapod-oci --root <ours> --criu <criu> ARGS` with piped stdio, waited for; returns it
/// with the read ends of its stdout and stderr (what the container got, if it started one).
fn oci_with_pipes(world: &World, args: &[&str]) -> (Child, File, File) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_peapod-oci"))
        .arg("--root")
        .arg(world.root())
        .arg("--criu")
        .arg(criu())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = File::from(OwnedFd::from(child.stdout.take().unwrap()));
    let err = File::from(OwnedFd::from(child.stderr.take().unwrap()));
    let status = child.wait().unwrap();
    assert!(status.success(), "peapod-oci {args:?}: {status}");
    (child, out, err)
}

/// The last whole number `text` ends with.
fn last_number(text: &str) -> u64 {
    text.lines()
        .rev()
        .find_map(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no number in {text:?}"))
}

/// The counter every test here runs: one number a line on stdout.
const COUNTER: &str = "i=0; while true; do echo $i; i=$((i+1)); sleep 0.05; done";

/// Runs `world` (the counter) detached, checkpoints it once it has counted to 5 (which
/// stops and deletes it), restores it with new pipes, and asserts that it goes on from
/// the next number as a running container that `exec` reaches.
fn checkpoint_and_restore(world: &World) {
    world.write_config();
    let bundle = world.bundle();
    let bundle = bundle.to_str().unwrap();
    let (_run, mut out, _err) =
        oci_with_pipes(world, &["run", "--detach", "--bundle", bundle, &world.id]);
    let mut before = read_until(&mut out, "\n5\n");

    let images = world.tmp.path().join("images");
    let work = world.tmp.path().join("work");
    let (images, work) = (images.to_str().unwrap(), work.to_str().unwrap());
    let criu = criu();
    let dump = world.oci(&[
        "--criu",
        criu.to_str().unwrap(),
        "checkpoint",
        "--image-path",
        images,
        "--work-path",
        work,
        "--file-locks",
        "--manage-cgroups-mode",
        "soft",
        &world.id,
    ]);
    assert!(dump.status.success(), "checkpoint: {}", text(&dump));
    assert!(Path::new(images).join("inventory.img").exists());
    assert!(Path::new(images).join("descriptors.json").exists());
    // The counter was stopped by the dump: its pipe ends, and the container is gone.
    std::io::Read::read_to_string(&mut out, &mut before).unwrap();
    let last = last_number(&before);
    assert!(
        !world.root().join(&world.id).exists(),
        "still listed after checkpoint"
    );

    let restore = [
        "restore",
        "--detach",
        "--image-path",
        images,
        "--work-path",
        work,
        "--file-locks",
        "--bundle",
        bundle,
        &world.id,
    ];
    let (_restore, mut out, _err) = oci_with_pipes(world, &restore);
    let state = world.state();
    assert_eq!(state["status"], "running", "{state}");
    let after = read_until(&mut out, &format!("\n{}\n", last + 3));
    let first: u64 = after.lines().next().unwrap().trim().parse().unwrap();
    assert_eq!(
        first,
        last + 1,
        "the restored counter did not go on: {after:?}"
    );
    let pid1 = world.oci(&["exec", &world.id, "cat", "/proc/1/cmdline"]);
    assert!(
        String::from_utf8_lossy(&pid1.stdout).contains("while true"),
        "{}",
        text(&pid1)
    );
}

/// A busybox counter, checkpointed (and so stopped and deleted, as runc does), then
/// restored from its images with new pipes: it goes on counting from the next number, as
/// a running container that `exec` reaches; then nothing is left.
#[test]
#[ignore = "root: cargo xtask test"]
fn a_checkpointed_counter_is_restored_and_counts_on() {
    let world = World::new("oci-ckpt-counter", &["sh", "-c", COUNTER]);
    checkpoint_and_restore(&world);
    world.delete_force_leaving_nothing();
}

/// A container in a network namespace it joined by path (a pod's): the namespace is
/// external to the checkpoint, and the restored counter is back in that same namespace.
#[test]
#[ignore = "root: cargo xtask test"]
fn a_counter_in_a_joined_network_namespace_is_restored_into_it() {
    let (mut holder, netns) = namespace_holder("net");
    let mut world = World::new("oci-ckpt-netns", &["sh", "-c", COUNTER]);
    for ns in world.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == "network" {
            ns["path"] = netns.clone().into();
        }
    }
    checkpoint_and_restore(&world);
    let pid = world.state()["pid"].as_i64().unwrap();
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap(),
        std::fs::read_link(&netns).unwrap()
    );
    world.delete_force_leaving_nothing();
    holder.kill().unwrap();
    holder.wait().unwrap();
}

/// go-runc's iterative migration: a checkpoint with `--leave-running` leaves the counter
/// running; a `--pre-dump` does too, and a checkpoint with `--parent-path` on top of it
/// stops it, and the restore counts on. Where the kernel has no memory tracking
/// (CONFIG_MEM_SOFT_DIRTY, off in the hosts' 6.18, on in Debian's guest kernel), the
/// pre-dump fails with criu's reason and the container runs on.
#[test]
#[ignore = "root: cargo xtask test"]
fn leave_running_and_a_pre_dump_keep_it_running_and_a_dump_on_top_restores() {
    let world = World::new("oci-ckpt-predump", &["sh", "-c", COUNTER]);
    world.write_config();
    let bundle = world.bundle();
    let bundle = bundle.to_str().unwrap();
    let (_run, mut out, _err) =
        oci_with_pipes(&world, &["run", "--detach", "--bundle", bundle, &world.id]);
    read_until(&mut out, "\n3\n");
    let dir = |name: &str| world.tmp.path().join(name).display().to_string();
    let criu = criu();
    let checkpoint = |args: &[&str]| {
        let mut all = vec!["--criu", criu.to_str().unwrap(), "checkpoint"];
        all.extend(args);
        all.push(&world.id);
        world.oci(&all)
    };
    let kept = checkpoint(&["--leave-running", "--image-path", &dir("kept")]);
    assert!(kept.status.success(), "{}", text(&kept));
    assert_eq!(world.state()["status"], "running");
    let next = last_number(&read_until(&mut out, "\n")) + 2;
    let mut before = read_until(&mut out, &format!("\n{next}\n"));

    let tracking = Command::new(&criu)
        .args(["check", "--feature", "mem_dirty_track"])
        .output()
        .unwrap()
        .status
        .success();
    let pre = checkpoint(&["--pre-dump", "--image-path", &dir("pre")]);
    assert_eq!(world.state()["status"], "running");
    if !tracking {
        assert!(!pre.status.success(), "{}", text(&pre));
        let stderr = String::from_utf8_lossy(&pre.stderr);
        assert!(
            stderr.contains("criu pre-dump") && stderr.contains("Tracking memory is not available"),
            "{stderr}"
        );
        world.delete_force_leaving_nothing();
        return;
    }
    assert!(pre.status.success(), "{}", text(&pre));
    let dump = checkpoint(&["--image-path", &dir("final"), "--parent-path", "../pre"]);
    assert!(dump.status.success(), "{}", text(&dump));
    assert!(
        !world.root().join(&world.id).exists(),
        "still listed after checkpoint"
    );
    std::io::Read::read_to_string(&mut out, &mut before).unwrap();
    let last = last_number(&before);
    assert!(last >= next, "the pre-dump stopped the counter at {last}");
    let final_dir = dir("final");
    let restore = [
        "restore",
        "--detach",
        "--image-path",
        &final_dir,
        "--bundle",
        bundle,
        &world.id,
    ];
    let (_restore, mut out, _err) = oci_with_pipes(&world, &restore);
    let after = read_until(&mut out, &format!("\n{}\n", last + 2));
    let first: u64 = after.lines().next().unwrap().trim().parse().unwrap();
    assert_eq!(first, last + 1, "{after:?}");
    world.delete_force_leaving_nothing();
}
