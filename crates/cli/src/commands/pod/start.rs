//! `peapod pod start`: the infra, then every container not running.

use anyhow::Result;

use crate::commands::Globals;

/// `pod start POD...`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The pods.
    #[arg(required = true)]
    pods: Vec<String>,
}

/// Starts each and prints its id.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    super::for_each_pod(&args.pods, |key| engine.pods().start(key))
}
