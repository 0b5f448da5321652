//! `peapod version`: the client's and the engine's versions in `podman version`'s shape
//! (one binary, no daemon: both are this program's).

use anyhow::Result;
use serde_json::{Value, json};

use crate::commands::Globals;
use crate::output::{self, Format};

/// `version [--format F]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// `json`, or a Go template (`{{.Client.Version}}`).
    #[arg(short, long)]
    format: Option<String>,
}

/// One side of the report, as podman's `define.Version` names its fields.
fn side() -> Value {
    let os = std::env::consts::OS;
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    json!({
        "APIVersion": env!("CARGO_PKG_VERSION"),
        "Version": env!("CARGO_PKG_VERSION"),
        "RustVersion": env!("CARGO_PKG_RUST_VERSION"),
        "OsArch": format!("{os}/{arch}"),
        "Os": os,
    })
}

/// Prints the versions as text, JSON or a template.
pub(crate) fn run(_globals: &Globals, args: &Args) -> Result<()> {
    let report = json!({ "Client": side(), "Server": side() });
    match args.format.as_deref() {
        None => {
            let c = &report["Client"];
            let field = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
            output::write_stdout(&format!(
                "Client:       peapod\nVersion:      {}\nAPI Version:  {}\nRust Version: {} (minimum)\nOS/Arch:      {}\n",
                field("Version"),
                field("APIVersion"),
                field("RustVersion"),
                field("OsArch"),
            ))
        }
        given => match Format::parse(given, "")? {
            Format::Json => output::print_json(&mut std::io::stdout().lock(), &report),
            Format::Template(t) => output::write_stdout(&format!("{}\n", t.render(&report)?)),
        },
    }
}
