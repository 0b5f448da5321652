//! Ctrl-C during a build: SIGINT, SIGTERM and SIGHUP only set a flag while a build runs, so
//! that a RUN's container is killed and waited for, and every step's mounts and directories
//! are removed, before the build ends with [`BuildError::Interrupted`]. (A container's
//! first process is PID 1 of its namespace, which the terminal's SIGINT does not stop.)

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

use super::BuildError;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn note(_: nix::libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

const SIGNALS: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

/// The handlers while a build runs; the previous ones come back on drop.
pub(crate) struct Guard(Vec<(Signal, SigAction)>);

impl Guard {
    /// Installs the handlers (without `SA_RESTART`, so a wait returns `EINTR`).
    pub(crate) fn install() -> Self {
        INTERRUPTED.store(false, Ordering::SeqCst);
        let action = SigAction::new(SigHandler::Handler(note), SaFlags::empty(), SigSet::empty());
        let mut previous = Vec::new();
        for s in SIGNALS {
            // SAFETY: `note` only stores to an atomic, which is async-signal-safe.
            if let Ok(old) = unsafe { sigaction(s, &action) } {
                previous.push((s, old));
            }
        }
        Self(previous)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for (s, old) in &self.0 {
            // SAFETY: restores the disposition that was there before `install`.
            let _ = unsafe { sigaction(*s, old) };
        }
    }
}

/// Whether a signal asked the build to stop.
pub(crate) fn requested() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// [`BuildError::Interrupted`] if a signal asked the build to stop.
pub(crate) fn check() -> Result<(), BuildError> {
    if requested() {
        Err(BuildError::Interrupted)
    } else {
        Ok(())
    }
}

/// Waits for the container's first process `pid` (our child); on a signal, kills the whole
/// container and goes on waiting. Its exit code (128 + signal when killed). It polls (1 ms
/// doubling to 50 ms) rather than blocks, so that a signal that came just before the wait
/// is not missed.
pub(crate) fn wait(container: &peapod_runtime::Container) -> Result<i32, BuildError> {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    let pid = nix::unistd::Pid::from_raw(container.pid());
    let mut killed = false;
    let mut nap = std::time::Duration::from_millis(1);
    loop {
        if requested() && !killed {
            let _ = container.kill(Signal::SIGKILL, true);
            killed = true;
        }
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, signal, _)) => return Ok(128 + signal as i32),
            Ok(_) => {
                std::thread::sleep(nap);
                nap = (nap * 2).min(std::time::Duration::from_millis(50));
            }
            Err(nix::Error::EINTR) => {}
            Err(e) => {
                return Err(BuildError::Io {
                    action: "wait for",
                    path: container.bundle().to_path_buf(),
                    source: e.into(),
                });
            }
        }
    }
}
