//! `peapod restart`: stop (if running), then start.

use anyhow::Result;

use crate::commands::Globals;

/// `restart [-t SECONDS] CONTAINER...`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Seconds to wait before killing.
    #[arg(short = 't', long = "time", alias = "timeout")]
    time: Option<u32>,
    /// The containers.
    #[arg(required = true)]
    containers: Vec<String>,
}

/// Restarts each and prints its name as given.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    super::for_each(&args.containers, |name| {
        engine.containers().restart(name, args.time)?;
        println!("{name}");
        Ok(())
    })
}
