//! `peapod kube play`.

use anyhow::Result;

use crate::commands::Globals;

/// `kube play FILE`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The YAML file (`-`: standard input).
    file: String,
    /// Warn about unsupported fields and kinds, and ignore them, instead of failing.
    #[arg(long)]
    lenient: bool,
    /// Start the pods (else only create them).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    start: bool,
    /// Take down pods of the same names first.
    #[arg(long)]
    replace: bool,
}

/// Parses the file (all of it, before anything is made), plays it; prints each pod's id
/// and its containers' ids, as podman does.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let pods = super::read(&args.file, args.lenient, true)?;
    let engine = globals.engine()?;
    let report = engine.kube_play(
        &pods,
        &peapod_engine::kube::KubePlayOptions {
            start: args.start,
            replace: args.replace,
        },
    )?;
    for pod in &report.pods {
        println!("Pod:\n{}\nContainers:", pod.id);
        for id in &pod.containers {
            println!("{id}");
        }
        println!();
    }
    Ok(())
}
