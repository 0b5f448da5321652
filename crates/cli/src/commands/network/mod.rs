//! `peapod network …`: one file per verb.

pub(crate) mod connect;
pub(crate) mod create;
pub(crate) mod disconnect;
pub(crate) mod inspect;
pub(crate) mod ls;
pub(crate) mod prune;
pub(crate) mod rm;

use anyhow::Result;

use crate::commands::Globals;

/// `peapod network VERB`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Create a bridge network.
    Create(create::Args),
    /// List networks.
    #[command(alias = "list")]
    Ls(ls::Args),
    /// Display detailed information on networks.
    Inspect(inspect::Args),
    /// Remove networks.
    #[command(alias = "remove")]
    Rm(rm::Args),
    /// Remove every network no container is on.
    Prune(prune::Args),
    /// Connect a container to a network.
    Connect(connect::Args),
    /// Disconnect a container from a network.
    Disconnect(disconnect::Args),
}

/// Runs `peapod network VERB`.
pub(crate) fn run(globals: &Globals, command: Command) -> Result<()> {
    match command {
        Command::Create(a) => create::run(globals, &a),
        Command::Ls(a) => ls::run(globals, &a),
        Command::Inspect(a) => inspect::run(globals, &a),
        Command::Rm(a) => rm::run(globals, &a),
        Command::Prune(a) => prune::run(globals, &a),
        Command::Connect(a) => connect::run(globals, &a),
        Command::Disconnect(a) => disconnect::run(globals, &a),
    }
}
