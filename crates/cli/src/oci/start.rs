//! `peapod-oci start`.

use peapod_runtime::Container;

use super::{Globals, warn_all};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The container id.
    id: String,
}

pub(crate) fn run(globals: &Globals, args: &Args) -> anyhow::Result<u8> {
    warn_all(globals, Container::load(&globals.root, &args.id)?.start()?);
    Ok(0)
}
