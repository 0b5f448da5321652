//! Freezing, thawing and signalling every member of a cgroup.

use std::path::PathBuf;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

use crate::cgroup::Cgroup;
use crate::error::{Error, Result};
use crate::fsutil;

/// How long `freeze` waits for the freezer to report FROZEN.
const FREEZE_WAIT: Duration = Duration::from_secs(5);

enum Freezer {
    /// `freezer.state` of the v1 freezer hierarchy.
    V1(PathBuf),
    /// The cgroup's directory in the unified hierarchy (`cgroup.freeze`, `cgroup.events`).
    V2(PathBuf),
}

/// The value of `frozen` in a `cgroup.events` text.
pub(crate) fn events_frozen(events: &str) -> Option<bool> {
    events.lines().find_map(|l| match l.split_once(' ') {
        Some(("frozen", v)) => Some(v.trim() == "1"),
        _ => None,
    })
}

impl Cgroup {
    fn freezer(&self) -> Result<Freezer> {
        if let Some(d) = self.v1_dir("freezer") {
            return Ok(Freezer::V1(d.join("freezer.state")));
        }
        if let Some(u) = &self.unified {
            if u.dir.join("cgroup.freeze").exists() || !u.dir.exists() {
                return Ok(Freezer::V2(u.dir.clone()));
            }
        }
        Err(Error::Unsupported {
            setting: "freezing".into(),
            reason: "no v1 freezer hierarchy is mounted and there is no cgroup v2 cgroup.freeze (Linux >= 5.2)"
                .into(),
        })
    }

    /// Freezes every process in the cgroup; returns once the freezer says FROZEN (v1
    /// `freezer.state`, v2 `cgroup.events`: frozen 1). Times out after 5 s, thawing again.
    pub fn freeze(&self) -> Result<()> {
        match self.freezer()? {
            Freezer::V1(state) => {
                let mut last = String::new();
                let done = fsutil::poll(FREEZE_WAIT, || {
                    fsutil::write(&state, "FROZEN", None)?;
                    last = fsutil::read(&state)?.trim().to_owned();
                    Ok((last == "FROZEN").then_some(()))
                })?;
                if done.is_none() {
                    let _ = fsutil::write(&state, "THAWED", None);
                    return Err(timeout(state, "FROZEN", last));
                }
                Ok(())
            }
            Freezer::V2(dir) => {
                fsutil::write(&dir.join("cgroup.freeze"), "1", None)?;
                if let Err(e) = wait_v2(&dir, true) {
                    let _ = fsutil::write(&dir.join("cgroup.freeze"), "0", None);
                    return Err(e);
                }
                Ok(())
            }
        }
    }

    /// Thaws the cgroup; returns once the freezer says THAWED.
    pub fn thaw(&self) -> Result<()> {
        match self.freezer()? {
            Freezer::V1(state) => {
                let mut last = String::new();
                let done = fsutil::poll(FREEZE_WAIT, || {
                    fsutil::write(&state, "THAWED", None)?;
                    last = fsutil::read(&state)?.trim().to_owned();
                    Ok((last == "THAWED").then_some(()))
                })?;
                match done {
                    Some(()) => Ok(()),
                    None => Err(timeout(state, "THAWED", last)),
                }
            }
            Freezer::V2(dir) => {
                fsutil::write(&dir.join("cgroup.freeze"), "0", None)?;
                wait_v2(&dir, false)
            }
        }
    }

    /// True once the freezer reports the cgroup frozen (not while it is still freezing).
    pub fn is_frozen(&self) -> Result<bool> {
        match self.freezer()? {
            Freezer::V1(state) => Ok(fsutil::read(&state)?.trim() == "FROZEN"),
            Freezer::V2(dir) => read_frozen(&dir),
        }
    }

    /// Sends `signal` to every process in the cgroup (and its child cgroups).
    ///
    /// On a pure v2 host, SIGKILL is one write to `cgroup.kill` (Linux >= 5.14). Otherwise
    /// the cgroup is frozen, every pid signalled, then thawed, so that nothing forks past
    /// the signal; a cgroup that was already frozen stays frozen, except for SIGKILL (frozen
    /// processes cannot die). Does not wait for the processes to exit.
    pub fn kill_all(&self, signal: Signal) -> Result<()> {
        if signal == Signal::SIGKILL && self.is_pure_v2() {
            if let Some(u) = &self.unified {
                let kill = u.dir.join("cgroup.kill");
                if kill.exists() {
                    return fsutil::write(&kill, "1", None);
                }
            }
        }
        let has_freezer = self.freezer().is_ok();
        let was_frozen = has_freezer && self.is_frozen()?;
        let froze = if has_freezer && !was_frozen {
            match self.freeze() {
                Ok(()) => true,
                // A process stuck in the kernel: signal without the freezer's guarantee.
                Err(Error::Timeout { .. }) => false,
                Err(e) => return Err(e),
            }
        } else {
            false
        };
        let sent = if froze || was_frozen {
            self.signal_each(signal).map(|_| ())
        } else {
            // No freezer: repeat while new pids show up (forks racing with us).
            let mut seen = Vec::new();
            let mut r = Ok(());
            for _ in 0..10 {
                match self.signal_each_except(signal, &seen) {
                    Ok(new) if new.is_empty() => break,
                    Ok(new) => seen.extend(new),
                    Err(e) => {
                        r = Err(e);
                        break;
                    }
                }
            }
            r
        };
        let thawed = if froze || (was_frozen && signal == Signal::SIGKILL) {
            self.thaw()
        } else {
            Ok(())
        };
        sent.and(thawed)
    }

    fn signal_each(&self, signal: Signal) -> Result<Vec<i32>> {
        self.signal_each_except(signal, &[])
    }

    fn signal_each_except(&self, signal: Signal, skip: &[i32]) -> Result<Vec<i32>> {
        let mut sent = Vec::new();
        for pid in self.pids()? {
            if skip.contains(&pid) {
                continue;
            }
            match signal::kill(Pid::from_raw(pid), signal) {
                Ok(()) | Err(Errno::ESRCH) => sent.push(pid),
                Err(err) => {
                    return Err(Error::Signal {
                        path: self.directories().into_iter().next().unwrap_or_default(),
                        pid,
                        signal,
                        err,
                    });
                }
            }
        }
        Ok(sent)
    }
}

fn read_frozen(dir: &std::path::Path) -> Result<bool> {
    let events = dir.join("cgroup.events");
    let text = fsutil::read(&events)?;
    events_frozen(&text).ok_or_else(|| Error::Parse {
        path: events,
        reason: "no \"frozen\" line".into(),
    })
}

fn wait_v2(dir: &std::path::Path, frozen: bool) -> Result<()> {
    let done = fsutil::poll(FREEZE_WAIT, || {
        Ok((read_frozen(dir)? == frozen).then_some(()))
    })?;
    match done {
        Some(()) => Ok(()),
        None => Err(timeout(
            dir.join("cgroup.events"),
            if frozen { "frozen 1" } else { "frozen 0" },
            format!("frozen {}", u8::from(!frozen)),
        )),
    }
}

fn timeout(path: PathBuf, wanted: &'static str, last: String) -> Error {
    Error::Timeout {
        path,
        wanted,
        last,
        millis: FREEZE_WAIT.as_millis() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_events_frozen_line() {
        assert_eq!(events_frozen("populated 1\nfrozen 1\n"), Some(true));
        assert_eq!(events_frozen("populated 0\nfrozen 0\n"), Some(false));
        assert_eq!(events_frozen("populated 0\n"), None);
    }
}
