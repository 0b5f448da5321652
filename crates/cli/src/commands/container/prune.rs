//! `peapod container prune`: removes every stopped (created or exited) container.

use anyhow::Result;

use crate::commands::{Globals, confirm};
use crate::output::human;

/// `container prune [-f]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Do not ask for confirmation.
    #[arg(short, long)]
    force: bool,
}

/// Asks (unless `-f`), prunes, and prints the ids and the space freed, as docker does.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    if !args.force
        && !confirm(
            "WARNING! This will remove all stopped containers.",
            "container prune",
        )?
    {
        return Ok(());
    }
    let removed = globals.engine()?.containers().prune()?;
    let mut text = String::new();
    if !removed.is_empty() {
        text.push_str("Deleted Containers:\n");
        for c in &removed {
            text.push_str(&c.record.id);
            text.push('\n');
        }
        text.push('\n');
    }
    let bytes: u64 = removed.iter().map(|c| c.size).sum();
    text.push_str(&format!("Total reclaimed space: {}\n", human::size(bytes)));
    crate::output::write_stdout(&text)
}
