//! `peapod network inspect`.

use anyhow::Result;
use serde_json::Value;

use crate::commands::Globals;
use crate::output::{self, Template};

/// `network inspect [--format T] NAME...`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A Go template applied to each network (`{{.Subnet}}`, `{{json .IPAM}}`).
    #[arg(short, long)]
    format: Option<String>,
    /// The networks.
    #[arg(required = true)]
    names: Vec<String>,
}

/// Prints a JSON array, or the template for each.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let template = match args.format.as_deref().map(str::trim) {
        None | Some("json") => None,
        Some(text) => Some(Template::parse(text)?),
    };
    let engine = globals.engine()?;
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for n in &args.names {
        match engine.networks().inspect(n) {
            Ok(v) => docs.push(serde_json::to_value(v)?),
            Err(e) => errors.push(e.into()),
        }
    }
    let mut out = std::io::stdout().lock();
    match template {
        None => output::print_json(&mut out, &Value::Array(docs))?,
        Some(t) => t.print(&mut out, &docs, &[])?,
    }
    crate::commands::fail_after(errors)
}
