//! `peapod container …` and its top-level shortcuts (`run`, `ps`, `rm`, …): one file per
//! verb.

pub(crate) mod attach;
pub(crate) mod cp;
pub(crate) mod create;
pub(crate) mod exec;
pub(crate) mod flags;
pub(crate) mod inspect;
pub(crate) mod kill;
pub(crate) mod logs;
pub(crate) mod pause;
pub(crate) mod port;
pub(crate) mod prune;
pub(crate) mod ps;
pub(crate) mod rename;
pub(crate) mod restart;
pub(crate) mod rm;
pub(crate) mod run;
pub(crate) mod start;
pub(crate) mod stats;
pub(crate) mod stop;
pub(crate) mod top;
pub(crate) mod unpause;
pub(crate) mod wait;

use anyhow::Result;
use peapod_engine::Engine;
use peapod_engine::container::PullPolicy;

use crate::commands::Globals;

/// `peapod container VERB`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Run a command in a new container.
    Run(run::Args),
    /// Create a new container.
    Create(create::Args),
    /// Start one or more containers.
    Start(start::Args),
    /// Stop one or more running containers.
    Stop(stop::Args),
    /// Restart one or more containers.
    Restart(restart::Args),
    /// Kill one or more running containers with a signal.
    Kill(kill::Args),
    /// Remove one or more containers.
    Rm(rm::Args),
    /// List containers.
    #[command(alias = "ls", alias = "list")]
    Ps(ps::Args),
    /// Fetch the logs of a container.
    Logs(logs::Args),
    /// Display detailed information on one or more containers.
    Inspect(inspect::Args),
    /// Block until one or more containers stop, then print their exit codes.
    Wait(wait::Args),
    /// Run a command in a running container.
    Exec(exec::Args),
    /// Attach to a running container's input and output.
    Attach(attach::Args),
    /// Rename a container.
    Rename(rename::Args),
    /// Pause all processes within one or more containers.
    Pause(pause::Args),
    /// Unpause all processes within one or more containers.
    Unpause(unpause::Args),
    /// Display a live stream of containers' resource usage.
    Stats(stats::Args),
    /// Display the running processes of a container.
    Top(top::Args),
    /// Copy files between a container and the host.
    Cp(cp::Args),
    /// List a container's published ports.
    Port(port::Args),
    /// Remove all stopped containers.
    Prune(prune::Args),
}

/// Runs `peapod container VERB`.
pub(crate) fn run(globals: &Globals, command: Command) -> Result<()> {
    match command {
        Command::Run(a) => run::run(globals, &a),
        Command::Create(a) => create::run(globals, &a),
        Command::Start(a) => start::run(globals, &a),
        Command::Stop(a) => stop::run(globals, &a),
        Command::Restart(a) => restart::run(globals, &a),
        Command::Kill(a) => kill::run(globals, &a),
        Command::Rm(a) => rm::run(globals, &a),
        Command::Ps(a) => ps::run(globals, &a),
        Command::Logs(a) => logs::run(globals, &a),
        Command::Inspect(a) => inspect::run(globals, &a),
        Command::Wait(a) => wait::run(globals, &a),
        Command::Exec(a) => exec::run(globals, &a),
        Command::Attach(a) => attach::run(globals, &a),
        Command::Rename(a) => rename::run(globals, &a),
        Command::Pause(a) => pause::run(globals, &a),
        Command::Unpause(a) => unpause::run(globals, &a),
        Command::Stats(a) => stats::run(globals, &a),
        Command::Top(a) => top::run(globals, &a),
        Command::Cp(a) => cp::run(globals, &a),
        Command::Port(a) => port::run(globals, &a),
        Command::Prune(a) => prune::run(globals, &a),
    }
}

/// Makes sure `image` is in the store, as `--pull` says.
pub(crate) fn ensure_image(engine: &Engine, image: &str, policy: PullPolicy) -> Result<()> {
    let present = engine.images().resolve(image).is_ok();
    match policy {
        PullPolicy::Never if !present => {
            anyhow::bail!("{image}: image not known (and --pull never)")
        }
        PullPolicy::Missing if present => Ok(()),
        PullPolicy::Never => Ok(()),
        _ => crate::commands::image::pull::pull_for_container(engine.images(), image),
    }
}

/// `create` with `--pod new:NAME` honoured: the pod is made first, and removed again if the
/// container cannot be.
pub(crate) fn create_in_pod(
    engine: &Engine,
    flags: &flags::CreateFlags,
    opts: &peapod_engine::container::CreateOptions,
) -> Result<peapod_engine::container::ContainerRecord> {
    let Some(pod_opts) = flags.new_pod(&engine.default_network_mode())? else {
        return Ok(engine.containers().create(opts)?);
    };
    let pod = engine.pods().create(&pod_opts)?;
    engine.containers().create(opts).map_err(|e| {
        let _ = engine.pods().remove(&pod.id, true);
        e.into()
    })
}

/// Runs `each` for every name, reporting every failure and returning the last (as docker
/// does for `stop a b c`).
pub(crate) fn for_each(names: &[String], mut each: impl FnMut(&str) -> Result<()>) -> Result<()> {
    let errors: Vec<anyhow::Error> = names.iter().filter_map(|n| each(n).err()).collect();
    crate::commands::fail_after(errors)
}
