//! `peapod image prune`: remove images without a name (with `-a`, every image no container
//! uses), then every blob and layer nothing references.

use anyhow::Result;

use crate::commands::{Globals, confirm};
use crate::output::human;

/// `image prune [-a] [-f]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Remove every image no container uses, not only those without a name.
    #[arg(short, long)]
    all: bool,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    force: bool,
}

/// Asks (on a terminal) unless `-f`, prunes, and prints what went, as docker does.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let warning = if args.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !args.force && !confirm(warning, "image prune")? {
        return Ok(());
    }
    let engine = globals.engine()?;
    // An image a container uses stays; if the database cannot tell, keep it too.
    let in_use = |id: &peapod_image::Digest| engine.image_in_use(&id.to_string()).unwrap_or(true);
    let report = engine.images().prune(args.all, in_use)?;
    let mut text = String::new();
    if !report.images.is_empty() {
        text.push_str("Deleted Images:\n");
        for id in &report.images {
            text.push_str(&format!("deleted: {id}\n"));
        }
        text.push('\n');
    }
    text.push_str(&format!(
        "Total reclaimed space: {}\n",
        human::size(report.bytes)
    ));
    crate::output::write_stdout(&text)
}
