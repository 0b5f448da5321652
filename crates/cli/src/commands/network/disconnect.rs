//! `peapod network disconnect`.

use anyhow::Result;

use crate::commands::Globals;

/// `network disconnect NETWORK CONTAINER`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The network.
    network: String,
    /// The container.
    container: String,
}

/// Disconnects; prints nothing, as docker.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    globals
        .engine()?
        .networks()
        .disconnect(&args.network, &args.container)?;
    Ok(())
}
