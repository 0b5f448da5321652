//! `peapod volume ls`.

use anyhow::Result;
use serde_json::{Value, json};

use crate::commands::Globals;
use crate::output::{self, Format};

/// `volume ls [-q] [--format F]`.
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
    ("Driver", "DRIVER"),
    ("Name", "VOLUME NAME"),
    ("Mountpoint", "MOUNTPOINT"),
];

/// Lists.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let volumes = globals.engine()?.volumes().list()?;
    if args.quiet {
        let text: String = volumes.iter().map(|v| format!("{}\n", v.name)).collect();
        return output::write_stdout(&text);
    }
    let format = Format::parse(args.format.as_deref(), "table {{.Driver}}\t{{.Name}}")?;
    let rows: Vec<Value> = volumes
        .iter()
        .map(|v| json!({"Name": v.name, "Driver": v.driver, "Mountpoint": v.mountpoint, "CreatedAt": v.created_at, "Labels": v.labels, "Scope": v.scope}))
        .collect();
    output::print_rows(&mut std::io::stdout().lock(), &format, &rows, HEADERS)
}
