//! `peapod pod prune`: removes every pod of which nothing runs.

use anyhow::Result;

use crate::commands::Globals;

/// `pod prune [-f]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Do not ask (peapod never asks; accepted for podman's scripts).
    #[arg(short, long)]
    force: bool,
}

/// Removes and prints the names.
pub(crate) fn run(globals: &Globals, _args: &Args) -> Result<()> {
    for name in globals.engine()?.pods().prune()? {
        println!("{name}");
    }
    Ok(())
}
