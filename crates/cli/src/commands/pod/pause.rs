//! `peapod pod pause`: freezes every running container of the pod.

use anyhow::Result;

use crate::commands::Globals;

/// `pod pause POD...`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The pods.
    #[arg(required = true)]
    pods: Vec<String>,
}

/// Pauses each and prints its id.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    super::for_each_pod(&args.pods, |key| engine.pods().pause(key, true))
}
