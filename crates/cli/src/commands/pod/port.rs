//! `peapod pod port`: a running pod's published ports, changed without restarting anything
//! (`add`, `rm`), or listed (`ls`).

use anyhow::Result;

use crate::commands::Globals;

/// `pod port add|rm|ls POD [SPEC…]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Publish more ports (`[HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]`).
    Add {
        /// The pod.
        pod: String,
        /// The ports.
        #[arg(required = true)]
        ports: Vec<String>,
    },
    /// Stop publishing ports (each as it was given).
    #[command(alias = "remove")]
    Rm {
        /// The pod.
        pod: String,
        /// The ports.
        #[arg(required = true)]
        ports: Vec<String>,
    },
    /// List the published ports.
    #[command(alias = "list")]
    Ls {
        /// The pod.
        pod: String,
    },
}

/// Changes or lists, printing the pod's ports after.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    let pods = engine.pods();
    let pod = match &args.action {
        Action::Add { pod, ports } => pods.publish(pod, ports)?,
        Action::Rm { pod, ports } => pods.unpublish(pod, ports)?,
        Action::Ls { pod } => pods.get(pod)?,
    };
    let text: String = pod
        .config
        .publish
        .iter()
        .map(|p| format!("{p}\n"))
        .collect();
    crate::output::write_stdout(&text)
}
