//! `peapod kube generate`.

use anyhow::{Context, Result};

use crate::commands::Globals;

/// `kube generate POD`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The pod.
    pod: String,
    /// Write the manifest to this file (default: standard output).
    #[arg(short = 'f', long = "filename")]
    file: Option<std::path::PathBuf>,
}

/// Writes the pod's Pod manifest; what a manifest cannot say is a warning on stderr.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    let plan = engine.kube_plan(&args.pod)?;
    let generated = peapod_kube::generate(&plan)?;
    for warning in &generated.warnings {
        eprintln!("Warning: {warning}");
    }
    match &args.file {
        Some(path) => std::fs::write(path, &generated.yaml)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{}", generated.yaml),
    }
    Ok(())
}
