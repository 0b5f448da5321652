//! `peapod-oci create`.

use std::path::PathBuf;

use peapod_runtime::{Container, CreateOptions};

use super::Globals;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    pub(crate) create: CreateArgs,
    /// The container id.
    pub(crate) id: String,
}

/// The flags `create` and `run` share.
#[derive(Debug, clap::Args)]
pub(crate) struct CreateArgs {
    /// The bundle directory (holding config.json).
    #[arg(long, short = 'b', default_value = ".")]
    pub(crate) bundle: PathBuf,
    /// Write the container process's pid here.
    #[arg(long)]
    pub(crate) pid_file: Option<PathBuf>,
    /// A unix socket that receives the pty master when process.terminal is true.
    #[arg(long)]
    pub(crate) console_socket: Option<PathBuf>,
    /// Pass this many extra fds (from 3 on) to the container process.
    #[arg(long, default_value_t = 0)]
    pub(crate) preserve_fds: u32,
    /// Do not use pivot_root (for roots on ramfs).
    #[arg(long)]
    pub(crate) no_pivot: bool,
    /// Accepted for runc compatibility; peapod-oci never creates a session keyring.
    #[arg(long)]
    pub(crate) no_new_keyring: bool,
}

impl CreateArgs {
    pub(crate) fn options(&self, globals: &Globals) -> CreateOptions {
        CreateOptions {
            root: globals.root.clone(),
            bundle: self.bundle.clone(),
            pid_file: self.pid_file.clone(),
            console_socket: self.console_socket.clone(),
            preserve_fds: self.preserve_fds,
            no_pivot: self.no_pivot,
        }
    }
}

pub(crate) fn run(globals: &Globals, args: &Args) -> anyhow::Result<u8> {
    let mut container = Container::create(&args.id, &args.create.options(globals))?;
    super::warn_all(globals, container.take_warnings());
    Ok(0)
}
