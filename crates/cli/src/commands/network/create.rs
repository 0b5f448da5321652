//! `peapod network create`.

use anyhow::Result;

use crate::commands::Globals;

/// `network create [--subnet CIDR] [--gateway IP] [--internal] NAME`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The subnet (default: the first free 10.N.0.0/24).
    #[arg(long)]
    subnet: Option<String>,
    /// The gateway (default: the subnet's first address).
    #[arg(long)]
    gateway: Option<String>,
    /// No route out of the network.
    #[arg(long)]
    internal: bool,
    /// The name.
    name: String,
}

/// Creates and prints the name.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let n = globals.engine()?.networks().create(
        &args.name,
        args.subnet.as_deref(),
        args.gateway.as_deref(),
        args.internal,
    )?;
    println!("{}", n.name);
    Ok(())
}
