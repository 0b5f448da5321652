//! `peapod logout`: removes a registry's credentials from the auth file.

use anyhow::{Context, Result};

use super::RegistryArgs;
use crate::commands::Globals;

/// `logout [--authfile FILE] REGISTRY`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    registry: RegistryArgs,
    /// The registry: `HOST[:PORT]`.
    server: String,
}

/// Logs out and says so, as podman does.
pub(crate) fn run(_globals: &Globals, args: &Args) -> Result<()> {
    let file = args.registry.write_file();
    peapod_image::registry::logout(&args.server, &file)
        .with_context(|| format!("cannot log out of {}", args.server))?;
    println!("Removed login credentials for {}", args.server);
    Ok(())
}
