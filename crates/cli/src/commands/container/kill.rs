//! `peapod kill`: a signal to running containers (no restart follows).

use anyhow::Result;

use crate::commands::Globals;

/// `kill [-s SIGNAL] CONTAINER...`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The signal (`KILL`, `SIGTERM`, `9`).
    #[arg(short, long, default_value = "KILL")]
    signal: String,
    /// The containers.
    #[arg(required = true)]
    containers: Vec<String>,
}

/// Signals each and prints its name as given.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    super::for_each(&args.containers, |name| {
        engine.containers().kill(name, &args.signal)?;
        println!("{name}");
        Ok(())
    })
}
