//! `peapod network ls`.

use anyhow::Result;
use serde_json::Value;

use crate::commands::Globals;
use crate::output::{self, Format};

/// `network ls [-q] [--format F]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Only names.
    #[arg(short, long)]
    quiet: bool,
    /// `table`, `json`, or a Go template (`{{.Name}}`).
    #[arg(long)]
    format: Option<String>,
}

const HEADERS: &[(&str, &str)] = &[
    ("ID", "NETWORK ID"),
    ("Name", "NAME"),
    ("Driver", "DRIVER"),
    ("Subnet", "SUBNET"),
    ("Gateway", "GATEWAY"),
];

/// Lists.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let networks = globals.engine()?.networks().list()?;
    if args.quiet {
        let text: String = networks.iter().map(|n| format!("{}\n", n.name)).collect();
        return output::write_stdout(&text);
    }
    let format = Format::parse(
        args.format.as_deref(),
        "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Subnet}}",
    )?;
    let rows: Vec<Value> = networks
        .iter()
        .map(|n| {
            let mut v = serde_json::to_value(n).unwrap_or(Value::Null);
            v["ID"] = Value::String(n.id.chars().take(12).collect());
            v
        })
        .collect();
    output::print_rows(&mut std::io::stdout().lock(), &format, &rows, HEADERS)
}
