//! `ctr containers checkpoint --task` and `ctr containers restore --live` through
//! containerd's runc shim and `peapod-oci` (issue 11): the shim pauses the task, calls
//! `checkpoint --leave-running` (criu freezes through the cgroup freezer), resumes it; and
//! restores with `restore --detach --pid-file … -no-subreaper --bundle …`.

use crate::containerd::Containerd;
use crate::oci_support::{criu, text};
use crate::support::{CLIENT_WAIT, Client, PEAPOD_OCI, wait_for};

/// A counting task is checkpointed into containerd's content store while it runs (with
/// its writable layer), killed and removed, then restored from the checkpoint: it runs
/// again with what it had (a file written before the checkpoint) and counts on from
/// where it was.
#[test]
#[ignore = "root: cargo xtask test"]
fn ctr_checkpoint_and_restore_a_running_task() {
    let containerd = Containerd::with_criu("ctr-ckpt", &criu());
    // Each number replaces the last by a rename: a reader never sees a half-written file.
    let counter = "i=0; while true; do echo $i > /tmp/n.new; mv /tmp/n.new /tmp/n; i=$((i+1)); sleep 0.05; done";
    let out = containerd.run_task(PEAPOD_OCI, &["--detach"], "ck", &["sh", "-c", counter]);
    assert!(out.status.success(), "{}", text(&out));
    let count = |exec_id: &str| -> Option<u64> {
        let out = containerd.run(&["tasks", "exec", "--exec-id", exec_id, "ck", "cat", "/tmp/n"]);
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    let mut seen = 0;
    wait_for("the counter to reach 5", CLIENT_WAIT, || {
        seen += 1;
        match count(&format!("c{seen}")) {
            Some(n) if n >= 5 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    containerd.ok(&[
        "tasks",
        "exec",
        "--exec-id",
        "mark",
        "ck",
        "sh",
        "-c",
        "echo before > /tmp/mark",
    ]);
    let before = count("before").unwrap();
    containerd.ok(&["containers", "checkpoint", "--task", "--rw", "ck", "ckpt"]);
    kill_and_remove(&containerd);

    containerd.ok(&["containers", "restore", "--live", "--rw", "ck", "ckpt"]);
    let tasks = containerd.ok(&["tasks", "list"]);
    assert!(tasks.contains("RUNNING"), "{tasks}");
    let mark = containerd.ok(&["tasks", "exec", "--exec-id", "m2", "ck", "cat", "/tmp/mark"]);
    assert_eq!(
        mark, "before\n",
        "the restored task lost its writable layer"
    );
    let first = count("r1").unwrap();
    assert!(
        first >= before,
        "restored at {first}, checkpointed after {before}"
    );
    let mut seen = 0;
    wait_for("the restored counter to go on", CLIENT_WAIT, || {
        seen += 1;
        match count(&format!("r{}", seen + 1)) {
            Some(n) if n > first => Ok(()),
            other => Err(format!("{other:?} after {first}")),
        }
    });
    kill_and_remove(&containerd);
    containerd.finish();
}

/// Kills task `ck`, waits until it is stopped, and removes it and its container.
fn kill_and_remove(containerd: &Containerd) {
    containerd.ok(&["tasks", "kill", "--signal", "SIGKILL", "ck"]);
    wait_for("the task to stop", CLIENT_WAIT, || {
        let tasks = containerd.ok(&["tasks", "list"]);
        if tasks.contains("STOPPED") {
            Ok(())
        } else {
            Err(tasks)
        }
    });
    containerd.ok(&["tasks", "delete", "ck"]);
    containerd.ok(&["containers", "delete", "ck"]);
}
