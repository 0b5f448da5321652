//! `peapod build`: an image from a Containerfile and a context directory (or a
//! Containerfile on stdin). Progress as podman prints it (`STEP 2/6: RUN …`, `--> Using
//! cache …`, `COMMIT name`), RUN output streamed; the image id last on stdout. With `-q`,
//! only the id. A failing RUN ends `peapod build` with the step's exit code.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use peapod_engine::build::{
    BuildNetwork, BuildOptions, BuildProgress, Containerfile, PullPolicy, Silent,
};

use super::registry::RegistryArgs;
use crate::commands::{ExitWith, Globals, report};

/// `build [-t NAME]… [-f FILE] [--build-arg K=V]… [--target STAGE] [--no-cache] [--pull
/// POLICY] [--network none|host|default|bridge|NAME] [--label K=V]… [-q] CONTEXT`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Name (and tag) of the image; may be repeated.
    #[arg(short = 't', long = "tag")]
    tags: Vec<String>,
    /// The Containerfile (default: CONTEXT/Containerfile, else CONTEXT/Dockerfile); `-` for stdin.
    #[arg(short = 'f', long = "file")]
    file: Option<PathBuf>,
    /// A build argument, `KEY=VALUE` (`KEY` alone takes our environment's value).
    #[arg(long = "build-arg")]
    build_args: Vec<String>,
    /// Build up to this stage.
    #[arg(long)]
    target: Option<String>,
    /// Build every step again, ignoring the cache.
    #[arg(long)]
    no_cache: bool,
    /// When to pull a FROM image: never, missing (default), always.
    #[arg(long, default_value = "missing", num_args = 0..=1, default_missing_value = "always")]
    pull: String,
    /// The network of RUN steps: default (the engine's default mode, the configuration's
    /// `containers.netns`: `bridge` unless set), none, host, bridge (the default network) or
    /// a network's name.
    #[arg(long, default_value = "default")]
    network: String,
    /// A label of the image, `KEY=VALUE`; may be repeated.
    #[arg(long)]
    label: Vec<String>,
    /// Print only the image id.
    #[arg(short, long)]
    quiet: bool,
    /// The cgroup RUN containers go under.
    #[arg(long, default_value = "/peapod")]
    cgroup_parent: String,
    #[command(flatten)]
    registry: RegistryArgs,
    /// The build context directory, or `-` for a Containerfile on stdin (no context).
    context: String,
}

fn key_value(flag: &str, text: &str) -> Result<(String, String)> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ if flag == "--build-arg" && !text.is_empty() => {
            Ok((text.to_owned(), std::env::var(text).unwrap_or_default()))
        }
        _ => bail!("{flag} {text:?}: expected KEY=VALUE"),
    }
}

/// podman's progress lines, on stdout.
struct Steps;

impl BuildProgress for Steps {
    fn step(&self, n: usize, total: usize, text: &str) {
        println!("STEP {n}/{total}: {text}");
    }

    fn cached(&self) {
        println!("--> Using cache");
    }

    fn done(&self, key: &str) {
        println!("--> {}", key.get(..12).unwrap_or(key));
    }
}

/// Builds and prints the image id.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let read_stdin = || -> Result<String> {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the Containerfile from stdin")?;
        Ok(text)
    };
    let (context, containerfile) = if args.context == "-" {
        (None, Containerfile::Text(read_stdin()?))
    } else {
        let file = match &args.file {
            Some(f) if f.as_os_str() == "-" => Containerfile::Text(read_stdin()?),
            Some(f) => Containerfile::Path(f.clone()),
            None => Containerfile::Default,
        };
        (Some(PathBuf::from(&args.context)), file)
    };
    let pull = match args.pull.as_str() {
        "never" | "false" => PullPolicy::Never,
        "missing" => PullPolicy::Missing,
        "always" | "true" => PullPolicy::Always,
        other => bail!("--pull {other}: expected never, missing or always"),
    };
    let network: BuildNetwork = args.network.parse()?;
    let source_date_epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) if !s.is_empty() => Some(
            s.parse::<u64>()
                .with_context(|| format!("SOURCE_DATE_EPOCH={s}: not a number of seconds"))?,
        ),
        _ => None,
    };
    let opts = BuildOptions {
        context,
        containerfile,
        tags: args.tags.clone(),
        build_args: args
            .build_args
            .iter()
            .map(|a| key_value("--build-arg", a))
            .collect::<Result<_>>()?,
        target: args.target.clone(),
        no_cache: args.no_cache,
        pull,
        pull_options: peapod_image::images::PullOptions {
            registry: args.registry.options()?,
            ..Default::default()
        },
        network,
        labels: args
            .label
            .iter()
            .map(|l| key_value("--label", l))
            .collect::<Result<_>>()?,
        quiet: args.quiet,
        source_date_epoch,
        cgroup_parent: args.cgroup_parent.clone(),
    };
    let engine = globals.engine()?;
    let progress: &dyn BuildProgress = if args.quiet { &Silent } else { &Steps };
    match peapod_engine::build::build(&engine, &opts, progress) {
        Ok(built) => {
            if !built.unused_build_args.is_empty() {
                eprintln!(
                    "[Warning] one or more build-args {:?} were not consumed",
                    built.unused_build_args
                );
            }
            if !args.quiet {
                for name in &built.names {
                    println!("COMMIT {name}");
                    println!("Successfully tagged {name}");
                }
            }
            println!("{}", built.id.hex());
            Ok(())
        }
        Err(e) => {
            let code = e.exit_code();
            report(&anyhow::Error::new(e).context("build failed"));
            Err(ExitWith(code).into())
        }
    }
}
