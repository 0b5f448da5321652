//! `peapod-oci checkpoint` and `restore`: runc's flags (as go-runc passes them), over
//! `peapod_runtime`'s criu support.

use std::path::PathBuf;

use peapod_runtime::{CheckpointOptions, Container, CriuOptions, RestoreOptions};

use super::create::CreateArgs;
use super::{Globals, warn_all};

/// The flags `checkpoint` and `restore` share.
#[derive(Debug, clap::Args)]
pub(crate) struct CriuArgs {
    /// Where the images go (checkpoint) or come from (restore); `./checkpoint` if unset.
    #[arg(long)]
    image_path: Option<PathBuf>,
    /// Where criu writes its log and work files (the image path if unset).
    #[arg(long)]
    work_path: Option<PathBuf>,
    /// Checkpoint/restore established TCP connections.
    #[arg(long)]
    tcp_established: bool,
    /// Allow external unix sockets.
    #[arg(long)]
    ext_unix_sk: bool,
    /// Allow a shell job (a session or terminal from outside).
    #[arg(long)]
    shell_job: bool,
    /// Handle file locks.
    #[arg(long)]
    file_locks: bool,
    /// How criu handles cgroups: soft, full, strict or ignore.
    #[arg(long)]
    manage_cgroups_mode: Option<String>,
    /// A namespace criu neither dumps nor restores (`network`).
    #[arg(long)]
    empty_ns: Vec<String>,
    /// Deduplicate the parent's pages.
    #[arg(long)]
    auto_dedup: bool,
    /// Lazy migration (not supported).
    #[arg(long)]
    lazy_pages: bool,
}

impl CriuArgs {
    fn options(&self, globals: &Globals, action: &'static str) -> anyhow::Result<CriuOptions> {
        if self.lazy_pages {
            return Err(peapod_runtime::Error::CriuUnsupported {
                action,
                what: "--lazy-pages",
            }
            .into());
        }
        let image_path = match &self.image_path {
            Some(path) => path.clone(),
            None => std::env::current_dir()?.join("checkpoint"),
        };
        Ok(CriuOptions {
            criu: globals.criu.clone().unwrap_or_default(),
            image_path,
            work_path: self.work_path.clone(),
            tcp_established: self.tcp_established,
            ext_unix_sk: self.ext_unix_sk,
            shell_job: self.shell_job,
            file_locks: self.file_locks,
            manage_cgroups_mode: self.manage_cgroups_mode.clone(),
            empty_ns: self.empty_ns.clone(),
            auto_dedup: self.auto_dedup,
        })
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct CheckpointArgs {
    #[command(flatten)]
    criu: CriuArgs,
    /// The previous pre-dump's images, relative to the image path.
    #[arg(long)]
    parent_path: Option<PathBuf>,
    /// Leave the container running after the checkpoint.
    #[arg(long)]
    leave_running: bool,
    /// Only dump memory, for a later checkpoint (the container keeps running).
    #[arg(long)]
    pre_dump: bool,
    /// Page server address (not supported).
    #[arg(long)]
    page_server: Option<String>,
    /// A file descriptor for criu's lazy-pages status (not supported).
    #[arg(long)]
    status_fd: Option<i32>,
    /// The container id.
    id: String,
}

/// `checkpoint`: as runc, a container not left running is deleted once dumped.
pub(crate) fn checkpoint(globals: &Globals, args: &CheckpointArgs) -> anyhow::Result<u8> {
    let unsupported = |what| peapod_runtime::Error::CriuUnsupported {
        action: "checkpoint",
        what,
    };
    if args.page_server.is_some() {
        return Err(unsupported("--page-server").into());
    }
    if args.status_fd.is_some() {
        return Err(unsupported("--status-fd").into());
    }
    let container = Container::load(&globals.root, &args.id)?;
    let opts = CheckpointOptions {
        criu: args.criu.options(globals, "checkpoint")?,
        parent_path: args.parent_path.clone(),
        leave_running: args.leave_running,
        pre_dump: args.pre_dump,
    };
    container.checkpoint(&opts)?;
    if !(args.leave_running || args.pre_dump) {
        warn_all(globals, container.delete(true)?);
    }
    Ok(0)
}

#[derive(Debug, clap::Args)]
pub(crate) struct RestoreArgs {
    #[command(flatten)]
    criu: CriuArgs,
    #[command(flatten)]
    create: CreateArgs,
    /// Return once the container is restored.
    #[arg(long, short = 'd')]
    detach: bool,
    /// Accepted for runc compatibility: the restored init is this process's child either
    /// way, and waited for unless detached.
    #[arg(long)]
    no_subreaper: bool,
    /// An LSM profile for the restored process (not supported when set).
    #[arg(long)]
    lsm_profile: Option<String>,
    /// An LSM mount context (not supported when set).
    #[arg(long)]
    lsm_mount_context: Option<String>,
    /// The container id.
    id: String,
}

/// `restore`: unless detached, waits for the restored container, deletes it and exits
/// with its exit code, as `run` does.
pub(crate) fn restore(globals: &Globals, args: &RestoreArgs) -> anyhow::Result<u8> {
    if args.lsm_profile.is_some() || args.lsm_mount_context.is_some() {
        return Err(peapod_runtime::Error::CriuUnsupported {
            action: "restore",
            what: "--lsm-profile and --lsm-mount-context",
        }
        .into());
    }
    let opts = RestoreOptions {
        criu: args.criu.options(globals, "restore")?,
        create: args.create.options(globals),
    };
    let mut container = Container::restore(&args.id, &opts)?;
    warn_all(globals, container.take_warnings());
    if args.detach {
        return Ok(0);
    }
    let code = container.wait()?;
    warn_all(globals, container.delete(true)?);
    Ok(u8::try_from(code).unwrap_or(u8::MAX))
}
