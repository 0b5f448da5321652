//! `peapod network connect`.

use anyhow::Result;
use peapod_engine::network::ConnectOptions;

use crate::commands::Globals;

/// `network connect [--ip IP] [--ip6 IP] NETWORK CONTAINER`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A fixed address on the network (either family).
    #[arg(long)]
    ip: Option<String>,
    /// A fixed IPv6 address on the network.
    #[arg(long)]
    ip6: Option<String>,
    /// The network.
    network: String,
    /// The container (running or not).
    container: String,
}

/// Connects; prints nothing, as docker.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let opts = ConnectOptions {
        ip: args.ip.clone(),
        ip6: args.ip6.clone(),
    };
    globals
        .engine()?
        .networks()
        .connect(&args.network, &args.container, &opts)?;
    Ok(())
}
