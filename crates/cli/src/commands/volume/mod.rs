//! `peapod volume …`: one file per verb.

pub(crate) mod create;
pub(crate) mod inspect;
pub(crate) mod ls;
pub(crate) mod prune;
pub(crate) mod rm;

use anyhow::Result;

use crate::commands::Globals;

/// `peapod volume VERB`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Create a volume.
    Create(create::Args),
    /// List volumes.
    #[command(alias = "list")]
    Ls(ls::Args),
    /// Display detailed information on volumes.
    Inspect(inspect::Args),
    /// Remove volumes.
    #[command(alias = "remove")]
    Rm(rm::Args),
    /// Remove unused volumes.
    Prune(prune::Args),
}

/// Runs `peapod volume VERB`.
pub(crate) fn run(globals: &Globals, command: Command) -> Result<()> {
    match command {
        Command::Create(a) => create::run(globals, &a),
        Command::Ls(a) => ls::run(globals, &a),
        Command::Inspect(a) => inspect::run(globals, &a),
        Command::Rm(a) => rm::run(globals, &a),
        Command::Prune(a) => prune::run(globals, &a),
    }
}
