//! `peapod inspect` / `container inspect`: docker's JSON, or a Go template per container.

use anyhow::Result;

use crate::commands::Globals;
use crate::output;

/// `inspect [--format F] CONTAINER...`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A Go template (`{{.State.Status}}`), or `json`.
    #[arg(short, long)]
    format: Option<String>,
    /// The containers.
    #[arg(required = true)]
    containers: Vec<String>,
}

/// Prints a JSON array, or the template for each.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for name in &args.containers {
        match engine.containers().inspect(name) {
            Ok(doc) => docs.push(doc),
            Err(e) => errors.push(anyhow::Error::from(e)),
        }
    }
    output::print_docs(args.format.as_deref(), docs)?;
    crate::commands::fail_after(errors)
}
