//! `peapod-oci exec`: another process in a running container, from `--process FILE` or from
//! ARGS over the container's own process (its env, user, capabilities, profile).

use std::path::PathBuf;

use anyhow::{Context, bail};
use peapod_runtime::oci_spec::runtime::Process;
use peapod_runtime::{Container, ExecOptions, wait_for};

use super::Globals;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A JSON file holding the whole OCI process to run (instead of ARGS).
    #[arg(long, short = 'p')]
    process: Option<PathBuf>,
    /// Allocate a pty, sent to --console-socket.
    #[arg(long, short = 't')]
    tty: bool,
    #[arg(long)]
    console_socket: Option<PathBuf>,
    /// Add an environment variable (NAME=VALUE).
    #[arg(long = "env", short = 'e')]
    env: Vec<String>,
    /// The working directory inside the container.
    #[arg(long)]
    cwd: Option<PathBuf>,
    /// The user, as UID[:GID].
    #[arg(long, short = 'u')]
    user: Option<String>,
    /// Extra groups (numeric gids).
    #[arg(long, short = 'g')]
    additional_gids: Vec<u32>,
    /// Return once the process has started.
    #[arg(long, short = 'd')]
    detach: bool,
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// Pass this many extra fds (from 3 on) to the process.
    #[arg(long, default_value_t = 0)]
    preserve_fds: u32,
    /// Set no_new_privileges for the process.
    #[arg(long)]
    no_new_privs: bool,
    /// The container id.
    id: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

pub(crate) fn run(globals: &Globals, args: &Args) -> anyhow::Result<u8> {
    let container = Container::load(&globals.root, &args.id)?;
    let process = match &args.process {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read process file {}", path.display()))?;
            let (process, unknown) = peapod_runtime::parse_process(&bytes)
                .map_err(|why| anyhow::anyhow!("invalid process file {}: {why}", path.display()))?;
            if !unknown.is_empty() {
                let ignored = peapod_runtime::Error::UnknownCapabilities(unknown);
                super::warn_all(globals, vec![ignored]);
            }
            process
        }
        None => from_args(container.config_process()?, args)?,
    };
    let opts = ExecOptions {
        process,
        console_socket: args.console_socket.clone(),
        pid_file: args.pid_file.clone(),
        preserve_fds: args.preserve_fds,
    };
    let pid = container.exec(&opts)?;
    if args.detach {
        return Ok(0);
    }
    Ok(u8::try_from(wait_for(pid)?).unwrap_or(u8::MAX))
}

/// The container's process with ARGS and the flags applied.
fn from_args(mut process: Process, args: &Args) -> anyhow::Result<Process> {
    if args.args.is_empty() {
        bail!("exec needs a command (ARGS) or --process FILE");
    }
    process.set_args(Some(args.args.clone()));
    process.set_terminal(Some(args.tty));
    let mut env = process.env().clone().unwrap_or_default();
    for pair in &args.env {
        let name = pair.split('=').next().unwrap_or_default();
        env.retain(|e| e.split('=').next() != Some(name));
        env.push(pair.clone());
    }
    process.set_env(Some(env));
    if let Some(cwd) = &args.cwd {
        process.set_cwd(cwd.clone());
    }
    let mut user = process.user().clone();
    if let Some(spec) = &args.user {
        let (uid, gid) = spec.split_once(':').unwrap_or((spec, "0"));
        user.set_uid(
            uid.parse()
                .with_context(|| format!("invalid --user {spec:?}: want UID[:GID]"))?,
        );
        user.set_gid(
            gid.parse()
                .with_context(|| format!("invalid --user {spec:?}: want UID[:GID]"))?,
        );
    }
    if !args.additional_gids.is_empty() {
        user.set_additional_gids(Some(args.additional_gids.clone()));
    }
    process.set_user(user);
    if args.no_new_privs {
        process.set_no_new_privileges(Some(true));
    }
    Ok(process)
}
