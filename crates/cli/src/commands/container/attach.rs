//! `peapod attach`: this terminal to a running container's stdio, until it exits or the
//! detach keys (ctrl-p ctrl-q).

use anyhow::Result;
use peapod_engine::monitor::attach::{AttachEnd, AttachOptions, connect_socket};

use crate::commands::{ExitWith, Globals};

/// `attach [--no-stdin] [--detach-keys K] CONTAINER`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Do not attach stdin.
    #[arg(long)]
    no_stdin: bool,
    /// The key sequence for detaching.
    #[arg(long, default_value = "ctrl-p,ctrl-q")]
    detach_keys: String,
    /// Forward the signals this process receives (ctrl-c, SIGTERM…) to the container;
    /// without a terminal only, as docker's.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    sig_proxy: bool,
    /// The container.
    container: String,
}

/// Attaches.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    let containers = engine.containers();
    let record = containers.get(&args.container)?;
    anyhow::ensure!(
        record.state.is_live(),
        "container {} is {}: you cannot attach to a container that is not running",
        record.name,
        record.state
    );
    let sock = connect_socket(
        &engine
            .runroot()
            .join("containers")
            .join(&record.id)
            .join("attach"),
    )?;
    let opts = AttachOptions {
        stdin: !args.no_stdin && record.config.stdin,
        tty: record.config.config.tty,
        detach_keys: super::run::detach_keys(&args.detach_keys)?,
        redraw: true,
    };
    match super::run::attach_foreground(&containers, &record.id, &sock, &opts, args.sig_proxy)? {
        AttachEnd::Exited(0) | AttachEnd::Detached => Ok(()),
        AttachEnd::Exited(code) => Err(ExitWith(u8::try_from(code).unwrap_or(255)).into()),
        AttachEnd::Lost => Ok(()),
    }
}
