//! `peapod pod stop`: every container (its stop signal, SIGKILL after the timeout), then the
//! infra.

use anyhow::Result;

use crate::commands::Globals;

/// `pod stop [-t SECONDS] POD...`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Seconds to wait before killing (default: each container's --stop-timeout, else 10).
    #[arg(short = 't', long = "time", alias = "timeout")]
    time: Option<u32>,
    /// The pods.
    #[arg(required = true)]
    pods: Vec<String>,
}

/// Stops each and prints its id.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    super::for_each_pod(&args.pods, |key| engine.pods().stop(key, args.time))
}
