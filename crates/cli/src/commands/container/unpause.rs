//! `peapod unpause`: thaws paused containers.

use anyhow::Result;

use crate::commands::Globals;

/// `unpause CONTAINER...`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The containers.
    #[arg(required = true)]
    containers: Vec<String>,
}

/// Unpauses each and prints its name as given.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    super::for_each(&args.containers, |name| {
        engine.containers().pause(name, false)?;
        println!("{name}");
        Ok(())
    })
}
