//! `peapod pod restart`: stop, then start.

use anyhow::Result;

use crate::commands::Globals;

/// `pod restart [-t SECONDS] POD...`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Seconds to wait before killing.
    #[arg(short = 't', long = "time", alias = "timeout")]
    time: Option<u32>,
    /// The pods.
    #[arg(required = true)]
    pods: Vec<String>,
}

/// Restarts each and prints its id.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    super::for_each_pod(&args.pods, |key| engine.pods().restart(key, args.time))
}
