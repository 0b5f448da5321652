//! `peapod system …`: disk use, pruning, events, the host's and peapod's description, shell
//! completion.

pub(crate) mod completion;
pub(crate) mod df;
pub(crate) mod events;
pub(crate) mod info;
pub(crate) mod prune;
pub(crate) mod version;

use clap::Subcommand;

use super::Globals;

/// `peapod system` verbs.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Show how much disk peapod uses.
    Df(df::Args),
    /// Remove stopped containers, dangling images and (with --volumes) unused volumes.
    Prune(prune::Args),
    /// Print the engine's events (past ones with --since/--until, then new ones).
    Events(events::Args),
    /// Describe the host and the engine.
    Info(info::Args),
}

/// Runs a `system` verb.
pub(crate) fn run(globals: &Globals, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Df(args) => df::run(globals, &args),
        Command::Prune(args) => prune::run(globals, &args),
        Command::Events(args) => events::run(globals, &args),
        Command::Info(args) => info::run(globals, &args),
    }
}
