//! `podman container checkpoint` and `podman container restore` with `--runtime
//! PEAPOD_OCI` (issue 11): podman checks criu itself, then runs `peapod-oci checkpoint
//! --image-path … --work-path …` and `restore … --bundle … --detach`; conmon gives the
//! container the host's /dev/null as stdin, which init makes the container's own.

use crate::oci_support::{criu, text};
use crate::podman::Podman;
use crate::support::{CLIENT_WAIT, Client, PEAPOD_OCI, wait_for};

/// A counting container is checkpointed (and so stopped), then restored: it runs again
/// with its writable layer (a file written before the checkpoint) and counts on from
/// where it was.
#[test]
#[ignore = "root: cargo xtask test"]
fn podman_checkpoint_and_restore_a_running_container() {
    let podman = Podman::with_criu("podman-ckpt", &criu());
    // Each number replaces the last by a rename: a reader never sees a half-written file.
    let counter = "i=0; while true; do echo $i > /tmp/n.new; mv /tmp/n.new /tmp/n; i=$((i+1)); sleep 0.05; done";
    let args = ["-d", "--name", "pc", "busybox", "sh", "-c", counter];
    let out = podman.run_container(PEAPOD_OCI, &args);
    assert!(out.status.success(), "{}", text(&out));
    let count = || -> Option<u64> {
        let out = podman.run(&["exec", "pc", "cat", "/tmp/n"]);
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    wait_for("the counter to reach 5", CLIENT_WAIT, || match count() {
        Some(n) if n >= 5 => Ok(()),
        other => Err(format!("{other:?}")),
    });
    podman.ok(&["exec", "pc", "sh", "-c", "echo before > /tmp/mark"]);
    let before = count().unwrap();
    podman.ok(&["container", "checkpoint", "pc"]);
    let state = podman.ok(&["inspect", "--format", "{{.State.Status}}", "pc"]);
    assert_eq!(state.trim(), "exited", "after the checkpoint");

    podman.ok(&["container", "restore", "pc"]);
    let state = podman.ok(&["inspect", "--format", "{{.State.Status}}", "pc"]);
    assert_eq!(state.trim(), "running", "after the restore");
    let mark = podman.ok(&["exec", "pc", "cat", "/tmp/mark"]);
    assert_eq!(
        mark, "before\n",
        "the restored container lost its writable layer"
    );
    let first = count().unwrap();
    assert!(
        first >= before,
        "restored at {first}, checkpointed after {before}"
    );
    wait_for(
        "the restored counter to go on",
        CLIENT_WAIT,
        || match count() {
            Some(n) if n > first => Ok(()),
            other => Err(format!("{other:?} after {first}")),
        },
    );
    podman.finish();
}
