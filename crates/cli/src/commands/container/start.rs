//! `peapod start`: starts created or exited containers; with `-a`, attached (its output
//! here, its exit code ours).

use anyhow::Result;
use peapod_engine::monitor::attach::{AttachEnd, AttachOptions};

use crate::commands::{ExitWith, Globals};

/// `start [-a] [-i] CONTAINER...`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Attach stdout and stderr, and forward the exit code.
    #[arg(short, long)]
    attach: bool,
    /// Attach stdin.
    #[arg(short, long)]
    interactive: bool,
    /// The key sequence for detaching.
    #[arg(long, default_value = "ctrl-p,ctrl-q")]
    detach_keys: String,
    /// The containers.
    #[arg(required = true)]
    containers: Vec<String>,
}

/// Starts each; prints its name (as given) unless attached.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    let containers = engine.containers();
    if args.attach || args.interactive {
        anyhow::ensure!(
            args.containers.len() == 1,
            "you cannot start and attach more than one container at once"
        );
        let started = containers.start(&args.containers[0], true)?;
        let Some(sock) = started.attach else {
            return Ok(());
        };
        let opts = AttachOptions {
            stdin: args.interactive,
            tty: started.record.config.config.tty,
            detach_keys: super::run::detach_keys(&args.detach_keys)?,
            redraw: false,
        };
        let id = started.record.id.clone();
        return match super::run::attach_foreground(&containers, &id, &sock, &opts, true)? {
            AttachEnd::Exited(0) | AttachEnd::Detached => Ok(()),
            AttachEnd::Exited(code) => Err(ExitWith(u8::try_from(code).unwrap_or(255)).into()),
            AttachEnd::Lost => Err(ExitWith(255).into()),
        };
    }
    super::for_each(&args.containers, |name| {
        containers.start(name, false)?;
        println!("{name}");
        Ok(())
    })
}
