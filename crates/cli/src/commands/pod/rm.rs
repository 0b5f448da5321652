//! `peapod pod rm`: the pod, its containers and its infra; nothing left behind.

use anyhow::Result;

use crate::commands::Globals;

/// `pod rm [-f] POD...`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Kill and remove running containers too.
    #[arg(short, long)]
    force: bool,
    /// The pods.
    #[arg(required = true)]
    pods: Vec<String>,
}

/// Removes each and prints its id.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    crate::commands::container::for_each(&args.pods, |key| {
        let pod = engine.pods().remove(key, args.force)?;
        println!("{}", pod.id);
        Ok(())
    })
}
