//! `peapod system …`.

pub(crate) mod df;

use clap::Subcommand;

use super::Globals;

/// `peapod system` verbs.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Show how much disk peapod uses.
    Df(df::Args),
}

/// Runs a `system` verb.
pub(crate) fn run(globals: &Globals, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Df(args) => df::run(globals, &args),
    }
}
