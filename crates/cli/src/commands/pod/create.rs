//! `peapod pod create`: a pod (not started: its infra starts with its first container, or
//! `pod start`); prints its id.

use anyhow::Result;
use peapod_engine::container::{NetworkMode, parse_cpus, parse_size};
use peapod_engine::pod::{PodCreateOptions, Share};

use crate::commands::Globals;
use crate::commands::container::flags::NetworkFlags;

/// `pod create [OPTIONS]`.
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub(crate) struct Args {
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// The pod's name (default: a generated one).
    #[arg(long, short = 'n')]
    pub(crate) name: Option<String>,
    /// The hostname its containers see (default: the pod's name).
    #[arg(long, short = 'h')]
    hostname: Option<String>,
    /// The namespaces its containers share: `net,ipc,uts` (default), `pid` too, or `+pid`.
    #[arg(long)]
    share: Option<String>,
    /// Whether the pod has an infra container (without one, nothing is shared).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    infra: bool,
    /// The pod's network options (its members have none of their own); without
    /// `--network`, the configuration's `containers.netns` (`bridge`), or `none` without an
    /// infra or a shared network namespace.
    #[command(flatten)]
    net: NetworkFlags,
    /// The pod's memory limit (`512m`, `1g`), shared by its containers.
    #[arg(short, long)]
    memory: Option<String>,
    /// The pod's CPU limit (`1.5`).
    #[arg(long)]
    cpus: Option<String>,
    /// The pod's process limit.
    #[arg(long)]
    pids_limit: Option<i64>,
    /// A label `KEY=VALUE`.
    #[arg(long, short = 'l')]
    label: Vec<String>,
    /// The cgroup the pod's cgroup goes under.
    #[arg(long)]
    cgroup_parent: Option<String>,
    /// The restart policy of its containers (`no`, `on-failure[:N]`, `always`,
    /// `unless-stopped`), for those without one of their own.
    #[arg(long, default_value = "no")]
    restart: String,
}

impl Args {
    /// The engine's options; every value checked. `default` is the engine's default network
    /// mode, for a pod made without `--network` that has a network namespace of its own.
    pub(crate) fn options(&self, default: &NetworkMode) -> Result<PodCreateOptions> {
        let mut o = PodCreateOptions {
            name: self.name.clone(),
            hostname: self.hostname.clone(),
            infra: self.infra,
            cgroup_parent: self.cgroup_parent.clone(),
            restart: self.restart.parse()?,
            ..self.net.pod_options(&NetworkMode::None)?
        };
        if let Some(s) = &self.share {
            o.share = Share::parse(s)?;
        }
        if !self.net.network_given() && self.infra && o.share.net {
            o.network = default.clone();
        }
        if let Some(m) = &self.memory {
            o.resources.memory = Some(parse_size("--memory", m)?);
        }
        if let Some(c) = &self.cpus {
            o.resources.nano_cpus = Some(parse_cpus(c)?);
        }
        o.resources.pids_limit = self.pids_limit;
        o.labels = crate::commands::container::flags::parse_labels(&self.label);
        Ok(o)
    }
}

/// Creates and prints the id.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    let pod = engine
        .pods()
        .create(&args.options(&engine.default_network_mode())?)?;
    println!("{}", pod.id);
    Ok(())
}
