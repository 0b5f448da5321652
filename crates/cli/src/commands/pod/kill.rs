//! `peapod pod kill`: a signal to every running container of the pod and to its infra.

use anyhow::Result;

use crate::commands::Globals;

/// `pod kill [-s SIGNAL] POD...`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The signal (name or number).
    #[arg(short, long, default_value = "KILL")]
    signal: String,
    /// The pods.
    #[arg(required = true)]
    pods: Vec<String>,
}

/// Signals each and prints its id.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    super::for_each_pod(&args.pods, |key| engine.pods().kill(key, &args.signal))
}
