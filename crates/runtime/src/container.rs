//! The public face of the runtime: one container, loaded from the runtime root, and the
//! OCI operations on it.

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{OFlag, open};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;
use peapod_cgroup::Cgroup;
use serde::Serialize;

use crate::state::{Paths, Record};
use crate::{Error, Result, Status, create, hooks, proc};

/// How to create a container.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// The runtime's state root (`peapod-oci --root`), e.g. `/run/peapod-oci`.
    pub root: PathBuf,
    /// The bundle directory holding `config.json`.
    pub bundle: PathBuf,
    /// Where to write init's pid.
    pub pid_file: Option<PathBuf>,
    /// A unix socket to receive the pty master when `process.terminal` is true.
    pub console_socket: Option<PathBuf>,
    /// Pass fds 3..3+N to the container process.
    pub preserve_fds: u32,
    /// Move the rootfs to / and chroot instead of pivot_root (for ramfs roots).
    pub no_pivot: bool,
}

/// The state document of `peapod-oci state`: the runtime spec's fields plus runc's extras.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StateReport {
    pub oci_version: String,
    pub id: String,
    pub status: Status,
    pub pid: i32,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
}

/// A container known to the runtime.
#[derive(Debug)]
pub struct Container {
    pub(crate) paths: Paths,
    pub(crate) record: Record,
    /// The cgroup, opened on first use (or kept from `create`).
    pub(crate) cgroup: std::cell::OnceCell<Cgroup>,
    /// `create`'s warnings (resources this host ignored), until taken.
    pub(crate) warnings: Vec<Error>,
}

impl Container {
    /// Creates container `id` from a bundle. On success the container is `created`: its
    /// process waits for [`Container::start`]. On failure nothing is left behind.
    /// Its warnings (resources this host ignored, as runc ignores them) wait in
    /// [`Container::take_warnings`].
    pub fn create(id: &str, opts: &CreateOptions) -> Result<Self> {
        let (record, paths, cgroup, warnings) = create::create(id, opts, false)?;
        Ok(Self {
            paths,
            record,
            cgroup: cgroup.into(),
            warnings,
        })
    }

    /// The warnings of [`Container::create`], once: settings the runtime went on without.
    pub fn take_warnings(&mut self) -> Vec<Error> {
        std::mem::take(&mut self.warnings)
    }

    /// Creates container `id` and starts it at once, as `run` does: its process goes on to
    /// its program without waiting for [`Container::start`] (there is no exec fifo), and the
    /// poststart hooks run. Returns the container and the poststart hooks' failures, which
    /// are warnings as for `start`, after `create`'s own. On failure nothing is left behind.
    pub fn create_and_start(id: &str, opts: &CreateOptions) -> Result<(Self, Vec<Error>)> {
        let (record, paths, cgroup, mut warnings) = create::create(id, opts, true)?;
        let container = Self {
            paths,
            record,
            cgroup: cgroup.into(),
            warnings: Vec::new(),
        };
        warnings.extend(container.run_poststart_hooks());
        Ok((container, warnings))
    }

    /// Loads container `id` from the runtime root.
    pub fn load(root: &Path, id: &str) -> Result<Self> {
        create::validate_id(id)?;
        let paths = Paths::new(root, id);
        if !paths.state().exists() {
            // What an interrupted delete left is no container: clear it away.
            paths.remove_leftover();
            return Err(Error::NotFound(id.to_owned()));
        }
        Ok(Self {
            record: Record::load(&paths)?,
            paths,
            cgroup: std::cell::OnceCell::new(),
            warnings: Vec::new(),
        })
    }

    /// Every container under the runtime root, by id.
    pub fn list(root: &Path) -> Result<Vec<Self>> {
        let entries = match std::fs::read_dir(root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("list", root)(e)),
        };
        let mut containers: Vec<Self> = entries
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter_map(|id| Self::load(root, &id).ok())
            .collect();
        containers.sort_by(|a, b| a.id().cmp(b.id()));
        Ok(containers)
    }

    pub fn id(&self) -> &str {
        &self.record.id
    }

    /// Init's pid in the runtime's pid namespace.
    pub fn pid(&self) -> i32 {
        self.record.pid
    }

    pub fn bundle(&self) -> &Path {
        &self.record.bundle
    }

    pub fn created(&self) -> &str {
        &self.record.created
    }

    pub fn status(&self) -> Status {
        self.record.status(&self.paths)
    }

    pub fn state(&self) -> StateReport {
        let status = self.status();
        StateReport {
            oci_version: self.record.oci_version.clone(),
            id: self.record.id.clone(),
            status,
            pid: if status == Status::Stopped {
                0
            } else {
                self.record.pid
            },
            bundle: self.record.bundle.clone(),
            rootfs: self.record.rootfs.clone(),
            created: self.record.created.clone(),
            annotations: self.record.annotations.clone(),
        }
    }

    /// Lets a created container's process exec. Returns the poststart hooks' failures,
    /// which the spec makes warnings.
    pub fn start(&self) -> Result<Vec<Error>> {
        self.require("start", &[Status::Created], "created")?;
        let fifo = self.paths.exec_fifo();
        let reader = open(
            &fifo,
            OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(Error::sys(format!("open {}", fifo.display())))?;
        // Init opens the fifo for writing once a reader exists, then writes one byte.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut fds = [PollFd::new(reader.as_fd(), PollFlags::POLLIN)];
            let _ = poll(&mut fds, PollTimeout::from(10u16));
            let mut byte = [0u8; 1];
            match nix::unistd::read(reader.as_fd(), &mut byte) {
                Ok(1) => break,
                Ok(_) | Err(nix::Error::EAGAIN) | Err(nix::Error::EINTR) => {}
                Err(e) => return Err(Error::sys(format!("read {}", fifo.display()))(e)),
            }
            if !proc::is_alive(self.record.pid, self.record.pid_start_time)
                || Instant::now() >= deadline
            {
                return Err(Error::Init {
                    id: self.record.id.clone(),
                    message: "the container process did not start (it exited, or never opened the exec fifo)".into(),
                });
            }
        }
        let _ = std::fs::remove_file(&fifo);
        Ok(self.run_poststart_hooks())
    }

    /// The poststart hooks, each on its own: their failures are returned, not fatal.
    fn run_poststart_hooks(&self) -> Vec<Error> {
        if self.record.poststart.is_empty() {
            return Vec::new();
        }
        let state = self.hook_state(Status::Running);
        self.record
            .poststart
            .iter()
            .filter_map(|hook| hooks::run("poststart", std::slice::from_ref(hook), &state).err())
            .collect()
    }

    /// Sends `signal` to init, or with `all` to every process in the container's cgroup.
    ///
    /// As runc 1.1 does: `all` signals whatever is left in the cgroup whatever the state,
    /// and succeeds on a stopped container (containerd's CRI plugin sends `kill --all ID 9`
    /// after every exit); a plain kill of a container that is not created, running or paused
    /// is [`Error::NotRunning`]; SIGKILL to a paused container thaws it (a frozen process
    /// cannot die).
    pub fn kill(&self, signal: Signal, all: bool) -> Result<()> {
        let status = self.status();
        if all {
            return match self.cgroup() {
                Ok(cgroup) => Ok(cgroup.kill_all(signal)?),
                Err(Error::Cgroup(e)) if status == Status::Stopped && e.is_not_found() => Ok(()),
                Err(e) => Err(e),
            };
        }
        if !matches!(status, Status::Created | Status::Running | Status::Paused) {
            return Err(Error::NotRunning {
                id: self.record.id.clone(),
                status: status.to_string(),
            });
        }
        kill(Pid::from_raw(self.record.pid), signal).map_err(|source| Error::Signal {
            id: self.record.id.clone(),
            pid: self.record.pid,
            source,
        })?;
        if status == Status::Paused && signal == Signal::SIGKILL {
            self.cgroup()?.thaw()?;
        }
        Ok(())
    }

    /// Deletes the container: its cgroup, its state, then the poststop hooks (whose failures
    /// are returned as warnings). A running container needs `force`, which kills it first.
    pub fn delete(self, force: bool) -> Result<Vec<Error>> {
        match self.status() {
            Status::Stopped => {}
            Status::Created | Status::Creating => self.kill_and_wait()?,
            Status::Running | Status::Paused if force => self.kill_and_wait()?,
            status => {
                return Err(Error::WrongState {
                    id: self.record.id.clone(),
                    status: status.to_string(),
                    action: "delete without --force",
                    needed: "stopped",
                });
            }
        }
        // Without a pid namespace of its own, init's death killed nobody else: its children
        // live on in the shared namespace. Kill what is left in its cgroup, as runc does;
        // and what a killed `create` left there (its intermediate, an init it never noted).
        if !self.has_private_pid_namespace() || self.record.creator.is_some() {
            self.kill_every_process();
        }
        if let Some(cgroup) = self.cgroup.get() {
            cgroup.remove()?;
        } else if self.record.cgroup_path.is_some() {
            match self.open_cgroup() {
                Ok(cgroup) => cgroup.remove()?,
                // An interrupted delete removed the leaf but maybe not the parents it made.
                Err(e) if e.is_not_found() => self.remove_recorded_parents(),
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(mount_id) = self.record.shared_root_mount {
            peapod_rootfs::release_shared_root(&self.record.rootfs, mount_id)?;
        }
        let state = if self.record.poststop.is_empty() {
            String::new()
        } else {
            self.hook_state(Status::Stopped)
        };
        self.paths.remove()?;
        Ok(self
            .record
            .poststop
            .iter()
            .filter_map(|hook| hooks::run("poststop", std::slice::from_ref(hook), &state).err())
            .collect())
    }

    /// Waits for init to exit and returns its exit code (128 + signal if killed). Only the
    /// process that created the container (init's parent) can wait for it.
    pub fn wait(&self) -> Result<i32> {
        wait_for(self.record.pid)
    }

    /// The container's own `process`, as its config had it at create time: the template
    /// for `exec`.
    pub fn config_process(&self) -> Result<oci_spec::runtime::Process> {
        self.record
            .process
            .clone()
            .ok_or_else(|| Error::InvalidConfig {
                path: self.paths.state(),
                why: "process is missing".into(),
            })
    }

    /// Runs another process in the container; returns its pid, a child of the caller (so
    /// [`wait_for`] can collect its exit code). The caller must be single-threaded.
    pub fn exec(&self, opts: &crate::ExecOptions) -> Result<i32> {
        self.require(
            "exec",
            &[Status::Created, Status::Running],
            "created or running",
        )?;
        // What create recorded, never the bundle's config.json (which may have changed).
        let invalid = |why: String| Error::InvalidConfig {
            path: self.paths.state(),
            why,
        };
        let namespaces = peapod_ns::Namespaces::from_oci(&self.record.namespaces)?;
        let seccomp = match &self.record.seccomp {
            Some(profile) => Some(
                crate::seccomp::compile(
                    profile,
                    self.paths
                        .dir
                        .parent()
                        .map(|r| r.join(crate::seccomp::CACHE_DIR))
                        .as_deref(),
                )
                .map_err(invalid)?,
            ),
            None => None,
        };
        crate::exec::spawn(
            &self.record.id,
            self.record.pid,
            &namespaces,
            seccomp.as_ref(),
            self.cgroup()?,
            opts,
        )
    }

    /// Every pid in the container's cgroup.
    pub fn pids(&self) -> Result<Vec<i32>> {
        Ok(self.cgroup()?.pids()?)
    }

    /// Freezes every process of a running or created container (runc pauses both).
    pub fn pause(&self) -> Result<()> {
        self.require(
            "pause",
            &[Status::Created, Status::Running],
            "created or running",
        )?;
        Ok(self.cgroup()?.freeze()?)
    }

    /// Thaws a paused container.
    pub fn resume(&self) -> Result<()> {
        self.require("resume", &[Status::Paused], "paused")?;
        Ok(self.cgroup()?.thaw()?)
    }

    pub(crate) fn cgroup(&self) -> Result<&Cgroup> {
        if let Some(cgroup) = self.cgroup.get() {
            return Ok(cgroup);
        }
        let cgroup = self.open_cgroup()?;
        Ok(self.cgroup.get_or_init(|| cgroup))
    }

    /// The parents `create` made, deepest first, where empty (rmdir refuses a cgroup that
    /// still has children or processes: one another container uses stays).
    fn remove_recorded_parents(&self) {
        let mut parents = self.record.cgroup_created_parents.clone();
        parents.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for parent in parents {
            let _ = std::fs::remove_dir(parent);
        }
    }

    /// The container's cgroup, with the parents `create` made. A `create` killed between
    /// making the cgroup and recording its parents may have made any of them: each is then
    /// adopted, and `remove` deletes those left empty (one in use stays).
    fn open_cgroup(&self) -> peapod_cgroup::Result<Cgroup> {
        let path = self.record.cgroup_path.as_deref().unwrap_or_default();
        let recorded = &self.record.cgroup_created_parents;
        if self.record.creator.is_none() || !recorded.is_empty() {
            return Cgroup::open_with_created_parents(path, recorded);
        }
        let levels = Path::new(path)
            .components()
            .filter(|c| matches!(c, std::path::Component::Normal(_)))
            .count();
        let leaf = match Cgroup::open(path) {
            Ok(leaf) => leaf,
            // Killed before it made the leaf anywhere, maybe after a parent: make the leaf
            // (and whatever is missing) so that its parents are known; delete removes it all.
            Err(e) if e.is_not_found() => Cgroup::create(path)?,
            Err(e) => return Err(e),
        };
        let parents: Vec<PathBuf> = leaf
            .directories()
            .iter()
            .flat_map(|dir| dir.ancestors().skip(1).take(levels.saturating_sub(1)))
            .map(Path::to_path_buf)
            .collect();
        Cgroup::open_with_created_parents(path, &parents)
    }

    pub(crate) fn require(
        &self,
        action: &'static str,
        allowed: &[Status],
        needed: &'static str,
    ) -> Result<()> {
        let status = self.status();
        if allowed.contains(&status) {
            return Ok(());
        }
        Err(Error::WrongState {
            id: self.record.id.clone(),
            status: status.to_string(),
            action,
            needed,
        })
    }

    /// Whether the container made its own pid namespace (not none, not one joined by path).
    fn has_private_pid_namespace(&self) -> bool {
        self.record
            .namespaces
            .iter()
            .any(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::Pid && n.path().is_none())
    }

    /// SIGKILL to every process of the cgroup, frozen or not (best effort: `remove` then
    /// reports what is left).
    fn kill_every_process(&self) {
        if let Ok(cgroup) = self.cgroup() {
            if cgroup.is_frozen().unwrap_or(false) {
                let _ = cgroup.kill_all(Signal::SIGKILL);
                let _ = cgroup.thaw();
            }
            let _ = cgroup.kill_all(Signal::SIGKILL);
        }
    }

    fn kill_and_wait(&self) -> Result<()> {
        self.kill_every_process();
        // Never 0 (our own process group): a killed create may not have noted init.
        if self.record.pid > 0 {
            let _ = kill(Pid::from_raw(self.record.pid), Signal::SIGKILL);
        }
        if !proc::wait_dead(
            self.record.pid,
            self.record.pid_start_time,
            Duration::from_secs(10),
        ) {
            return Err(Error::Signal {
                id: self.record.id.clone(),
                pid: self.record.pid,
                source: nix::Error::ETIMEDOUT,
            });
        }
        Ok(())
    }

    fn hook_state(&self, status: Status) -> String {
        oci_state(
            &self.record.id,
            status,
            self.record.pid,
            &self.record.bundle,
            Some(&self.record.annotations),
        )
    }
}

/// Waits for child `pid` and returns its exit code (128 + signal if killed).
pub fn wait_for(pid: i32) -> Result<i32> {
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, signal, _)) => return Ok(128 + signal as i32),
            Ok(_) | Err(nix::Error::EINTR) => {}
            Err(e) => return Err(Error::sys(format!("wait for process {pid}"))(e)),
        }
    }
}

/// The OCI state document hooks receive on stdin.
pub(crate) fn oci_state(
    id: &str,
    status: Status,
    pid: i32,
    bundle: &Path,
    annotations: Option<&HashMap<String, String>>,
) -> String {
    serde_json::json!({
        "ociVersion": oci_spec::runtime::VERSION,
        "id": id,
        "status": status,
        "pid": pid,
        "bundle": bundle,
        "annotations": annotations.cloned().unwrap_or_default(),
    })
    .to_string()
}

/// Parses a signal as runc does: `KILL`, `SIGKILL` or `9`.
pub fn parse_signal(text: &str) -> Result<Signal> {
    let unknown = || Error::UnknownSignal(text.to_owned());
    if let Ok(number) = text.parse::<i32>() {
        return Signal::try_from(number).map_err(|_| unknown());
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>().map_err(|_| unknown())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_by_name_short_name_and_number() {
        assert_eq!(parse_signal("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("sigterm").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert_eq!(
            parse_signal("NOPE").unwrap_err().to_string(),
            "unknown signal \"NOPE\""
        );
        assert!(parse_signal("99").is_err());
    }

    #[test]
    fn a_missing_container_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Container::load(dir.path(), "ghost")
                .unwrap_err()
                .to_string(),
            "container ghost does not exist"
        );
        assert!(
            Container::list(&dir.path().join("none"))
                .unwrap()
                .is_empty()
        );
    }
}
