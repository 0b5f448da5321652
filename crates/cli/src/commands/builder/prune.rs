//! `peapod builder prune [-a] [-f]`: removes the build cache's entries that no tagged image
//! reaches and the dangling ones (every entry with `-a`), then the layers and blobs nothing
//! references any more; prints docker's report.

use anyhow::Result;

use crate::commands::{Globals, confirm};
use crate::output::human;

/// `builder prune [-a] [-f]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Remove all build cache, not only what no tagged image uses.
    #[arg(short, long)]
    pub(crate) all: bool,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub(crate) force: bool,
}

/// Asks (unless `-f`), prunes, and prints what went.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let warning = if args.all {
        "WARNING! This will remove all build cache."
    } else {
        "WARNING! This will remove all dangling build cache."
    };
    if !args.force && !confirm(warning, "builder prune")? {
        return Ok(());
    }
    let engine = globals.engine()?;
    let report = peapod_engine::build::prune(&engine, args.all)?;
    let mut text = section(&report);
    text.push_str(&format!(
        "Total reclaimed space: {}\n",
        human::size(report.bytes)
    ));
    crate::output::write_stdout(&text)
}

/// docker's list of the entries removed (by key, shortened as docker shortens its ids),
/// empty when none was; `system prune` prints it too.
pub(crate) fn section(report: &peapod_engine::build::cache::CachePruneReport) -> String {
    let mut text = String::new();
    if !report.entries.is_empty() {
        text.push_str("Deleted build cache objects:\n");
        for key in &report.entries {
            text.push_str(key.get(..25).unwrap_or(key));
            text.push('\n');
        }
        text.push('\n');
    }
    text
}
