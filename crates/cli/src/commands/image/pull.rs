//! `peapod pull` / `peapod image pull`: an image from a registry (or an `oci:`,
//! `oci-archive:` or `docker-archive:` source) into the store. Progress goes to stderr: a bar
//! per layer on a terminal (indicatif), a line per layer otherwise, nothing with `-q`; the
//! image id goes to stdout, as podman prints it.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;

use anyhow::{Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use peapod_image::Digest;
use peapod_image::images::PullOptions;
use peapod_image::pull::{Progress, Quiet};

use super::super::registry::RegistryArgs;
use crate::commands::Globals;

/// `pull [-q] [--platform OS/ARCH[/VARIANT]] [registry options] IMAGE`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Print nothing but the image id.
    #[arg(short, long)]
    quiet: bool,
    /// The platform to pull from a multi-platform image (default: this machine's).
    #[arg(long)]
    platform: Option<String>,
    #[command(flatten)]
    registry: RegistryArgs,
    /// The image: `busybox`, `registry:5000/app:1`, `name@sha256:…`, `oci:DIR[:tag]`,
    /// `oci-archive:FILE`, `docker-archive:FILE`.
    image: String,
}

/// Pulls and prints the image id (hex, as podman does).
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let images = globals.images()?;
    let mut options = PullOptions {
        registry: args.registry.options()?,
        ..PullOptions::default()
    };
    if let Some(p) = &args.platform {
        options.platform = p.parse().with_context(|| format!("--platform {p}"))?;
    }
    let terminal = std::io::stderr().is_terminal();
    let pulled = if args.quiet {
        images.pull(&args.image, &options, &Quiet)
    } else if terminal {
        images.pull(&args.image, &options, &Bars::default())
    } else {
        images.pull(&args.image, &options, &Lines)
    }
    .with_context(|| format!("cannot pull {}", args.image))?;
    if !args.quiet {
        eprintln!("Writing manifest to image destination");
    }
    println!("{}", pulled.id.hex());
    Ok(())
}

/// Pulls `image` for `run`/`create` (their `--pull`), with the same progress as `pull`
/// but no id printed.
pub(crate) fn pull_for_container(images: &peapod_image::Images, image: &str) -> Result<()> {
    let options = PullOptions::default();
    eprintln!("Trying to pull {image}...");
    if std::io::stderr().is_terminal() {
        images.pull(image, &options, &Bars::default())
    } else {
        images.pull(image, &options, &Lines)
    }
    .with_context(|| format!("cannot pull {image}"))?;
    eprintln!("Writing manifest to image destination");
    Ok(())
}

fn short(d: &Digest) -> String {
    format!("sha256:{}", d.short())
}

/// One line per layer on stderr (not a terminal).
struct Lines;

impl Progress for Lines {
    fn layer_exists(&self, blob: &Digest) {
        eprintln!("Copying blob {} skipped: already exists", short(blob));
    }

    fn layer_done(&self, blob: &Digest) {
        eprintln!("Copying blob {} done", short(blob));
    }
}

/// A bar per layer (a terminal).
#[derive(Default)]
struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<Digest, ProgressBar>>,
}

impl Bars {
    fn with_bar(&self, blob: &Digest, f: impl FnOnce(&ProgressBar)) {
        let bars = self
            .bars
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(bar) = bars.get(blob) {
            f(bar);
        }
    }
}

impl Progress for Bars {
    fn resolved(&self, _manifest: &Digest, layers: &[(Digest, u64)]) {
        let style = ProgressStyle::with_template(
            "Copying blob {prefix} [{bar:30}] {bytes}/{total_bytes} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        let mut bars = self
            .bars
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (blob, size) in layers {
            let bar = self.multi.add(ProgressBar::new(*size));
            bar.set_style(style.clone());
            bar.set_prefix(short(blob));
            bars.insert(blob.clone(), bar);
        }
    }

    fn layer_exists(&self, blob: &Digest) {
        self.with_bar(blob, |b| b.finish_with_message("skipped: already exists"));
    }

    fn layer_bytes(&self, blob: &Digest, bytes: u64) {
        self.with_bar(blob, |b| b.inc(bytes));
    }

    fn layer_done(&self, blob: &Digest) {
        self.with_bar(blob, |b| b.finish_with_message("done"));
    }
}
