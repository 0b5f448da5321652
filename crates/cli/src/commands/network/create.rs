//! `peapod network create`.

use anyhow::Result;
use peapod_engine::network::NetworkCreateOptions;

use crate::commands::Globals;

/// `network create [--subnet CIDR]... [--gateway IP]... [--internal] [--ipv6] [-o mtu=N]
/// NAME`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A subnet, one per address family (default: the first free 10.N.0.0/24, and with
    /// --ipv6 the first free fd90:0:0:N::/64).
    #[arg(long)]
    subnet: Vec<String>,
    /// A gateway, one per address family (default: the subnet's first address).
    #[arg(long)]
    gateway: Vec<String>,
    /// No route out of the network.
    #[arg(long)]
    internal: bool,
    /// Dual stack: an IPv6 subnet as well as the IPv4 one.
    #[arg(long)]
    ipv6: bool,
    /// A driver option: `mtu=BYTES`.
    #[arg(short = 'o', long = "opt")]
    opt: Vec<String>,
    /// The name.
    name: String,
}

/// Creates and prints the name.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let opts = NetworkCreateOptions {
        subnets: args.subnet.clone(),
        gateways: args.gateway.clone(),
        internal: args.internal,
        ipv6: args.ipv6,
        options: args.opt.clone(),
    };
    let n = globals.engine()?.networks().create(&args.name, &opts)?;
    println!("{}", n.name);
    Ok(())
}
