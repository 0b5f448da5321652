//! `peapod rename`.

use anyhow::Result;

use crate::commands::Globals;

/// `rename CONTAINER NEW_NAME`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The container.
    container: String,
    /// Its new name.
    name: String,
}

/// Renames.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    globals
        .engine()?
        .containers()
        .rename(&args.container, &args.name)?;
    Ok(())
}
