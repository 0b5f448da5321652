//! `peapod`: the engine's command line. One file per verb, grouped by noun
//! (`image/ls.rs`, `system/df.rs`), as docker's and nerdctl's are; this file holds the global
//! options, the dispatch, and how errors and exit codes are reported (podman's: 125 for an
//! engine or usage error).

mod image;
mod registry;
mod system;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// The exit code of an error in peapod itself (not in a container), as podman and docker use.
const ENGINE_ERROR: u8 = 125;

/// Containers and pods from first principles: a daemonless container engine.
#[derive(Debug, Parser)]
#[command(name = "peapod", version, arg_required_else_help = true)]
struct Cli {
    /// Where images, containers and the database live.
    #[arg(
        long,
        global = true,
        env = "PEAPOD_ROOT",
        default_value = "/var/lib/peapod"
    )]
    root: PathBuf,
    /// Where runtime state lives (gone after a reboot).
    #[arg(
        long,
        global = true,
        env = "PEAPOD_RUNROOT",
        default_value = "/run/peapod"
    )]
    runroot: PathBuf,
    /// How much to log to stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogLevel::Warn)]
    log_level: LogLevel,
    #[command(subcommand)]
    command: Command,
}

/// `--log-level`, as podman spells its levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
    Panic,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage images.
    #[command(subcommand)]
    Image(image::Command),
    /// List images.
    Images(image::ls::Args),
    /// Pull an image from a registry.
    Pull(image::pull::Args),
    /// Log in to a registry.
    Login(registry::login::Args),
    /// Log out of a registry.
    Logout(registry::logout::Args),
    /// Give an image another name.
    Tag(image::tag::Args),
    /// Remove images.
    Rmi(image::rm::Args),
    /// Load images from a docker-archive or oci-archive (a file, or stdin).
    Load(image::load::Args),
    /// Save images to a docker-archive or oci-archive (a file, or stdout).
    Save(image::save::Args),
    /// Create an image from a root filesystem tar.
    Import(image::import::Args),
    /// Manage peapod itself.
    #[command(subcommand)]
    System(system::Command),
}

/// Global options every verb may need.
#[derive(Debug)]
pub(crate) struct Globals {
    /// `--root`.
    pub(crate) root: PathBuf,
    /// `--runroot` (runtime state; no image verb uses it).
    #[allow(dead_code)]
    pub(crate) runroot: PathBuf,
}

impl Globals {
    /// The image store under `--root`.
    pub(crate) fn images(&self) -> anyhow::Result<peapod_image::Images> {
        Ok(peapod_image::Images::open(&self.root)?)
    }
}

/// Parses, dispatches and reports errors; the process's exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(ENGINE_ERROR)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let globals = Globals {
        root: cli.root,
        runroot: cli.runroot,
    };
    let result = match cli.command {
        Command::Image(command) => image::run(&globals, command),
        Command::Images(args) => image::ls::run(&globals, &args),
        Command::Pull(args) => image::pull::run(&globals, &args),
        Command::Login(args) => registry::login::run(&globals, &args),
        Command::Logout(args) => registry::logout::run(&globals, &args),
        Command::Tag(args) => image::tag::run(&globals, &args),
        Command::Rmi(args) => image::rm::run(&globals, &args),
        Command::Load(args) => image::load::run(&globals, &args),
        Command::Save(args) => image::save::run(&globals, &args),
        Command::Import(args) => image::import::run(&globals, &args),
        Command::System(command) => system::run(&globals, command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::from(ENGINE_ERROR)
        }
    }
}

/// Prints an error with its causes, as `Error: …` on stderr.
pub(crate) fn report(error: &anyhow::Error) {
    eprintln!("Error: {error:#}");
}

/// For verbs that go on past a failing argument (`rmi`, `image inspect`): reports every
/// error but the last, and returns the last as the command's.
pub(crate) fn fail_after(mut errors: Vec<anyhow::Error>) -> anyhow::Result<()> {
    let last = errors.pop();
    for e in &errors {
        report(e);
    }
    last.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn every_verb_builds_and_keeps_its_own_help() {
        let mut cli = super::Cli::command();
        cli.build();
        cli.clone().debug_assert();
        let help = cli
            .find_subcommand_mut("images")
            .unwrap()
            .render_help()
            .to_string();
        assert!(help.starts_with("List images"), "{help}");
        assert!(help.contains("--root"), "{help}");
    }
}
