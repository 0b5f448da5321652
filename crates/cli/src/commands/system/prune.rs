//! `peapod system prune`: stopped containers, dangling images (every unused image with
//! `-a`), the build cache no tagged image uses (all of it with `-a`) and, with `--volumes`,
//! unused anonymous volumes (named ones too with `-a`), as `docker system prune` does;
//! prints what went and the space reclaimed.

use std::collections::HashMap;

use anyhow::Result;
use peapod_engine::container::dir_size;

use crate::commands::{Globals, confirm};
use crate::output::human;

/// `system prune [-a] [--volumes] [-f]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Every image no container uses, not only dangling ones (and named volumes with
    /// `--volumes`).
    #[arg(short, long)]
    all: bool,
    /// Unused volumes too.
    #[arg(long)]
    volumes: bool,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    force: bool,
}

fn warning(args: &Args) -> String {
    let mut text = String::from(
        "WARNING! This will remove:\n  - all pods of which no container runs\n  - all stopped containers\n",
    );
    if args.volumes {
        text.push_str(if args.all {
            "  - all volumes not used by at least one container\n"
        } else {
            "  - all anonymous volumes not used by at least one container\n"
        });
    }
    text.push_str(if args.all {
        "  - all images without at least one container associated to them\n"
    } else {
        "  - all dangling images\n"
    });
    text.push_str(if args.all {
        "  - all build cache\n"
    } else {
        "  - unused build cache\n"
    });
    text
}

/// Asks (unless `-f`), prunes pods, containers, then volumes, then images (so that those the
/// pruned containers held go too), and prints docker's report.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    if !args.force && !confirm(&warning(args), "system prune")? {
        return Ok(());
    }
    let engine = globals.engine()?;
    let mut text = String::new();
    // Pods of which nothing runs go first, with their containers (as podman's does).
    let pods = engine.pods().prune()?;
    if !pods.is_empty() {
        text.push_str("Deleted Pods:\n");
        for name in &pods {
            text.push_str(&format!("{name}\n"));
        }
        text.push('\n');
    }
    let containers = engine.containers().prune()?;
    let mut bytes: u64 = containers.iter().map(|c| c.size).sum();
    if !containers.is_empty() {
        text.push_str("Deleted Containers:\n");
        for c in &containers {
            text.push_str(&format!("{}\n", c.record.id));
        }
        text.push('\n');
    }
    if args.volumes {
        let sizes: HashMap<String, u64> = engine
            .volumes()
            .list()?
            .into_iter()
            .map(|v| (v.name, dir_size(&v.mountpoint)))
            .collect();
        let removed = engine.volumes().prune(args.all)?;
        if !removed.is_empty() {
            text.push_str("Deleted Volumes:\n");
            for name in &removed {
                bytes += sizes.get(name).copied().unwrap_or(0);
                text.push_str(&format!("{name}\n"));
            }
            text.push('\n');
        }
    }
    let in_use = |id: &peapod_image::Digest| engine.image_in_use(&id.to_string()).unwrap_or(true);
    let images = engine.images().prune(args.all, in_use)?;
    bytes += images.bytes;
    if !images.images.is_empty() {
        text.push_str("Deleted Images:\n");
        for id in &images.images {
            text.push_str(&format!("deleted: {id}\n"));
        }
        text.push('\n');
    }
    // The build cache last: the images just removed may have been all that used some of it.
    let cache = peapod_engine::build::prune(&engine, args.all)?;
    bytes += cache.bytes;
    text.push_str(&crate::commands::builder::prune::section(&cache));
    text.push_str(&format!("Total reclaimed space: {}\n", human::size(bytes)));
    crate::output::write_stdout(&text)
}
