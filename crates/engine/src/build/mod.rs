//! `build`: an OCI image from a Containerfile (Dockerfile) and a context directory, into the
//! store, as `podman build`/`docker build` make them.
//!
//! Each stage starts from an image of the store (pulled as `--pull` says), another stage,
//! or `scratch`; each instruction either changes the image config (ENV, WORKDIR, USER, CMD,
//! ENTRYPOINT, EXPOSE, LABEL, VOLUME, SHELL, STOPSIGNAL, HEALTHCHECK, ARG) or makes a layer:
//! RUN runs its command in a container of our runtime on an overlay of the stage's layers,
//! COPY and ADD write into such an overlay; the overlay's upper directory is the layer
//! ([`peapod_image::layer_writer`] writes its tar and makes the directory itself the
//! store's unpacked layer). Every step gets a history entry, as docker's do.
//!
//! **Cache** ([`cache`]): a step is reused when the cache key of its parent, its instruction
//! with the build args it sees, and for COPY/ADD the digest of what it copies are those of a
//! step built before (`ROOT/build-cache/<key>.json` holds the image state after it).
//! **Reproducible**: with [`BuildOptions::source_date_epoch`] (`SOURCE_DATE_EPOCH`), every
//! timestamp (history, `created`, tar mtimes) is that epoch, so two builds of the same
//! inputs give the same image id.
//!
//! **Nothing half-made**: a failing step leaves no image, no mount, no container and no
//! staging directory; what earlier steps made stays as cache (docker's and podman's rule).
//!
//! Module map: [`parse`] (syntax), `stage` (stages, steps, the cache key, the commit),
//! `config` (the config-only instructions), `copy` (COPY/ADD), `context` (the context,
//! its ignore file, safe resolution), `workspace` (the overlay and the RUN container),
//! `network` (a RUN container as an endpoint of a bridge network), [`cache`] (and its
//! prune).
//! Dependency: `glob` (rust-lang's, no dependencies) for `.containerignore` patterns and
//! COPY wildcards, which are Go's `filepath.Match` patterns plus `**`.

pub mod cache;
mod config;
mod context;
mod copy;
mod error;
mod interrupt;
mod mountpoints;
mod network;
pub mod parse;
mod stage;
mod workspace;

use std::path::PathBuf;

pub use error::BuildError;
pub use stage::ImageState;

use crate::Engine;

/// `--pull`: when the base image of a FROM is pulled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PullPolicy {
    /// Never: an image not in the store is an error.
    Never,
    /// When it is not in the store (the default).
    #[default]
    Missing,
    /// Always, even when it is there.
    Always,
}

/// `--network` of the RUN steps (`RUN --network=none|host|default` overrides it for one
/// step; `default` there means this). Not part of the cache key (docker's rule).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum BuildNetwork {
    /// A network namespace with only `lo` (the default).
    #[default]
    None,
    /// The host's network namespace.
    Host,
    /// An endpoint on a bridge network, by name (`bridge` is the default network
    /// `peapod`): leased an address, wired, given the network's `/etc/hosts` (its
    /// containers by name), and torn down after the step.
    Bridge(String),
    /// `default`: the engine's default network mode, what `run` uses without `--network`
    /// (the default network `peapod`).
    Default,
}

impl BuildNetwork {
    /// The mode itself: [`BuildNetwork::Default`] resolved to `default`, the engine's
    /// default network mode (the configuration's `containers.netns`), `bridge` to the
    /// default network's name.
    fn resolved(&self, default: &crate::container::NetworkMode) -> Self {
        use crate::container::NetworkMode;
        match self {
            BuildNetwork::Default => match default {
                NetworkMode::Host => BuildNetwork::Host,
                NetworkMode::Bridge(n) => BuildNetwork::Bridge(n.clone()).resolved(default),
                NetworkMode::None | NetworkMode::Container(_) => BuildNetwork::None,
            },
            BuildNetwork::Bridge(n) if n == "bridge" => {
                BuildNetwork::Bridge(crate::network::DEFAULT_NETWORK.into())
            }
            other => other.clone(),
        }
    }
}

impl std::str::FromStr for BuildNetwork {
    type Err = BuildError;

    /// `none`, `host`, `default`, `bridge` or a network's name.
    ///
    /// # Errors
    /// [`BuildError::Engine`] ([`crate::Error::InvalidFlag`]) for `container:NAME` (a build
    /// joins no container's network) and a malformed name.
    fn from_str(text: &str) -> Result<Self, BuildError> {
        match text {
            "none" => Ok(BuildNetwork::None),
            "host" => Ok(BuildNetwork::Host),
            "default" => Ok(BuildNetwork::Default),
            _ => match text.parse::<crate::container::NetworkMode>()? {
                crate::container::NetworkMode::Bridge(name) => Ok(BuildNetwork::Bridge(name)),
                _ => Err(crate::Error::InvalidFlag {
                    flag: "--network",
                    value: text.to_owned(),
                    why: "RUN steps take none, host, default, bridge or a network's name".into(),
                }
                .into()),
            },
        }
    }
}

/// Where the Containerfile comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Containerfile {
    /// `Containerfile`, else `Dockerfile`, in the context directory.
    Default,
    /// `-f PATH` (relative to the working directory, as podman takes it).
    Path(PathBuf),
    /// The text itself (`-f -`, or a context of `-`).
    Text(String),
}

/// What to build.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// The context directory; `None` for a Containerfile on stdin with no context (COPY
    /// then has nothing to copy from).
    pub context: Option<PathBuf>,
    /// The Containerfile.
    pub containerfile: Containerfile,
    /// `-t`: names to give the image (normalised as `tag` does: `app` is `docker.io/library/app:latest`).
    pub tags: Vec<String>,
    /// `--build-arg KEY=VALUE` (KEY alone takes the value from our environment).
    pub build_args: Vec<(String, String)>,
    /// `--target`: the stage to stop at (by name).
    pub target: Option<String>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--pull`.
    pub pull: PullPolicy,
    /// How registries are reached for a pull.
    pub pull_options: peapod_image::images::PullOptions,
    /// `--network` of RUN steps.
    pub network: BuildNetwork,
    /// `--label KEY=VALUE`: labels of the final image.
    pub labels: Vec<(String, String)>,
    /// `-q`: RUN output is not shown (it is kept and shown if the step fails).
    pub quiet: bool,
    /// `SOURCE_DATE_EPOCH` (seconds): every timestamp of the image, for reproducibility.
    pub source_date_epoch: Option<u64>,
    /// The cgroup RUN containers go under (default `/peapod`).
    pub cgroup_parent: String,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            context: None,
            containerfile: Containerfile::Default,
            tags: Vec::new(),
            build_args: Vec::new(),
            target: None,
            no_cache: false,
            pull: PullPolicy::Missing,
            pull_options: peapod_image::images::PullOptions::default(),
            network: BuildNetwork::None,
            labels: Vec::new(),
            quiet: false,
            source_date_epoch: None,
            cgroup_parent: crate::container::DEFAULT_CGROUP_PARENT.to_owned(),
        }
    }
}

/// What a build made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildReport {
    /// The image id (the digest of its config).
    pub id: peapod_image::Digest,
    /// The names it was given.
    pub names: Vec<String>,
    /// Steps run (FROM included).
    pub steps: usize,
    /// Steps taken from the cache.
    pub cached: usize,
    /// RUN steps whose command was executed.
    pub runs: usize,
    /// `--build-arg`s no ARG of the built stages declared (docker warns of them).
    pub unused_build_args: Vec<String>,
}

/// What a build reports while it goes, podman's way (`STEP 2/6: RUN …`, `--> Using cache`).
pub trait BuildProgress {
    /// Step `n` of `total` starts: `text` is the instruction as written.
    fn step(&self, _n: usize, _total: usize, _text: &str) {}
    /// The step was found in the cache.
    fn cached(&self) {}
    /// The step is done: `key` is its cache key (what podman prints as the layer's id).
    fn done(&self, _key: &str) {}
}

/// A build that reports nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl BuildProgress for Silent {}

/// `builder prune [-a]`: the build cache's entries no tagged image reaches and the dangling
/// ones (with `all`, every entry), then the blobs and layers nothing references (see
/// [`cache::Cache::prune`]).
///
/// # Errors
/// An entry that cannot be removed, the store's errors.
pub fn prune(engine: &Engine, all: bool) -> Result<cache::CachePruneReport, BuildError> {
    cache::Cache::new(engine.root()).prune(engine.images.store(), all)
}

/// The build cache's size for `system df` (see [`cache::CacheUsage`]).
///
/// # Errors
/// The store's database cannot be read.
pub fn cache_usage(engine: &Engine) -> Result<cache::CacheUsage, BuildError> {
    cache::Cache::new(engine.root()).usage(engine.images.store())
}

/// Builds the image `opts` describes into `engine`'s store.
///
/// # Errors
/// [`BuildError`]: a syntax error or an unsupported instruction (naming its line), a
/// context file missing or outside the context, an unknown base image, a failing RUN (its
/// exit code and output), SIGINT/SIGTERM/SIGHUP ([`BuildError::Interrupted`], once the
/// step in progress is undone), and store, mount and runtime errors. Nothing half-made is
/// left.
pub fn build(
    engine: &Engine,
    opts: &BuildOptions,
    progress: &dyn BuildProgress,
) -> Result<BuildReport, BuildError> {
    let _signals = interrupt::Guard::install();
    stage::Builder::new(engine, opts, progress)?.run()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::BuildNetwork;

    #[test]
    fn network_modes_parse_and_default_resolves_to_the_default_network() {
        let parse = |t: &str| t.parse::<BuildNetwork>();
        assert_eq!(parse("none").unwrap(), BuildNetwork::None);
        assert_eq!(parse("host").unwrap(), BuildNetwork::Host);
        assert_eq!(parse("default").unwrap(), BuildNetwork::Default);
        let peapod = BuildNetwork::Bridge("peapod".into());
        let bridge = crate::container::NetworkMode::Bridge("bridge".into());
        assert_eq!(parse("bridge").unwrap().resolved(&bridge), peapod);
        assert_eq!(parse("default").unwrap().resolved(&bridge), peapod);
        let none = crate::container::NetworkMode::None;
        assert_eq!(
            parse("default").unwrap().resolved(&none),
            BuildNetwork::None
        );
        assert_eq!(parse("bridge").unwrap().resolved(&none), peapod);
        let host = crate::container::NetworkMode::Host;
        assert_eq!(
            parse("default").unwrap().resolved(&host),
            BuildNetwork::Host
        );
        assert_eq!(
            parse("backend").unwrap(),
            BuildNetwork::Bridge("backend".into())
        );
        for bad in ["container:web", "no/such", ""] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains("--network"), "{bad}: {e}");
        }
    }
}
