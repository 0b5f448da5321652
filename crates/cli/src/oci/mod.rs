//! `peapod-oci`: the runc-compatible command line over `peapod-runtime`. One file per verb;
//! this file holds the global flags, the dispatch, and error reporting (stderr, and the
//! `--log` file in text or JSON as containerd reads it).

mod checkpoint;
mod create;
mod delete;
mod events;
mod exe_guard;
mod exec;
mod features;
mod kill;
mod list;
mod pause;
mod ps;
mod run;
mod spec;
mod start;
mod state;
mod tty;
mod update;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// An OCI runtime that engines (containerd, podman) can drive like runc.
#[derive(Debug, Parser)]
#[command(name = "peapod-oci", version, arg_required_else_help = true)]
struct Cli {
    /// Where container state lives.
    #[arg(long, global = true, default_value = "/run/peapod-oci")]
    root: PathBuf,
    /// Also write errors to this file.
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// The format of --log.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Accepted for runc compatibility; peapod-oci has no extra debug output yet.
    #[arg(long, global = true)]
    debug: bool,
    /// Use systemd to manage cgroups (not supported: peapod-oci manages cgroupfs directly).
    #[arg(long, global = true)]
    systemd_cgroup: bool,
    /// runc's rootless mode: `auto` and `false` are accepted (engines pass them); `true` is
    /// refused, as peapod-oci runs as root.
    #[arg(long, global = true, value_enum, default_value_t = Rootless::Auto)]
    rootless: Rootless,
    /// The criu binary `checkpoint` and `restore` run (`criu` from PATH if unset).
    #[arg(long, global = true)]
    criu: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// How `list` and `ps` print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Table,
    Json,
}

/// `--rootless`, as runc spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Rootless {
    Auto,
    True,
    False,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a container from a bundle; its process waits for `start`.
    Create(create::Args),
    /// Start a created container.
    Start(start::Args),
    /// Print a container's state as JSON.
    State(state::Args),
    /// Send a signal to a container's process (or all its processes).
    Kill(kill::Args),
    /// Delete a container and everything it holds.
    Delete(delete::Args),
    /// Run another process in a running container.
    Exec(exec::Args),
    /// Create, start and wait for a container; exit with its exit code.
    Run(run::Args),
    /// List containers.
    List(list::Args),
    /// List a container's processes.
    Ps(ps::Args),
    /// Freeze every process of a container.
    Pause(pause::Args),
    /// Thaw a paused container.
    Resume(pause::Args),
    /// Print what this runtime supports, as the runtime spec's features document.
    Features,
    /// Write a default config.json for a bundle.
    Spec(spec::Args),
    /// Change a container's resources while it lives (flags, or OCI JSON with --resources).
    Update(update::Args),
    /// Print a container's resource usage (and OOM kills) as JSON events.
    Events(events::Args),
    /// Checkpoint a running container with criu.
    Checkpoint(checkpoint::CheckpointArgs),
    /// Restore a container from a checkpoint with criu.
    Restore(checkpoint::RestoreArgs),
}

/// Global options every verb may need.
#[derive(Debug)]
pub(crate) struct Globals {
    pub(crate) root: PathBuf,
    /// `--criu`.
    pub(crate) criu: Option<PathBuf>,
    /// `--log` and `--log-format`: where errors and warnings also go.
    log: Option<(PathBuf, LogFormat)>,
}

/// Parses, dispatches, reports errors; the process's exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse_from(go_style_flags(std::env::args_os()));
    let creates_processes = matches!(
        cli.command,
        Command::Create(_) | Command::Run(_) | Command::Exec(_)
    );
    // CVE-2019-5736: no runtime process in a pid namespace others live in may run a binary
    // they could reopen for writing (see exe_guard).
    if exe_guard::enters_shared_pid_namespace(&cli.command) && !peapod_runtime::exe_is_protected() {
        return report(&cli, &exe_guard::protect());
    }
    // CVE-2019-5736: a container must never run, nor rewrite, this binary through
    // /proc/<pid>/exe. Containers' programs are exec'd through a sealed trampoline; where
    // there is none, the whole binary runs from a sealed in-memory copy of itself.
    if creates_processes
        && !peapod_runtime::exec_trampoline_available()
        && let Err(e) = pentacle::ensure_sealed()
    {
        return report(
            &cli,
            &anyhow::anyhow!("cannot run from a sealed copy of peapod-oci: {e}"),
        );
    }
    let globals = Globals {
        root: cli.root.clone(),
        criu: cli.criu.clone(),
        log: cli.log.clone().map(|path| (path, cli.log_format)),
    };
    let result = if cli.systemd_cgroup {
        Err(anyhow::anyhow!(
            "--systemd-cgroup is not supported: peapod-oci manages cgroups through cgroupfs"
        ))
    } else if cli.rootless == Rootless::True {
        Err(anyhow::anyhow!(
            "--rootless=true is not supported: peapod-oci runs as root"
        ))
    } else {
        match &cli.command {
            Command::Create(args) => create::run(&globals, args),
            Command::Start(args) => start::run(&globals, args),
            Command::State(args) => state::run(&globals, args),
            Command::Kill(args) => kill::run(&globals, args),
            Command::Delete(args) => delete::run(&globals, args),
            Command::Run(args) => run::run(&globals, args),
            Command::Exec(args) => exec::run(&globals, args),
            Command::List(args) => list::run(&globals, args),
            Command::Ps(args) => ps::run(&globals, args),
            Command::Pause(args) => pause::pause(&globals, args),
            Command::Resume(args) => pause::resume(&globals, args),
            Command::Features => features::run(),
            Command::Spec(args) => spec::run(args),
            Command::Update(args) => update::run(&globals, args),
            Command::Events(args) => events::run(&globals, args),
            Command::Checkpoint(args) => checkpoint::checkpoint(&globals, args),
            Command::Restore(args) => checkpoint::restore(&globals, args),
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => report(&cli, &e),
    }
}

/// Go's flag parsing (runc's) takes a long flag with one dash too, and go-runc sends one so:
/// `restore -no-subreaper`. That exact flag is given its second dash; nothing else is
/// touched (a container's own arguments may start with one dash).
fn go_style_flags(
    args: impl Iterator<Item = std::ffi::OsString>,
) -> impl Iterator<Item = std::ffi::OsString> {
    args.map(|arg| {
        if arg == "-no-subreaper" {
            "--no-subreaper".into()
        } else {
            arg
        }
    })
}

/// Prints the error (with its causes) to stderr and the log; exit code 1.
fn report(cli: &Cli, error: &anyhow::Error) -> ExitCode {
    let message = format!("{error:#}");
    eprintln!("peapod-oci: {message}");
    if let Some(path) = &cli.log {
        log_line(path, cli.log_format, "error", &message);
    }
    ExitCode::from(1)
}

/// Appends one line to the `--log` file, as runc's logrus writes it (containerd and podman
/// read the JSON form).
fn log_line(path: &std::path::Path, format: LogFormat, level: &str, message: &str) {
    let line = match format {
        LogFormat::Json => serde_json::json!({"level": level, "msg": message}).to_string(),
        LogFormat::Text => format!("level={level} msg={message:?}"),
    };
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(file, "{line}");
    }
}

/// Prints warnings (failed poststart hooks, resources this host ignored) to stderr and the
/// log, without failing the command.
pub(crate) fn warn_all(globals: &Globals, warnings: Vec<peapod_runtime::Error>) {
    for warning in warnings {
        eprintln!("peapod-oci: warning: {warning}");
        if let Some((path, format)) = &globals.log {
            log_line(path, *format, "warning", &warning.to_string());
        }
    }
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
            .find_subcommand_mut("run")
            .unwrap()
            .render_help()
            .to_string();
        assert!(
            help.starts_with("Create, start and wait for a container"),
            "{help}"
        );
        assert!(help.contains("--bundle"), "{help}");
        assert!(help.contains("--root"), "{help}");
    }
}
