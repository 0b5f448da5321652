//! `peapod pause`: freezes every process of containers (the freezer cgroup).

use anyhow::Result;

use crate::commands::Globals;

/// `pause CONTAINER...`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The containers.
    #[arg(required = true)]
    containers: Vec<String>,
}

/// Pauses each and prints its name as given.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    super::for_each(&args.containers, |name| {
        engine.containers().pause(name, true)?;
        println!("{name}");
        Ok(())
    })
}
