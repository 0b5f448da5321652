//! `peapod kube down`.

use anyhow::Result;

use crate::commands::Globals;

/// `kube down FILE`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The YAML file that was played (`-`: standard input).
    file: String,
}

/// Removes the pods the file names (only their names matter: unsupported fields are
/// ignored here, with a warning); prints each removed pod's name.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let pods = super::read(&args.file, true, false)?;
    let engine = globals.engine()?;
    let removed = engine.kube_down(&pods)?;
    println!("Pods stopped and removed:");
    for name in removed {
        println!("{name}");
    }
    Ok(())
}
