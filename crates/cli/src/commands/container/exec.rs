//! `peapod exec`: a command in a running container; its exit code ours.

use anyhow::Result;
use peapod_engine::container::ExecRequest;

use crate::commands::{ExitWith, Globals};

/// `exec [-i] [-t] [-d] [-e K=V] [-u USER] [-w DIR] CONTAINER COMMAND [ARG...]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Keep stdin open.
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-terminal.
    #[arg(short, long)]
    tty: bool,
    /// Run in the background.
    #[arg(short, long)]
    detach: bool,
    /// Environment variables.
    #[arg(short, long = "env")]
    env: Vec<String>,
    /// The user.
    #[arg(short, long)]
    user: Option<String>,
    /// The working directory.
    #[arg(short, long)]
    workdir: Option<String>,
    /// Every capability.
    #[arg(long)]
    privileged: bool,
    /// The container.
    container: String,
    /// The command.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// Runs it.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    let req = ExecRequest {
        cmd: args.command.clone(),
        env: args.env.clone(),
        user: args.user.clone(),
        workdir: args.workdir.clone(),
        tty: args.tty,
        stdin: args.interactive,
        detach: args.detach,
        privileged: args.privileged,
    };
    let code = engine.containers().exec(&args.container, &req)?;
    if code == 0 {
        Ok(())
    } else {
        Err(ExitWith(u8::try_from(code).unwrap_or(255)).into())
    }
}
