//! `peapod-oci state`.

use peapod_runtime::Container;

use super::Globals;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The container id.
    id: String,
}

pub(crate) fn run(globals: &Globals, args: &Args) -> anyhow::Result<u8> {
    let state = Container::load(&globals.root, &args.id)?.state();
    println!("{}", serde_json::to_string_pretty(&state)?);
    Ok(0)
}
