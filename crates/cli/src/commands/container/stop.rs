//! `peapod stop`: the stop signal, then SIGKILL after the timeout.

use anyhow::Result;

use crate::commands::Globals;

/// `stop [-t SECONDS] CONTAINER...`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Seconds to wait before killing (default: the container's --stop-timeout, else 10).
    #[arg(short = 't', long = "time", alias = "timeout")]
    time: Option<u32>,
    /// The containers.
    #[arg(required = true)]
    containers: Vec<String>,
}

/// Stops each and prints its name as given.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    super::for_each(&args.containers, |name| {
        engine.containers().stop(name, args.time)?;
        println!("{name}");
        Ok(())
    })
}
