//! `peapod inspect` / `container inspect`: docker's JSON, or a Go template per container.

use anyhow::Result;
use serde_json::Value;

use crate::commands::Globals;
use crate::output::{self, Template};

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
    let mut out = std::io::stdout().lock();
    match args.format.as_deref() {
        None | Some("json") => output::print_json(&mut out, &Value::Array(docs))?,
        Some(text) => {
            let t = Template::parse(text)?;
            let mut s = String::new();
            for d in &docs {
                s.push_str(&t.render(d)?);
                s.push('\n');
            }
            output::write_stdout(&s)?;
        }
    }
    crate::commands::fail_after(errors)
}
