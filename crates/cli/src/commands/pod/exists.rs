//! `peapod pod exists`: exit code 0 if the pod exists, 1 if it does not.

use anyhow::Result;

use crate::commands::{ExitWith, Globals};

/// `pod exists POD`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The pod.
    pod: String,
}

/// Exits 0 or 1, printing nothing.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    if globals.engine()?.pods().exists(&args.pod)? {
        Ok(())
    } else {
        Err(ExitWith(1).into())
    }
}
