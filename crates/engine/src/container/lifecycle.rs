//! `start`, `stop`, `kill`, `restart`, `wait`, `pause`, `unpause`: the engine's side of a
//! container's life, through its monitor and the runtime.

use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{ContainerRecord, Containers, State, now_ns};
use crate::error::{Error, Result};
use crate::monitor::run::Ready;
use crate::monitor::{self, MONITOR_ARG, MonitorConfig};
use crate::rootfs::ContainerRootfs;

/// What [`Containers::start`] gives back.
#[derive(Debug)]
pub struct StartedContainer {
    /// The container, running.
    pub record: ContainerRecord,
    /// The attach socket, connected before the container started (with `attach`).
    pub attach: Option<OwnedFd>,
}

/// A `--runtime` value as a path: a name is looked up in `PATH`.
pub(crate) fn runtime_path(runtime: &str) -> PathBuf {
    if runtime.contains('/') {
        return PathBuf::from(runtime);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(runtime))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(runtime))
}

/// The `ociVersion` a bundle for another runtime says: crun 1.8 refuses a version it does not
/// know (1.2.0 among them: "unknown version specified"), runc 1.1 reads any, and every
/// runtime of the 1.x line accepts 1.0.2. The label changes nothing in how the fields are
/// read: a runtime parses every field it knows whatever the version says.
pub(crate) const EXTERNAL_OCI_VERSION: &str = "1.0.2";

/// Refuses, before anything is made, an external runtime that cannot run on this host: crun
/// (1.8, Debian's; every release since too) refuses a hybrid cgroup host whose cgroup2
/// mount holds controllers ("cgroups in hybrid mode not supported"), as this machine's
/// does (hugetlb). On cgroup v2 (or v1) crun is let through.
pub(crate) fn check_runtime(runtime: &str) -> Result<()> {
    let path = runtime_path(runtime);
    if path.file_name().and_then(|n| n.to_str()) != Some("crun") {
        return Ok(());
    }
    let Ok(peapod_cgroup::Layout::Hybrid { unified, .. }) = peapod_cgroup::Layout::detect() else {
        return Ok(());
    };
    let file = unified.mount_point.join("cgroup.controllers");
    let controllers = std::fs::read_to_string(&file).unwrap_or_default();
    if controllers.trim().is_empty() {
        return Ok(());
    }
    Err(Error::InvalidFlag {
        flag: "--runtime",
        value: runtime.to_owned(),
        why: format!(
            "crun ({}) does not run containers on this host's hybrid cgroups: v1 controllers \
             plus a cgroup2 mount at {} that holds controllers ({}), which crun refuses \
             (\"cgroups in hybrid mode not supported\"); use the built-in runtime or runc here, \
             crun on a cgroup v2 host",
            path.display(),
            unified.mount_point.display(),
            controllers.trim()
        ),
    })
}

impl Containers<'_> {
    /// The state directory of the container's runtime: the built-in one's, or one per
    /// external runtime (their layouts differ).
    pub(crate) fn runtime_root(&self, record: &ContainerRecord) -> PathBuf {
        match &record.config.runtime {
            None => self.engine.runtime_root(),
            Some(r) => {
                let name = Path::new(r)
                    .file_name()
                    .map_or_else(|| "other".into(), |n| n.to_string_lossy().into_owned());
                self.engine.runroot.join(format!("runtime-{name}"))
            }
        }
    }

    /// `start`: starts a created or exited container through a new monitor. With
    /// `attach`, the attach socket is connected before the container starts, so that no
    /// output is missed (foreground `run`, `start -a`).
    ///
    /// # Errors
    /// [`Error::CommandNotFound`]/[`Error::CommandNotExecutable`] when its program cannot
    /// run, [`Error::WrongState`], monitor and I/O errors. The container is left `exited`
    /// (code 125/126/127) after a failed start.
    pub fn start(&self, key: &str, attach: bool) -> Result<StartedContainer> {
        let record = self.get(key)?;
        record.refuse_infra()?;
        match record.state {
            State::Running | State::Restarting | State::Paused if !attach => {
                return Ok(StartedContainer {
                    record,
                    attach: None,
                });
            }
            State::Created | State::Exited => {}
            state => {
                return Err(Error::WrongState {
                    name: record.name,
                    state: state.to_string(),
                    action: "start it",
                });
            }
        }
        let engine = self.engine;
        // A pod's member needs the pod's namespaces: its infra runs first.
        let mut joins_pid = false;
        if let Some(pod) = &record.config.pod {
            let pod = engine.pods().get(pod)?;
            engine.pods().ensure_infra(&pod)?;
            joins_pid = pod.config.share.pid;
        }
        // The monitor moves the container into its cgroup in a few milliseconds: on a v1
        // host, pay the attach lock's grace period meanwhile, on a thread of ours (nothing
        // forks while it runs: the monitor is spawned by exec; it is joined below).
        let _primer = std::thread::Builder::new()
            .name("cgroup-prime".into())
            .spawn(peapod_cgroup::prime_attach);
        let paths = engine.paths(&record.id);
        let rootfs = ContainerRootfs::at(&paths.dir);
        if !is_mounted(&rootfs.merged(), &paths.dir) {
            let image = record
                .image_id
                .parse::<peapod_image::Digest>()
                .ok()
                .and_then(|d| engine.images.store().image(&d).ok().flatten())
                .ok_or_else(|| Error::Monitor {
                    name: record.name.clone(),
                    why: format!("its image {} is gone", record.image_id),
                })?;
            let layers: Vec<PathBuf> = image
                .layers
                .iter()
                .map(|l| engine.images.store().layer_path(&l.chain_id))
                .collect();
            rootfs.mount(&layers)?;
        }
        if attach && record.config.config.tty {
            set_console_size(&paths.dir)?;
        }
        let _ = std::fs::remove_dir_all(&paths.run);
        std::fs::create_dir_all(&paths.run).map_err(Error::io("create", &paths.run))?;
        let opts = &record.config;
        let cfg = MonitorConfig {
            id: record.id.clone(),
            name: record.name.clone(),
            root: engine.root.clone(),
            runroot: engine.runroot.clone(),
            bundle: paths.dir.clone(),
            runtime: opts.runtime.as_deref().map(runtime_path),
            runtime_root: self.runtime_root(&record),
            log_path: paths.log(),
            log_max_size: match opts.log_max_size {
                Some(0) => None,
                Some(n) => Some(n),
                None => Some(10 << 20),
            },
            log_max_files: opts.log_max_files.unwrap_or(3).max(1),
            tty: opts.config.tty,
            stdin: opts.stdin,
            wait_attach: attach,
            restart: opts.restart_policy(),
            health: opts
                .health
                .clone()
                .filter(|h| crate::monitor::health_command(&h.test).is_some()),
            probes: opts.probes.clone(),
            autoremove: opts.autoremove,
            restart_count: record.restart_count,
            cgroup_path: super::cgroup_path(&record),
            network: matches!(opts.network, super::NetworkMode::Bridge(_)),
            publish: opts.publish.clone(),
            image: record.image_name.clone(),
            joins_pid,
        };
        let cfg_path = paths.run.join("monitor.json");
        let bytes = serde_json::to_vec(&cfg).map_err(Error::json("the monitor config"))?;
        std::fs::write(&cfg_path, bytes).map_err(Error::io("write", &cfg_path))?;
        super::pause_point("start:mounted");
        self.setup_network(&record)?;
        self.join_container_network(&record)?;
        let result = self.spawn_monitor(&record, &paths.run, attach);
        // Joined before returning: a caller may fork once `start` is done.
        if let Ok(primer) = _primer {
            let _ = primer.join();
        }
        super::pause_point("start:monitor");
        match result {
            Ok((pid, sock)) => {
                let mut record = record;
                record.state = State::Running;
                record.pid = pid;
                record.started = Some(now_ns());
                record.exit_code = None;
                if let Some(s) = monitor::MonitorState::load(&paths.run) {
                    record.monitor_pid = s.monitor_pid;
                    record.started = s.started.or(record.started);
                }
                engine.db.update_state(&record)?;
                crate::events::record(engine, "start", &record);
                Ok(StartedContainer {
                    record,
                    attach: sock,
                })
            }
            Err(e) => {
                // The monitor recorded the failed start; bring the row in line.
                let _ = self.wait_monitor_gone(&paths.run, Duration::from_secs(10));
                let mut record = record;
                record.state = State::Running;
                if let Ok(r) = self.reconcile(record) {
                    let mut r = r;
                    r.exit_code = Some(i32::from(e.exit_code()));
                    let _ = engine.db.update_state(&r);
                }
                Err(e)
            }
        }
    }

    /// Starts the monitor and waits for it to report the container started.
    fn spawn_monitor(
        &self,
        record: &ContainerRecord,
        run: &Path,
        attach: bool,
    ) -> Result<(i32, Option<OwnedFd>)> {
        let (ready_r, ready_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(Error::sys("create a pipe"))?;
        // The write end goes to the monitor: no close-on-exec for it alone.
        nix::fcntl::fcntl(
            &ready_w,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        )
        .map_err(Error::sys("pass a pipe to the monitor"))?;
        // What the monitor itself says (a panic, a failure to clean up) goes to a file of
        // its run directory.
        let log = std::fs::File::create(run.join("monitor.log"))
            .map_err(Error::io("create", &run.join("monitor.log")))?;
        let mut child = Command::new(&self.engine.monitor_program)
            .arg(MONITOR_ARG)
            .arg(run)
            .arg(ready_w.as_raw_fd().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(Error::io("run the monitor", &self.engine.monitor_program))?;
        drop(ready_w);
        let _ = child.wait();
        let mut sock = None;
        let lost = |why: &str| Error::Monitor {
            name: record.name.clone(),
            why: why.to_owned(),
        };
        for line in BufReader::new(std::fs::File::from(ready_r)).lines() {
            let line = line.map_err(|e| lost(&format!("cannot read its monitor's report: {e}")))?;
            match serde_json::from_str::<Ready>(&line) {
                Ok(Ready::Listening) if attach => {
                    sock = Some(monitor::attach::connect_socket(
                        &self.engine.paths(&record.id).attach_socket(),
                    )?);
                }
                Ok(Ready::Listening) => {}
                Ok(Ready::Started(pid)) => return Ok((pid, sock)),
                Ok(Ready::Failed(127, message)) => return Err(Error::CommandNotFound(message)),
                Ok(Ready::Failed(126, message)) => {
                    return Err(Error::CommandNotExecutable(message));
                }
                Ok(Ready::Failed(_, message)) => return Err(lost(&message)),
                Err(_) => return Err(lost(&format!("its monitor reported {line:?}"))),
            }
        }
        Err(lost("its monitor exited before starting it"))
    }

    /// Waits until no monitor holds the run directory's lock; false on timeout.
    pub(crate) fn wait_monitor_gone(&self, run: &Path, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        loop {
            if !monitor::is_alive(run) {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends a signal to the container's init (or every process, with `all`) through its
    /// runtime.
    pub(crate) fn signal(&self, record: &ContainerRecord, signal: &str, all: bool) -> Result<()> {
        match &record.config.runtime {
            None => {
                let c = peapod_runtime::Container::load(&self.runtime_root(record), &record.id)?;
                c.kill(peapod_runtime::parse_signal(signal)?, all)?;
                Ok(())
            }
            Some(runtime) => {
                let path = runtime_path(runtime);
                let mut cmd = Command::new(&path);
                cmd.arg("--root").arg(self.runtime_root(record)).arg("kill");
                if all {
                    cmd.arg("--all");
                }
                let out = cmd
                    .arg(&record.id)
                    .arg(signal)
                    .output()
                    .map_err(Error::io("run", &path))?;
                if out.status.success() {
                    Ok(())
                } else {
                    Err(Error::ExternalRuntime {
                        runtime: path.display().to_string(),
                        message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                    })
                }
            }
        }
    }

    /// `kill [-s SIGNAL]`: signals a running container (no restart follows).
    ///
    /// # Errors
    /// [`Error::WrongState`] if it is not running; runtime errors.
    pub fn kill(&self, key: &str, signal: &str) -> Result<ContainerRecord> {
        let record = self.get(key)?;
        record.refuse_infra()?;
        if !matches!(record.state, State::Running | State::Paused) {
            return Err(Error::WrongState {
                name: record.name,
                state: record.state.to_string(),
                action: "kill it",
            });
        }
        peapod_runtime::parse_signal(signal)?;
        let paths = self.engine.paths(&record.id);
        let _ = std::fs::write(paths.stop_marker(), b"");
        self.signal(&record, signal, false)?;
        crate::events::record(self.engine, "kill", &record);
        Ok(record)
    }

    /// `stop [-t SECONDS]`: the stop signal, then SIGKILL after the timeout (the
    /// container's `--stop-timeout`, else 10 s). A container that is not running is left
    /// as it is.
    ///
    /// # Errors
    /// Runtime errors; [`Error::Monitor`] if it does not die even after SIGKILL.
    pub fn stop(&self, key: &str, timeout: Option<u32>) -> Result<ContainerRecord> {
        let record = self.get(key)?;
        record.refuse_infra()?;
        if !record.state.is_live() {
            return Ok(record);
        }
        let paths = self.engine.paths(&record.id);
        let _ = std::fs::write(paths.stop_marker(), b"");
        let seconds = timeout.or(record.config.stop_timeout).unwrap_or(10);
        let signal = record
            .config
            .stop_signal
            .clone()
            .unwrap_or_else(|| "SIGTERM".into());
        if record.state == State::Paused {
            let _ = self.set_paused(&record, false);
        }
        if record.state != State::Restarting && seconds > 0 {
            let _ = self.signal(&record, &signal, false);
            if self.wait_exited(&paths.run, Duration::from_secs(u64::from(seconds))) {
                crate::events::record(self.engine, "stop", &record);
                return self.get(&record.id);
            }
        }
        let _ = self.signal(&record, "SIGKILL", true);
        if !self.wait_exited(&paths.run, Duration::from_secs(10)) {
            return Err(Error::Monitor {
                name: record.name,
                why: "it did not stop within 10 s of SIGKILL".into(),
            });
        }
        crate::events::record(self.engine, "stop", &record);
        self.get(&record.id)
    }

    /// Waits until the monitor has recorded the exit (or is gone).
    fn wait_exited(&self, run: &Path, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        loop {
            let exited = monitor::MonitorState::load(run).is_none_or(|s| s.status == "exited");
            if exited || !monitor::is_alive(run) {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// `restart`: stop (if running), then start.
    ///
    /// # Errors
    /// As [`Containers::stop`] and [`Containers::start`].
    pub fn restart(&self, key: &str, timeout: Option<u32>) -> Result<ContainerRecord> {
        let record = self.stop(key, timeout)?;
        let _ = self.wait_monitor_gone(&self.engine.paths(&record.id).run, Duration::from_secs(10));
        Ok(self.start(&record.id, false)?.record)
    }

    /// `wait`: blocks until the container is not running; its exit code.
    ///
    /// # Errors
    /// [`Error::NoSuchContainer`] (also when it is removed meanwhile, as with `--rm`:
    /// then the exit code recorded last is returned if there was one).
    pub fn wait(&self, key: &str) -> Result<i32> {
        let record = self.get(key)?;
        let run = self.engine.paths(&record.id).run;
        let mut delay = Duration::from_millis(2);
        loop {
            match self.engine.db.container(&record.id)? {
                None => {
                    return Ok(monitor::MonitorState::load(&run)
                        .and_then(|s| s.exit_code)
                        .unwrap_or(0));
                }
                Some(r) => {
                    let r = self.reconcile(r)?;
                    if matches!(r.state, State::Exited | State::Created) {
                        return Ok(r.exit_code.unwrap_or(0));
                    }
                }
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(50));
        }
    }

    fn set_paused(&self, record: &ContainerRecord, paused: bool) -> Result<()> {
        match &record.config.runtime {
            None => {
                let c = peapod_runtime::Container::load(&self.runtime_root(record), &record.id)?;
                if paused { c.pause()? } else { c.resume()? }
            }
            Some(runtime) => {
                let path = runtime_path(runtime);
                let status = Command::new(&path)
                    .arg("--root")
                    .arg(self.runtime_root(record))
                    .arg(if paused { "pause" } else { "resume" })
                    .arg(&record.id)
                    .status()
                    .map_err(Error::io("run", &path))?;
                if !status.success() {
                    return Err(Error::ExternalRuntime {
                        runtime: path.display().to_string(),
                        message: format!(
                            "{} failed ({status})",
                            if paused { "pause" } else { "resume" }
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// `pause` / `unpause`: freezes or thaws every process of the container.
    ///
    /// # Errors
    /// [`Error::WrongState`] unless running (pause) or paused (unpause); runtime errors.
    pub fn pause(&self, key: &str, paused: bool) -> Result<ContainerRecord> {
        let mut record = self.get(key)?;
        record.refuse_infra()?;
        let needed = if paused {
            State::Running
        } else {
            State::Paused
        };
        if record.state != needed {
            return Err(Error::WrongState {
                name: record.name,
                state: record.state.to_string(),
                action: if paused { "pause it" } else { "unpause it" },
            });
        }
        self.set_paused(&record, paused)?;
        record.state = if paused {
            State::Paused
        } else {
            State::Running
        };
        self.engine.db.update_state(&record)?;
        crate::events::record(
            self.engine,
            if paused { "pause" } else { "unpause" },
            &record,
        );
        Ok(record)
    }
}

/// Whether `merged` is a mount point (its device differs from its parent's).
fn is_mounted(merged: &Path, parent: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(merged), std::fs::metadata(parent)) {
        (Ok(m), Ok(p)) => m.dev() != p.dev(),
        _ => false,
    }
}

/// Gives the container's terminal the caller's size (its stdin's, when that is a terminal)
/// from the start: OCI `process.consoleSize` in the bundle's config.json, which the runtime
/// sets on the pty (TIOCSWINSZ) before the process runs, so that a program asking at once
/// (`run -it IMAGE stty size`) sees it rather than 0 0. Later changes follow over the
/// attach socket.
fn set_console_size(bundle: &Path) -> Result<()> {
    use std::os::fd::AsFd;
    let Some((rows, cols)) = monitor::attach::window_size(std::io::stdin().as_fd()) else {
        return Ok(());
    };
    let path = bundle.join("config.json");
    let text = std::fs::read(&path).map_err(Error::io("read", &path))?;
    let mut config: serde_json::Value =
        serde_json::from_slice(&text).map_err(Error::json("config.json"))?;
    config["process"]["consoleSize"] = serde_json::json!({"height": rows, "width": cols});
    let text = serde_json::to_vec_pretty(&config).map_err(Error::json("config.json"))?;
    let tmp = bundle.join(".config.json.tmp");
    std::fs::write(&tmp, text).map_err(Error::io("write", &tmp))?;
    std::fs::rename(&tmp, &path).map_err(Error::io("rename into place", &path))
}
