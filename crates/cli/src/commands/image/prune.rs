//! `peapod image prune`: remove images without a name (with `-a`, every image no container
//! uses), then every blob and layer nothing references.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, Result, bail};

use crate::commands::Globals;
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
    if !args.force {
        let warning = if args.all {
            "WARNING! This will remove all images without at least one container associated to them."
        } else {
            "WARNING! This will remove all dangling images."
        };
        if !std::io::stdin().is_terminal() {
            bail!(
                "image prune asks for confirmation, but stdin is not a terminal: use --force to prune without asking"
            );
        }
        print!("{warning}\nAre you sure you want to continue? [y/N] ");
        std::io::stdout()
            .flush()
            .context("cannot write to stdout")?;
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .context("cannot read the answer from stdin")?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES") {
            return Ok(());
        }
    }
    let report = globals.images()?.prune(args.all, |_| false)?;
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
