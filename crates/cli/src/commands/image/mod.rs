//! `peapod image …` and the top-level image verbs (`images`, `tag`, `rmi`, `load`, `save`,
//! `import`), one file per verb.

pub(crate) mod history;
pub(crate) mod import;
pub(crate) mod inspect;
pub(crate) mod load;
pub(crate) mod ls;
pub(crate) mod prune;
pub(crate) mod pull;
pub(crate) mod rm;
pub(crate) mod save;
pub(crate) mod tag;

use clap::Subcommand;

use super::Globals;

/// `peapod image` verbs.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List images.
    #[command(visible_alias = "list")]
    Ls(ls::Args),
    /// Show images' details as JSON.
    Inspect(inspect::Args),
    /// Show how an image was built, layer by layer.
    History(history::Args),
    /// Give an image another name.
    Tag(tag::Args),
    /// Remove images.
    #[command(visible_alias = "remove")]
    Rm(rm::Args),
    /// Remove unused images.
    Prune(prune::Args),
    /// Pull an image from a registry.
    Pull(pull::Args),
    /// Load images from a docker-archive or oci-archive (a file, or stdin).
    Load(load::Args),
    /// Save images to a docker-archive or oci-archive (a file, or stdout).
    Save(save::Args),
    /// Create an image from a root filesystem tar.
    Import(import::Args),
}

/// Runs an `image` verb.
pub(crate) fn run(globals: &Globals, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Ls(args) => ls::run(globals, &args),
        Command::Inspect(args) => inspect::run(globals, &args),
        Command::History(args) => history::run(globals, &args),
        Command::Tag(args) => tag::run(globals, &args),
        Command::Rm(args) => rm::run(globals, &args),
        Command::Prune(args) => prune::run(globals, &args),
        Command::Pull(args) => pull::run(globals, &args),
        Command::Load(args) => load::run(globals, &args),
        Command::Save(args) => save::run(globals, &args),
        Command::Import(args) => import::run(globals, &args),
    }
}
