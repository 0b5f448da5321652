//! Checkpoint and restore through CRIU, as runc 1.1 does them (`runc checkpoint` and
//! `runc restore`, with the flags go-runc passes).
//!
//! CRIU is driven through its command line (`criu dump`, `criu pre-dump`, `criu restore`),
//! not its RPC service (`criu swrk`): every runc option has a one-to-one CLI flag, so no
//! protobuf schema or runtime is needed, and each run leaves criu's own log (`dump.log`,
//! `restore.log` in the work directory), whose error lines go into our error. What runc
//! gets from the RPC notifications we get otherwise: the restored init's pid from
//! `--pidfile`, its cgroup by starting criu inside the container's new cgroup (criu's
//! children inherit it: `--manage-cgroups=ignore` at restore).
//!
//! As runc does: bind mounts of the config are external mounts (dumped by their
//! destination, restored from their source); masked files (a bind of /dev/null) likewise;
//! the paths of init's stdio are saved in `descriptors.json` beside the images, and a pipe
//! among them is restored onto the restoring process's own fd of that number
//! (`--inherit-fd`), which is how containerd's shim hands a restored container new pipes.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use oci_spec::runtime::Spec;

use crate::container::Container;
use crate::{Error, Result, Status};

/// The file beside the images that lists init's stdio (runc's name and format: a JSON
/// array of what /proc/PID/fd/0, 1 and 2 read).
const DESCRIPTORS: &str = "descriptors.json";

/// criu's key for a network namespace the container joined by path (runc's name).
pub(crate) const EXTERNAL_NET: &str = "extRootNetNS";

/// The options `criu dump` and `criu restore` share (runc's flags of both verbs).
#[derive(Debug, Clone, Default)]
pub struct CriuOptions {
    /// The criu binary (`peapod-oci --criu`); `criu` from `PATH` when empty.
    pub criu: PathBuf,
    /// Where the images are written (checkpoint) or read (restore): `--image-path`.
    pub image_path: PathBuf,
    /// Where criu writes its log and work files: `--work-path` (the image path if None).
    pub work_path: Option<PathBuf>,
    /// Checkpoint/restore established TCP connections (`--tcp-established`).
    pub tcp_established: bool,
    /// Allow external unix sockets (`--ext-unix-sk`).
    pub ext_unix_sk: bool,
    /// Allow a shell job: a session or terminal from outside (`--shell-job`).
    pub shell_job: bool,
    /// Handle file locks (`--file-locks`).
    pub file_locks: bool,
    /// `--manage-cgroups-mode`: soft, full, strict or ignore (criu's default when None).
    pub manage_cgroups_mode: Option<String>,
    /// `--empty-ns`: namespaces criu neither dumps nor restores (`network` only, as criu
    /// allows).
    pub empty_ns: Vec<String>,
    /// Deduplicate the parent's pages (`--auto-dedup`).
    pub auto_dedup: bool,
}

/// How to checkpoint a container (`runc checkpoint`'s flags).
#[derive(Debug, Clone, Default)]
pub struct CheckpointOptions {
    /// What dump and restore share.
    pub criu: CriuOptions,
    /// The previous (pre-)dump's images, relative to the image path: `--parent-path`.
    pub parent_path: Option<PathBuf>,
    /// Keep the container running after the dump (`--leave-running`).
    pub leave_running: bool,
    /// Only dump memory, tracking it for a later dump (`--pre-dump`); the container keeps
    /// running.
    pub pre_dump: bool,
}

/// How to restore a container (`runc restore`'s flags).
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// What dump and restore share.
    pub criu: CriuOptions,
    /// Root, bundle, pid file and console socket, as `create` takes them.
    pub create: crate::CreateOptions,
}

impl Container {
    /// Checkpoints the running (or paused) container into `opts.criu.image_path`. Unless
    /// it leaves the container running (or pre-dumps), the container is then gone: criu
    /// killed its processes, and it is deleted as runc deletes it. Errors: the container is
    /// not running, criu is missing or fails (its log's error lines are in the error).
    pub fn checkpoint(&self, opts: &CheckpointOptions) -> Result<()> {
        self.require(
            "checkpoint",
            &[Status::Running, Status::Paused],
            "running or paused",
        )?;
        let id = &self.record.id;
        let c = &opts.criu;
        let images = &c.image_path;
        std::fs::create_dir_all(images).map_err(Error::io("create image directory", images))?;
        let work = c.work_path.clone().unwrap_or_else(|| images.clone());
        std::fs::create_dir_all(&work).map_err(Error::io("create work directory", &work))?;
        let pid = self.record.pid;
        if !opts.pre_dump {
            save_descriptors(pid, images)?;
        }
        let action = if opts.pre_dump { "pre-dump" } else { "dump" };
        let log = format!("{action}.log");
        let mut cmd = criu_command(c, action, &work, &log);
        cmd.arg("--tree").arg(pid.to_string());
        cmd.arg("--root").arg(&self.record.rootfs);
        // criu freezes the tasks through the cgroup freezer, as runc has it do: a container
        // paused already (ctr pauses it before a checkpoint) cannot be seized otherwise.
        if let Some(freezer) = freezer_dir(self.cgroup()?) {
            cmd.arg("--freeze-cgroup").arg(freezer);
        }
        if let Some(parent) = &opts.parent_path {
            cmd.arg("--prev-images-dir").arg(parent).arg("--track-mem");
        }
        if opts.pre_dump {
            cmd.arg("--track-mem");
        } else if opts.leave_running {
            cmd.arg("--leave-running");
        }
        // A pre-dump saves memory only: no mounts, as runc gives none.
        if !opts.pre_dump {
            let spec = Spec::load(self.record.bundle.join("config.json")).ok();
            let cgroup_dirs = v1_cgroup_dirs(self.cgroup()?);
            for (key, _) in external_mounts(spec.as_ref(), pid, &cgroup_dirs) {
                cmd.arg("--external").arg(format!("mnt[{key}]:{key}"));
            }
        }
        // A network namespace joined by path (a pod's) is not the container's to dump:
        // criu records it as external, and restore hands it back (runc's key).
        let joined_net = self.record.namespaces.iter().find(|ns| {
            ns.typ() == oci_spec::runtime::LinuxNamespaceType::Network && ns.path().is_some()
        });
        if let Some(path) = joined_net.and_then(|ns| ns.path().as_ref()) {
            let inode = std::fs::metadata(path)
                .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
                .map_err(Error::io("stat the joined network namespace", path))?;
            cmd.arg("--external")
                .arg(format!("net[{inode}]:{EXTERNAL_NET}"));
        }
        run_criu(id, action, cmd, &work.join(&log))?;
        Ok(())
    }

    /// Restores container `id` from the images in `opts.criu.image_path`, with the
    /// bundle's config (its rootfs, mounts and cgroup), as a running container whose init
    /// is the caller's child (`--restore-sibling`), so that the caller can wait for it.
    /// The caller's fds 0, 1 and 2 replace the pipes the checkpointed init had there.
    /// Errors: an invalid bundle or id, an existing container, a terminal (not
    /// supported), criu failing; nothing is left behind then.
    pub fn restore(id: &str, opts: &RestoreOptions) -> Result<Self> {
        crate::restore::restore(id, opts)
    }
}

/// The container's freezer: the v1 `freezer` hierarchy's directory, or on a pure v2 host
/// the cgroup's own.
fn freezer_dir(cgroup: &peapod_cgroup::Cgroup) -> Option<PathBuf> {
    cgroup
        .directories()
        .into_iter()
        .find(|d| d.components().any(|c| c.as_os_str() == "freezer"))
        .or_else(|| cgroup.unified_dir().map(Path::to_path_buf))
}

/// The criu command for `action` with the options dump and restore share.
pub(crate) fn criu_command(c: &CriuOptions, action: &str, work: &Path, log: &str) -> Command {
    let program = if c.criu.as_os_str().is_empty() {
        Path::new("criu")
    } else {
        c.criu.as_path()
    };
    let mut cmd = Command::new(program);
    cmd.arg(action)
        .arg("--images-dir")
        .arg(&c.image_path)
        .arg("--work-dir")
        .arg(work)
        .arg("--log-file")
        .arg(log)
        .arg("-v4");
    let flags = [
        (c.tcp_established, "--tcp-established"),
        (c.ext_unix_sk, "--ext-unix-sk"),
        (c.shell_job, "--shell-job"),
        (c.file_locks, "--file-locks"),
        (c.auto_dedup, "--auto-dedup"),
    ];
    cmd.args(flags.iter().filter(|(on, _)| *on).map(|(_, flag)| flag));
    if action != "pre-dump" {
        if let Some(mode) = &c.manage_cgroups_mode {
            cmd.arg(format!("--manage-cgroups={mode}"));
        }
    }
    for ns in &c.empty_ns {
        // runc's name of the namespace; criu's is `net`.
        let ns = if ns == "network" { "net" } else { ns.as_str() };
        cmd.arg("--empty-ns").arg(ns);
    }
    cmd.stdin(std::process::Stdio::null());
    cmd
}

/// Runs criu; a failure carries the error lines of its log. criu's stdout and stderr are
/// ours (restore hands our fds to what it restores, so they must not be pipes we wait on).
pub(crate) fn run_criu(id: &str, action: &'static str, mut cmd: Command, log: &Path) -> Result<()> {
    let fail = |status: String, detail: String| Error::Criu {
        id: id.to_owned(),
        action,
        status,
        detail,
        log: log.to_path_buf(),
    };
    let status = cmd.status().map_err(|e| {
        fail(
            "not started".into(),
            format!("cannot run {:?}: {e}", cmd.get_program()),
        )
    })?;
    if status.success() {
        return Ok(());
    }
    let errors: Vec<String> = std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("Error (") && !l.contains("RLIMIT_NOFILE"))
        .map(|l| l.trim().to_owned())
        .collect();
    let detail = if errors.is_empty() {
        "its log has no error line".to_owned()
    } else {
        errors.join("; ")
    };
    Err(fail(status.to_string(), detail))
}

/// Writes what init's fds 0, 1 and 2 are (`pipe:[N]`, a path…) beside the images.
fn save_descriptors(pid: i32, images: &Path) -> Result<()> {
    let fds: Vec<String> = (0..3)
        .map(|fd| {
            std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let path = images.join(DESCRIPTORS);
    let json = serde_json::to_vec(&fds).map_err(|e| Error::Io {
        what: "encode",
        path: path.clone(),
        source: e.into(),
    })?;
    std::fs::write(&path, json).map_err(Error::io("write", &path))
}

/// The stdio descriptors saved at checkpoint (none if the file is missing).
pub(crate) fn load_descriptors(images: &Path) -> Vec<String> {
    std::fs::read(images.join(DESCRIPTORS))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// The container's cgroup directories when a `cgroup` mount binds them (a v1 or hybrid
/// host); none on a pure v2 host, where it is a cgroup2 mount of its own that criu dumps.
pub(crate) fn v1_cgroup_dirs(cgroup: &peapod_cgroup::Cgroup) -> Vec<PathBuf> {
    if cgroup.unified_dir().is_some() {
        Vec::new()
    } else {
        cgroup.directories()
    }
}

/// The container's external mounts, as (key, host source): the config's bind mounts
/// (keyed by destination), what its `cgroup` mounts bind (`cgroup_dirs`, see
/// [`v1_cgroup_dirs`]), and its masked paths that are files (binds of /dev/null). At
/// checkpoint, `pid` is init's: a masked path is external only if it is a file there; at
/// restore (`pid` 0) every masked path is offered (criu ignores keys it does not use).
pub(crate) fn external_mounts(
    spec: Option<&Spec>,
    pid: i32,
    cgroup_dirs: &[PathBuf],
) -> Vec<(String, PathBuf)> {
    let Some(spec) = spec else {
        return Vec::new();
    };
    let binds = spec.mounts().iter().flatten().filter(|m| {
        m.typ().as_deref() == Some("bind")
            || m.options()
                .iter()
                .flatten()
                .any(|o| o == "bind" || o == "rbind")
    });
    let mut out: Vec<(String, PathBuf)> = binds
        .map(|m| {
            (
                m.destination().to_string_lossy().into_owned(),
                m.source().clone().unwrap_or_default(),
            )
        })
        .collect();
    let cgroup_mounts = spec
        .mounts()
        .iter()
        .flatten()
        .filter(|m| m.typ().as_deref() == Some("cgroup"));
    for m in cgroup_mounts {
        for (inside, host) in peapod_rootfs::cgroup_binds(m.destination(), cgroup_dirs) {
            out.push((inside.to_string_lossy().into_owned(), host));
        }
    }
    let masked = spec
        .linux()
        .as_ref()
        .and_then(|l| l.masked_paths().clone())
        .unwrap_or_default();
    for path in masked {
        let is_file = pid == 0
            || std::fs::metadata(format!("/proc/{pid}/root{path}")).is_ok_and(|m| !m.is_dir());
        if is_file {
            out.push((path, PathBuf::from("/dev/null")));
        }
    }
    out
}

/// A command's pre-exec step that moves the child into the cgroup whose `cgroup.procs`
/// files are given (writing "0" moves the writer), before criu runs: what criu restores
/// is forked from it and so born there.
pub(crate) fn join_cgroup_before_exec(cmd: &mut Command, procs: Vec<std::ffi::CString>) {
    let join = move || -> std::io::Result<()> {
        for file in &procs {
            // SAFETY: open/write/close on a NUL-terminated path that lives in this closure;
            // all three are async-signal-safe, as the time between fork and exec requires.
            unsafe {
                let fd = libc::open(file.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let written = libc::write(fd, b"0".as_ptr().cast(), 1);
                libc::close(fd);
                if written != 1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
        }
        Ok(())
    };
    // SAFETY: the closure only makes async-signal-safe calls (see above) and allocates
    // nothing.
    unsafe { cmd.pre_exec(join) };
}
