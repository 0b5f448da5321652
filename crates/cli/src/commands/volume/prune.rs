//! `peapod volume prune`.

use anyhow::Result;

use crate::commands::Globals;

/// `volume prune [-a] [-f]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Named volumes too (default: anonymous ones only, as docker ≥ 23).
    #[arg(short, long)]
    all: bool,
    /// Do not ask (peapod never asks; accepted for docker's scripts).
    #[arg(short, long)]
    force: bool,
}

/// Removes unused volumes; prints their names.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    for name in globals.engine()?.volumes().prune(args.all)? {
        println!("{name}");
    }
    Ok(())
}
