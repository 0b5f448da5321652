//! `peapod network inspect`.

use anyhow::Result;
use serde_json::Value;

use crate::commands::Globals;
use crate::output;

/// `network inspect NAME...`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The networks.
    #[arg(required = true)]
    names: Vec<String>,
}

/// Prints a JSON array.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for n in &args.names {
        match engine.networks().inspect(n) {
            Ok(v) => docs.push(serde_json::to_value(v)?),
            Err(e) => errors.push(e.into()),
        }
    }
    output::print_json(&mut std::io::stdout().lock(), &Value::Array(docs))?;
    crate::commands::fail_after(errors)
}
