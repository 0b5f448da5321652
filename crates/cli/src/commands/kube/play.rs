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
    /// The cgroup the pods' cgroups go under.
    #[arg(long)]
    cgroup_parent: Option<String>,
}

/// Parses the file (all of it, before anything is made), pulls the missing images, plays it; prints each pod's id
/// and its containers' ids, as podman does.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let pods = super::read(&args.file, args.lenient, true)?;
    let engine = globals.engine()?;
    // Images not in the store are pulled first, as podman's kube play does.
    for pod in &pods {
        for c in pod.init_containers.iter().chain(&pod.containers) {
            crate::commands::container::ensure_image(
                &engine,
                &c.image,
                peapod_engine::container::PullPolicy::Missing,
            )?;
        }
    }
    let report = engine.kube_play(
        &pods,
        &peapod_engine::kube::KubePlayOptions {
            start: args.start,
            replace: args.replace,
            cgroup_parent: args.cgroup_parent.clone(),
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
