//! The flags `create` and `run` share, parsed into the engine's [`CreateOptions`] with
//! docker's names and rules.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use peapod_engine::container::{
    CreateOptions, HealthConfig, NetworkMode, PullPolicy, SeccompChoice, parse_cpus, parse_mount,
    parse_size, parse_tmpfs, parse_ulimit, parse_volume,
};

/// The network flags `create`/`run` and `pod create` share (a container in a pod has the
/// pod's, so `run --pod new:NAME` gives them to the new pod).
#[derive(Debug, clap::Args)]
pub(crate) struct NetworkFlags {
    /// Network: `none`, `host`, `bridge` (the default network `peapod`), a network's name
    /// or `container:ID` (default: the configuration's `containers.netns`, `bridge`).
    #[arg(long, alias = "net")]
    network: Option<String>,
    /// Publish a port (`[HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]`, ranges too).
    #[arg(short, long = "publish")]
    publish: Vec<String>,
    /// A fixed IPv4 or IPv6 address on its network.
    #[arg(long)]
    ip: Option<String>,
    /// A DNS server.
    #[arg(long)]
    dns: Vec<String>,
    /// A DNS search domain.
    #[arg(long)]
    dns_search: Vec<String>,
    /// A line for /etc/hosts (`NAME:IP`, `NAME:host-gateway`).
    #[arg(long)]
    add_host: Vec<String>,
    /// Another name the containers of its network resolve it by.
    #[arg(long)]
    network_alias: Vec<String>,
}

impl NetworkFlags {
    /// The flags as the engine's pod options (the rest default): `pod create` and
    /// `run --pod new:NAME` take them so, and a container's are the same fields
    /// ([`NetworkFlags::apply`]).
    /// `default` is the network mode when `--network` is not given.
    pub(crate) fn pod_options(
        &self,
        default: &NetworkMode,
    ) -> Result<peapod_engine::pod::PodCreateOptions> {
        Ok(peapod_engine::pod::PodCreateOptions {
            network: match &self.network {
                Some(n) => n.parse::<NetworkMode>()?,
                None => default.clone(),
            },
            publish: self.publish.clone(),
            ip: self.ip.clone(),
            dns: self.dns.clone(),
            dns_search: self.dns_search.clone(),
            add_hosts: self.add_host.clone(),
            aliases: self.network_alias.clone(),
            ..Default::default()
        })
    }

    /// Whether `--network` was given.
    pub(crate) fn network_given(&self) -> bool {
        self.network.is_some()
    }

    /// Sets a container's network options from the flags (`default`: the mode when
    /// `--network` is not given).
    fn apply(&self, o: &mut CreateOptions, default: &NetworkMode) -> Result<()> {
        let p = self.pod_options(default)?;
        o.network = p.network;
        o.publish = p.publish;
        o.ip = p.ip;
        o.dns = p.dns;
        o.dns_search = p.dns_search;
        o.add_hosts = p.add_hosts;
        o.aliases = p.aliases;
        Ok(())
    }
}

/// `create`/`run` flags.
#[derive(Debug, clap::Args)]
pub(crate) struct CreateFlags {
    /// Assign a name to the container.
    #[arg(long)]
    name: Option<String>,
    /// Keep stdin open.
    #[arg(short, long)]
    pub(crate) interactive: bool,
    /// Allocate a pseudo-terminal.
    #[arg(short, long)]
    pub(crate) tty: bool,
    /// Remove the container (and its anonymous volumes) when it exits.
    #[arg(long)]
    pub(crate) rm: bool,
    /// Set environment variables (`KEY=VALUE`, or `KEY` to pass ours on).
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Read environment variables from a file (`KEY=VALUE` lines; `#` comments).
    #[arg(long = "env-file", value_name = "FILE")]
    env_file: Vec<std::path::PathBuf>,
    /// The working directory inside the container.
    #[arg(short, long)]
    workdir: Option<String>,
    /// The user (`name`, `uid`, `user:group`, `uid:gid`).
    #[arg(short, long)]
    user: Option<String>,
    /// Override the image's entrypoint (`""` clears it).
    #[arg(long)]
    entrypoint: Option<String>,
    /// The container's hostname.
    #[arg(short = 'h', long)]
    hostname: Option<String>,
    /// Memory limit (`512m`, `1g`).
    #[arg(short, long, allow_hyphen_values = true)]
    memory: Option<String>,
    /// Memory plus swap limit (`-1`: unlimited swap).
    #[arg(long, allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Number of CPUs (`1.5`).
    #[arg(long, allow_hyphen_values = true)]
    cpus: Option<String>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long)]
    cpu_shares: Option<u64>,
    /// Tune the container's pids limit (-1: unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pids_limit: Option<i64>,
    /// Ulimit options (`nofile=1024:2048`).
    #[arg(long)]
    ulimit: Vec<String>,
    /// Bind mount a host path or mount a volume (`HOST:CTR[:ro|rw]`, `NAME:CTR`, `CTR`).
    #[arg(short, long)]
    volume: Vec<String>,
    /// Attach a mount (`type=bind|volume|tmpfs,source=…,target=…[,readonly]`).
    #[arg(long)]
    mount: Vec<String>,
    /// Mount a tmpfs (`/run[:size=64m]`).
    #[arg(long)]
    tmpfs: Vec<String>,
    /// Mount the container's root filesystem read-only.
    #[arg(long)]
    read_only: bool,
    /// Add Linux capabilities.
    #[arg(long)]
    cap_add: Vec<String>,
    /// Drop Linux capabilities.
    #[arg(long)]
    cap_drop: Vec<String>,
    /// Give extended privileges to the container.
    #[arg(long)]
    privileged: bool,
    /// Security options (`seccomp=FILE|unconfined`, `no-new-privileges[=true]`).
    #[arg(long)]
    security_opt: Vec<String>,
    /// Restart policy (`no`, `on-failure[:N]`, `always`, `unless-stopped`; default `no`, or
    /// in a pod the pod's).
    #[arg(long)]
    restart: Option<String>,
    /// Set metadata (`KEY=VALUE`).
    #[arg(short, long)]
    label: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps processes.
    #[arg(long)]
    init: bool,
    /// Signal to stop the container.
    #[arg(long)]
    stop_signal: Option<String>,
    /// Timeout (in seconds) to stop the container.
    #[arg(long)]
    stop_timeout: Option<u32>,
    /// The OCI runtime (a name in PATH, or a path) instead of the built-in one.
    #[arg(long)]
    runtime: Option<String>,
    /// Pull the image: `missing`, `always`, `never`.
    #[arg(long, default_value = "missing")]
    pub(crate) pull: String,
    #[command(flatten)]
    net: NetworkFlags,
    /// Publish every port the image exposes on a free host port.
    #[arg(short = 'P', long)]
    publish_all: bool,
    /// A fixed IPv6 address on its (dual-stack) network.
    #[arg(long)]
    ip6: Option<String>,
    /// The cgroup the container's cgroup goes under.
    #[arg(long)]
    cgroup_parent: Option<String>,
    /// The pod to join (`NAME`, or `new:NAME` to create it, taking this container's network
    /// options).
    #[arg(long)]
    pod: Option<String>,
    /// Log driver options (`max-size=10m`, `max-file=3`).
    #[arg(long)]
    log_opt: Vec<String>,
    /// Command to run to check health.
    #[arg(long)]
    health_cmd: Option<String>,
    /// Time between health checks (`30s`, `1m`).
    #[arg(long)]
    health_interval: Option<String>,
    /// Consecutive failures needed to report unhealthy.
    #[arg(long)]
    health_retries: Option<u32>,
    /// Start period for the container to initialize before counting retries.
    #[arg(long)]
    health_start_period: Option<String>,
    /// Maximum time to allow one check to run.
    #[arg(long)]
    health_timeout: Option<String>,
    /// Disable any container-specified HEALTHCHECK.
    #[arg(long)]
    no_healthcheck: bool,
    /// Print help (`-h` is `--hostname`, as docker's).
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// The image, then the command and its arguments (everything after the image is the
    /// command's, flags included, as docker parses it).
    #[arg(value_name = "IMAGE [COMMAND] [ARG...]", required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
    image_and_command: Vec<String>,
}

fn duration(flag: &str, text: &str) -> Result<u64> {
    let d = humantime::parse_duration(text)
        .or_else(|_| text.parse::<u64>().map(std::time::Duration::from_secs))
        .with_context(|| {
            format!("invalid {flag} {text:?}: expected a duration such as 30s or 1m")
        })?;
    u64::try_from(d.as_nanos()).with_context(|| format!("invalid {flag} {text:?}: too long"))
}

fn env_file(path: &std::path::Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the env file {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(pass_env)
        .collect())
}

/// `--label KEY=VALUE` (or `KEY`, an empty value) as a map.
pub(crate) fn parse_labels(labels: &[String]) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// `KEY` alone passes our own value on (and is dropped when we have none), as docker does.
fn pass_env(entry: &str) -> String {
    if entry.contains('=') {
        entry.to_owned()
    } else {
        std::env::var(entry).map_or_else(|_| entry.to_owned(), |v| format!("{entry}={v}"))
    }
}

impl CreateFlags {
    /// The image.
    pub(crate) fn image(&self) -> &str {
        self.image_and_command.first().map_or("", String::as_str)
    }

    /// The command after the image.
    fn command(&self) -> Vec<String> {
        self.image_and_command
            .get(1..)
            .map(<[String]>::to_vec)
            .unwrap_or_default()
    }

    /// The pull policy.
    pub(crate) fn pull_policy(&self) -> Result<PullPolicy> {
        Ok(self.pull.parse()?)
    }

    /// The network mode when `--network` is not given: `default` (the engine's default
    /// mode), except for a container joining an existing pod, which has the pod's network
    /// and so `none` of its own.
    fn network_default(&self, default: &NetworkMode) -> NetworkMode {
        if self.pod.as_deref().is_some_and(|p| !p.starts_with("new:")) {
            NetworkMode::None
        } else {
            default.clone()
        }
    }

    /// `--pod new:NAME`: the pod to create first, with this container's network options
    /// (which then are the pod's, not the container's); `default` is the engine's default
    /// network mode.
    pub(crate) fn new_pod(
        &self,
        default: &NetworkMode,
    ) -> Result<Option<peapod_engine::pod::PodCreateOptions>> {
        let Some(name) = self.pod.as_deref().and_then(|p| p.strip_prefix("new:")) else {
            return Ok(None);
        };
        Ok(Some(peapod_engine::pod::PodCreateOptions {
            name: Some(name.to_owned()),
            hostname: self.hostname.clone(),
            ..self.net.pod_options(default)?
        }))
    }

    /// The engine's options; every value checked. `default` is the engine's default network
    /// mode, for a container made without `--network`.
    pub(crate) fn options(&self, default: &NetworkMode) -> Result<CreateOptions> {
        let mut o = CreateOptions {
            image: self.image().to_owned(),
            name: self.name.clone(),
            stdin: self.interactive,
            autoremove: self.rm,
            init: self.init,
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self.stop_timeout,
            runtime: self.runtime.clone(),
            cgroup_parent: self.cgroup_parent.clone(),
            no_healthcheck: self.no_healthcheck,
            publish_all: self.publish_all,
            ip6: self.ip6.clone(),
            restart: self.restart.as_deref().map(str::parse).transpose()?,
            ..CreateOptions::default()
        };
        o.pod = self
            .pod
            .as_deref()
            .map(|p| p.strip_prefix("new:").unwrap_or(p).to_owned());
        // With `--pod new:NAME` they went to the new pod.
        if !self.pod.as_deref().is_some_and(|p| p.starts_with("new:")) {
            self.net.apply(&mut o, &self.network_default(default))?;
        }
        o.config.cmd = self.command();
        o.config.entrypoint = self.entrypoint.as_ref().map(|e| {
            if e.is_empty() {
                Vec::new()
            } else {
                vec![e.clone()]
            }
        });
        for f in &self.env_file {
            o.config.env.extend(env_file(f)?);
        }
        o.config.env.extend(self.env.iter().map(|e| pass_env(e)));
        o.config.workdir = self.workdir.clone();
        o.config.user = self.user.clone();
        // With `--pod new:NAME` the hostname went to the new pod.
        o.config.hostname = self
            .hostname
            .clone()
            .filter(|_| !self.pod.as_deref().is_some_and(|p| p.starts_with("new:")));
        o.config.tty = self.tty;
        o.config.read_only = self.read_only;
        o.config.privileged = self.privileged;
        o.config.cap_add = self.cap_add.clone();
        o.config.cap_drop = self.cap_drop.clone();
        if let Some(m) = &self.memory {
            o.resources.memory = Some(parse_size("--memory", m)?);
        }
        if let Some(m) = &self.memory_swap {
            o.resources.memory_swap = Some(if m == "-1" {
                -1
            } else {
                parse_size("--memory-swap", m)?
            });
        }
        if let Some(c) = &self.cpus {
            o.resources.nano_cpus = Some(parse_cpus(c)?);
        }
        o.resources.cpu_shares = self.cpu_shares;
        o.resources.pids_limit = self.pids_limit;
        for u in &self.ulimit {
            o.ulimits.push(parse_ulimit(u)?);
        }
        for v in &self.volume {
            o.mounts.push(parse_volume(v)?);
        }
        for m in &self.mount {
            o.mounts.push(parse_mount(m)?);
        }
        for t in &self.tmpfs {
            o.mounts.push(parse_tmpfs(t)?);
        }
        o.labels = parse_labels(&self.label);
        for s in &self.security_opt {
            let (key, value) = s
                .split_once('=')
                .or_else(|| s.split_once(':'))
                .unwrap_or((s, ""));
            match (key, value) {
                ("seccomp", "unconfined") => o.seccomp = SeccompChoice::Unconfined,
                ("seccomp", file) if !file.is_empty() => {
                    let text = std::fs::read_to_string(file)
                        .with_context(|| format!("cannot read the seccomp profile {file}"))?;
                    o.seccomp = SeccompChoice::Profile(text);
                }
                ("no-new-privileges", "" | "true") => o.no_new_privileges = true,
                ("no-new-privileges", "false") => o.no_new_privileges = false,
                ("label" | "apparmor", _) => {}
                _ => anyhow::bail!(
                    "invalid --security-opt {s:?}: expected seccomp=FILE|unconfined or no-new-privileges[=true|false]"
                ),
            }
        }
        for opt in &self.log_opt {
            match opt.split_once('=') {
                Some(("max-size", v)) => {
                    o.log_max_size =
                        Some(u64::try_from(parse_size("--log-opt max-size", v)?).unwrap_or(0))
                }
                Some(("max-file", v)) => {
                    o.log_max_files = Some(v.parse().ok().filter(|n| *n > 0).with_context(|| {
                        format!("invalid --log-opt {opt:?}: max-file must be a positive whole number")
                    })?);
                }
                _ => {
                    anyhow::bail!("invalid --log-opt {opt:?}: expected max-size=SIZE or max-file=N")
                }
            }
        }
        let any_health = self.health_cmd.is_some()
            || self.health_interval.is_some()
            || self.health_retries.is_some()
            || self.health_start_period.is_some()
            || self.health_timeout.is_some();
        if any_health {
            o.health = Some(HealthConfig {
                test: self
                    .health_cmd
                    .as_ref()
                    .map(|c| vec!["CMD-SHELL".into(), c.clone()])
                    .unwrap_or_default(),
                interval: self
                    .health_interval
                    .as_deref()
                    .map(|t| duration("--health-interval", t))
                    .transpose()?,
                timeout: self
                    .health_timeout
                    .as_deref()
                    .map(|t| duration("--health-timeout", t))
                    .transpose()?,
                retries: self.health_retries,
                start_period: self
                    .health_start_period
                    .as_deref()
                    .map(|t| duration("--health-start-period", t))
                    .transpose()?,
            });
        }
        Ok(o)
    }
}
