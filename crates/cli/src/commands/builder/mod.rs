//! `peapod builder …`: the build cache (docker's `builder` noun).

pub(crate) mod prune;

use clap::Subcommand;

use super::Globals;

/// `peapod builder` verbs.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Remove build cache: entries no tagged image reaches (every entry with -a).
    Prune(prune::Args),
}

/// Runs a `builder` verb.
pub(crate) fn run(globals: &Globals, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Prune(args) => prune::run(globals, &args),
    }
}
