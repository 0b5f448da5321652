//! `peapod tag` / `peapod image tag`: another name for an image.

use anyhow::Result;

use crate::commands::Globals;

/// `tag SOURCE TARGET`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The image: a name, id or id prefix.
    source: String,
    /// The new name (`app`, `app:1`, `registry:5000/team/app:1`).
    target: String,
}

/// Adds the name; prints nothing, as docker.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    globals.images()?.tag(&args.source, &args.target)?;
    Ok(())
}
