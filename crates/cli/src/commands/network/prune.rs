//! `peapod network prune`: removes every network no container is on (the default one
//! stays).

use anyhow::Result;

use crate::commands::{Globals, confirm};

/// `network prune [-f]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Prune without asking first.
    #[arg(short, long)]
    force: bool,
}

const WARNING: &str =
    "WARNING! This will remove all custom networks not used by at least one container.";

/// Asks (unless `-f`), prunes, and prints the names removed, as docker does.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let go = args.force || confirm(WARNING, "network prune")?;
    let removed = if go {
        globals.engine()?.networks().prune()?
    } else {
        Vec::new()
    };
    let names: String = removed.iter().map(|n| format!("{n}\n")).collect();
    let head = if names.is_empty() {
        ""
    } else {
        "Deleted Networks:\n"
    };
    crate::output::write_stdout(&format!("{head}{names}"))
}
