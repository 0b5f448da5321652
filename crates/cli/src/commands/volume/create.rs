//! `peapod volume create`.

use std::collections::BTreeMap;

use anyhow::Result;

use crate::commands::Globals;

/// `volume create [--label K=V] [NAME]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Metadata.
    #[arg(short, long)]
    label: Vec<String>,
    /// The name (random if none).
    name: Option<String>,
}

/// Creates and prints the name.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let labels: BTreeMap<String, String> = args
        .label
        .iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let v = globals
        .engine()?
        .volumes()
        .create(args.name.as_deref(), &labels)?;
    println!("{}", v.name);
    Ok(())
}
