//! `peapod network rm`.

use anyhow::Result;

use crate::commands::Globals;

/// `network rm NAME...`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The networks.
    #[arg(required = true)]
    names: Vec<String>,
}

/// Removes each; prints its name.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    crate::commands::container::for_each(&args.names, |n| {
        engine.networks().remove(n)?;
        println!("{n}");
        Ok(())
    })
}
