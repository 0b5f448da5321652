//! `peapod`: the engine's command line. One file per verb, grouped by noun
//! (`image/ls.rs`, `system/df.rs`), as docker's and nerdctl's are; this file holds the global
//! options, the dispatch, and how errors and exit codes are reported (podman's: 125 for an
//! engine or usage error).

mod build;
pub(crate) mod builder;
pub(crate) mod container;
pub(crate) mod image;
mod kube;
mod network;
mod pod;
mod registry;
mod system;
mod volume;

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
    /// The configuration file (default /etc/peapod/peapod.conf, if it exists).
    #[arg(long, global = true, env = "PEAPOD_CONFIG")]
    config: Option<PathBuf>,
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
    /// Manage containers.
    #[command(subcommand)]
    Container(container::Command),
    /// Run a command in a new container.
    Run(container::run::Args),
    /// Create a new container.
    Create(container::create::Args),
    /// Start one or more containers.
    Start(container::start::Args),
    /// Stop one or more running containers.
    Stop(container::stop::Args),
    /// Restart one or more containers.
    Restart(container::restart::Args),
    /// Kill one or more running containers with a signal.
    Kill(container::kill::Args),
    /// Remove one or more containers.
    Rm(container::rm::Args),
    /// List containers.
    Ps(container::ps::Args),
    /// Fetch the logs of a container.
    Logs(container::logs::Args),
    /// Display detailed information on containers.
    Inspect(container::inspect::Args),
    /// Block until containers stop, then print their exit codes.
    Wait(container::wait::Args),
    /// Run a command in a running container.
    Exec(container::exec::Args),
    /// Attach to a running container's input and output.
    Attach(container::attach::Args),
    /// Rename a container.
    Rename(container::rename::Args),
    /// Pause all processes within containers.
    Pause(container::pause::Args),
    /// Unpause all processes within containers.
    Unpause(container::unpause::Args),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(volume::Command),
    /// Manage networks.
    #[command(subcommand)]
    Network(network::Command),
    /// Manage pods: containers that share one IP, IPC and hostname.
    #[command(subcommand)]
    Pod(pod::Command),
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
    /// Play, take down and generate Kubernetes manifests.
    #[command(subcommand)]
    Kube(kube::Command),
    /// Build an image from a Containerfile.
    Build(build::Args),
    /// Manage the build cache.
    #[command(subcommand)]
    Builder(builder::Command),
    /// Manage peapod itself.
    #[command(subcommand)]
    System(system::Command),
    /// Display a live stream of containers' resource usage.
    Stats(container::stats::Args),
    /// Display the running processes of a container.
    Top(container::top::Args),
    /// Copy files between a container and the host.
    Cp(container::cp::Args),
    /// List a container's published ports.
    Port(container::port::Args),
    /// Print the engine's events (past ones with --since/--until, then new ones).
    Events(system::events::Args),
    /// Describe the host and the engine.
    Info(system::info::Args),
    /// Print the client's and the engine's versions.
    Version(system::version::Args),
    /// Print a shell completion script.
    Completion(system::completion::Args),
}

/// Global options every verb may need.
#[derive(Debug)]
pub(crate) struct Globals {
    /// `--root`.
    pub(crate) root: PathBuf,
    /// `--runroot` (runtime state).
    pub(crate) runroot: PathBuf,
    /// `--config`.
    pub(crate) config: Option<PathBuf>,
}

/// Ends `peapod` with a container's exit code, printing nothing more.
#[derive(Debug)]
pub(crate) struct ExitWith(pub(crate) u8);

impl std::fmt::Display for ExitWith {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit code {}", self.0)
    }
}

impl std::error::Error for ExitWith {}

impl Globals {
    /// The image store under `--root`.
    pub(crate) fn images(&self) -> anyhow::Result<peapod_image::Images> {
        Ok(peapod_image::Images::open(&self.root)?)
    }

    /// The engine on `--root` and `--runroot`.
    pub(crate) fn engine(&self) -> anyhow::Result<peapod_engine::Engine> {
        Ok(peapod_engine::Engine::open(&peapod_engine::EngineOptions {
            root: self.root.clone(),
            runroot: self.runroot.clone(),
            monitor_program: None,
        })?
        .with_config(peapod_engine::config::EngineConfig::load(
            self.config.as_deref(),
        )?))
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
    // `exec` joins a running container: run from a read-only view of our binary first
    // (CVE-2019-5736), as the runtime requires.
    if matches!(
        cli.command,
        Command::Exec(_) | Command::Container(container::Command::Exec(_))
    ) && !peapod_runtime::exe_is_protected()
        && let Err(e) = peapod_runtime::reexec_read_only()
    {
        eprintln!("Error: {e}");
        return ExitCode::from(ENGINE_ERROR);
    }
    let globals = Globals {
        root: cli.root,
        runroot: cli.runroot,
        config: cli.config,
    };
    let result = match cli.command {
        Command::Container(command) => container::run(&globals, command),
        Command::Run(args) => container::run::run(&globals, &args),
        Command::Create(args) => container::create::run(&globals, &args),
        Command::Start(args) => container::start::run(&globals, &args),
        Command::Stop(args) => container::stop::run(&globals, &args),
        Command::Restart(args) => container::restart::run(&globals, &args),
        Command::Kill(args) => container::kill::run(&globals, &args),
        Command::Rm(args) => container::rm::run(&globals, &args),
        Command::Ps(args) => container::ps::run(&globals, &args),
        Command::Logs(args) => container::logs::run(&globals, &args),
        Command::Inspect(args) => container::inspect::run(&globals, &args),
        Command::Wait(args) => container::wait::run(&globals, &args),
        Command::Exec(args) => container::exec::run(&globals, &args),
        Command::Attach(args) => container::attach::run(&globals, &args),
        Command::Rename(args) => container::rename::run(&globals, &args),
        Command::Pause(args) => container::pause::run(&globals, &args),
        Command::Unpause(args) => container::unpause::run(&globals, &args),
        Command::Volume(command) => volume::run(&globals, command),
        Command::Network(command) => network::run(&globals, command),
        Command::Pod(command) => pod::run(&globals, command),
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
        Command::Kube(command) => kube::run(&globals, command),
        Command::Build(args) => build::run(&globals, &args),
        Command::Builder(command) => builder::run(&globals, command),
        Command::System(command) => system::run(&globals, command),
        Command::Stats(args) => container::stats::run(&globals, &args),
        Command::Top(args) => container::top::run(&globals, &args),
        Command::Cp(args) => container::cp::run(&globals, &args),
        Command::Port(args) => container::port::run(&globals, &args),
        Command::Events(args) => system::events::run(&globals, &args),
        Command::Info(args) => system::info::run(&globals, &args),
        Command::Version(args) => system::version::run(&globals, &args),
        Command::Completion(args) => system::completion::run(&globals, &args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(ExitWith(code)) = e.downcast_ref::<ExitWith>() {
                return ExitCode::from(*code);
            }
            report(&e);
            let code = e
                .downcast_ref::<peapod_engine::Error>()
                .map_or(ENGINE_ERROR, peapod_engine::Error::exit_code);
            ExitCode::from(code)
        }
    }
}

/// Prints an error with its causes, as `Error: …` on stderr.
pub(crate) fn report(error: &anyhow::Error) {
    eprintln!("Error: {error:#}");
}

/// Asks `warning` and `Are you sure you want to continue? [y/N]` on the terminal (docker's
/// prune prompt); whether the answer was yes. Without a terminal on stdin it fails, naming
/// `verb` and `--force`.
pub(crate) fn confirm(warning: &str, verb: &str) -> anyhow::Result<bool> {
    use anyhow::Context as _;
    use std::io::{BufRead as _, IsTerminal as _, Write as _};
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "{verb} asks for confirmation, but stdin is not a terminal: use --force to prune without asking"
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
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES"))
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
