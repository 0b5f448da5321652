//! `peapod wait`: blocks until containers stop; prints their exit codes.

use anyhow::Result;

use crate::commands::Globals;

/// `wait CONTAINER...`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The containers.
    #[arg(required = true)]
    containers: Vec<String>,
}

/// Waits for each in turn.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    super::for_each(&args.containers, |name| {
        let code = engine.containers().wait(name)?;
        println!("{code}");
        Ok(())
    })
}
