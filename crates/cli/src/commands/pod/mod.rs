//! `peapod pod …`: one file per verb. A pod is a few containers that share one network
//! namespace (one IP, `localhost` between them), IPC and hostname, held by an infra process
//! (see `peapod_engine::pod`).

pub(crate) mod create;
pub(crate) mod exists;
pub(crate) mod inspect;
pub(crate) mod kill;
pub(crate) mod logs;
pub(crate) mod ls;
pub(crate) mod pause;
pub(crate) mod port;
pub(crate) mod prune;
pub(crate) mod restart;
pub(crate) mod rm;
pub(crate) mod start;
pub(crate) mod stats;
pub(crate) mod stop;
pub(crate) mod top;
pub(crate) mod unpause;

use anyhow::Result;

use crate::commands::Globals;

/// `peapod pod VERB`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Create a pod (its infra starts with its first container).
    Create(Box<create::Args>),
    /// List pods.
    #[command(alias = "list", alias = "ps")]
    Ls(ls::Args),
    /// Display detailed information on pods.
    Inspect(inspect::Args),
    /// Start pods: the infra, then every container.
    Start(start::Args),
    /// Stop pods: every container, then the infra.
    Stop(stop::Args),
    /// Restart pods.
    Restart(restart::Args),
    /// Send a signal to every container of pods.
    Kill(kill::Args),
    /// Add, remove or list a pod's published ports (while it runs, restarting nothing).
    Port(port::Args),
    /// Pause every container of pods.
    Pause(pause::Args),
    /// Unpause every container of pods.
    Unpause(unpause::Args),
    /// Remove pods and their containers.
    #[command(alias = "remove")]
    Rm(rm::Args),
    /// Remove every pod of which nothing runs.
    Prune(prune::Args),
    /// Exit 0 if the pod exists, 1 if not.
    Exists(exists::Args),
    /// Display the running processes of a pod's containers.
    Top(top::Args),
    /// Display the resource usage of a pod and its containers.
    Stats(stats::Args),
    /// Fetch the logs of a pod's containers, each line prefixed with its container's name.
    Logs(logs::Args),
}

/// Runs `peapod pod VERB`.
pub(crate) fn run(globals: &Globals, command: Command) -> Result<()> {
    match command {
        Command::Create(a) => create::run(globals, &a),
        Command::Ls(a) => ls::run(globals, &a),
        Command::Inspect(a) => inspect::run(globals, &a),
        Command::Start(a) => start::run(globals, &a),
        Command::Stop(a) => stop::run(globals, &a),
        Command::Restart(a) => restart::run(globals, &a),
        Command::Kill(a) => kill::run(globals, &a),
        Command::Pause(a) => pause::run(globals, &a),
        Command::Port(a) => port::run(globals, &a),
        Command::Unpause(a) => unpause::run(globals, &a),
        Command::Rm(a) => rm::run(globals, &a),
        Command::Prune(a) => prune::run(globals, &a),
        Command::Exists(a) => exists::run(globals, &a),
        Command::Top(a) => top::run(globals, &a),
        Command::Stats(a) => stats::run(globals, &a),
        Command::Logs(a) => logs::run(globals, &a),
    }
}

/// Runs `verb` on every pod named, printing each pod's id after it and each member that
/// failed on stderr; fails (after all pods) if any pod or member failed.
pub(crate) fn for_each_pod(
    pods: &[String],
    mut verb: impl FnMut(
        &str,
    ) -> peapod_engine::Result<(
        peapod_engine::pod::PodRecord,
        peapod_engine::pod::MemberResults,
    )>,
) -> Result<()> {
    crate::commands::container::for_each(pods, |key| {
        let (pod, results) = verb(key)?;
        let failed: Vec<String> = results
            .into_iter()
            .filter_map(|(name, e)| e.map(|e| format!("container {name}: {e}")))
            .collect();
        println!("{}", pod.id);
        if failed.is_empty() {
            Ok(())
        } else {
            anyhow::bail!("pod {}: {}", pod.name, failed.join("; "))
        }
    })
}
