//! `peapod top`: a running container's processes, with ps(1)'s descriptors as podman
//! names them (`peapod top web pid user args`).

use std::io::Write;

use anyhow::{Context, Result, anyhow};
use tabwriter::TabWriter;

use crate::commands::Globals;

/// `top CONTAINER [DESCRIPTOR…]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The container.
    container: String,
    /// ps(1) descriptors (`pid`, `user`, `args`, `%C`…; commas separate too). Default:
    /// `user pid ppid pcpu etime tty time args`.
    descriptors: Vec<String>,
}

/// Prints the processes in padded columns.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let descriptors: Vec<&str> = args
        .descriptors
        .iter()
        .flat_map(|d| d.split(','))
        .filter(|d| !d.is_empty())
        .collect();
    let report = globals
        .engine()?
        .containers()
        .top(&args.container, &descriptors)?;
    let mut text = report.header.join("\t");
    text.push('\n');
    for row in &report.rows {
        text.push_str(&row.join("\t"));
        text.push('\n');
    }
    let mut tw = TabWriter::new(Vec::new()).padding(3);
    tw.write_all(text.as_bytes())
        .context("cannot lay out the table")?;
    let bytes = tw
        .into_inner()
        .map_err(|e| anyhow!("cannot lay out the table: {e}"))?;
    crate::output::write_stdout(&String::from_utf8_lossy(&bytes))
}
