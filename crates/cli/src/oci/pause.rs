//! `peapod-oci pause` and `resume`.

use peapod_runtime::Container;

use super::Globals;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The container id.
    id: String,
}

pub(crate) fn pause(globals: &Globals, args: &Args) -> anyhow::Result<u8> {
    Container::load(&globals.root, &args.id)?.pause()?;
    Ok(0)
}

pub(crate) fn resume(globals: &Globals, args: &Args) -> anyhow::Result<u8> {
    Container::load(&globals.root, &args.id)?.resume()?;
    Ok(0)
}
