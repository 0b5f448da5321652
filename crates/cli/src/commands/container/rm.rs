//! `peapod rm`: containers and what they made (`-v`: their anonymous volumes).

use anyhow::Result;

use crate::commands::Globals;

/// `rm [-f] [-v] CONTAINER...`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Kill a running container first.
    #[arg(short, long)]
    force: bool,
    /// Remove its anonymous volumes too.
    #[arg(short, long)]
    volumes: bool,
    /// The containers.
    #[arg(required = true)]
    containers: Vec<String>,
}

/// Removes each and prints its name as given.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    super::for_each(&args.containers, |name| {
        engine.containers().remove(name, args.force, args.volumes)?;
        println!("{name}");
        Ok(())
    })
}
