//! `peapod pod inspect`: podman's fields (`Id`, `Name`, `State`, `InfraContainerID`,
//! `SharedNamespaces`, `Containers`…).

use crate::commands::Globals;
use crate::output;
use anyhow::Result;

/// `pod inspect [--format F] POD...`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// `json` (default) or a Go template (`{{.State}}`).
    #[arg(short, long)]
    format: Option<String>,
    /// The pods.
    #[arg(required = true)]
    pods: Vec<String>,
}

/// Prints a JSON array, or the template once per pod.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for key in &args.pods {
        match engine.pods().inspect(key) {
            Ok(report) => docs.push(serde_json::to_value(report)?),
            Err(e) => errors.push(anyhow::Error::from(e)),
        }
    }
    output::print_docs(args.format.as_deref(), docs)?;
    crate::commands::fail_after(errors)
}
