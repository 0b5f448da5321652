//! `peapod port`: a container's published ports. Until bridge networking publishes any, a
//! container has none: it prints nothing (an unknown container is still an error).

use anyhow::Result;

use crate::commands::Globals;

/// `port CONTAINER [PRIVATE_PORT[/PROTO]]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The container.
    container: String,
    /// Only this port (`80`, `53/udp`).
    port: Option<String>,
}

/// Prints `80/tcp -> 0.0.0.0:8080` lines, one per published port (none yet).
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let record = globals.engine()?.containers().get(&args.container)?;
    if let Some(port) = &args.port {
        // docker: asking for a port the container does not publish is an error.
        anyhow::bail!(
            "no public port {port} published for container {}",
            record.name
        );
    }
    Ok(())
}
