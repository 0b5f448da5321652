//! `peapod system df`: disk used by images, containers (their writable layers), local
//! volumes and the build cache, with what a prune could reclaim, as `docker system df`
//! shows it.

use std::collections::HashSet;

use anyhow::Result;
use peapod_engine::container::{MountSpec, State, dir_size};
use serde_json::{Value, json};

use crate::commands::Globals;
use crate::output::{self, Format, human};

/// `system df [--format F]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// `table`, `json`, or a Go template (`{{.Type}}\t{{.Size}}`).
    #[arg(long)]
    format: Option<String>,
}

const TABLE: &str = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";
const HEADERS: &[(&str, &str)] = &[
    ("Type", "TYPE"),
    ("TotalCount", "TOTAL"),
    ("Active", "ACTIVE"),
    ("Size", "SIZE"),
    ("Reclaimable", "RECLAIMABLE"),
];

/// One row: docker's fields for JSON, its strings for a table or template.
fn row(json: bool, kind: &str, total: usize, active: usize, size: u64, reclaimable: u64) -> Value {
    let percent = (reclaimable * 100).checked_div(size).unwrap_or(0);
    let reclaim = format!("{} ({percent}%)", human::size(reclaimable));
    if json {
        json!({
            "Type": kind,
            "Total": total,
            "TotalCount": total,
            "Active": active,
            "RawSize": size,
            "RawReclaimable": reclaimable,
            "Size": human::size(size),
            "Reclaimable": reclaim,
        })
    } else {
        json!({
            "Type": kind,
            "TotalCount": total.to_string(),
            "Active": active.to_string(),
            "Size": human::size(size),
            "Reclaimable": reclaim,
        })
    }
}

/// Prints the rows for images, containers, local volumes and the build cache.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let format = Format::parse(args.format.as_deref(), TABLE)?;
    let json = matches!(format, Format::Json);
    let engine = globals.engine()?;
    let containers = engine.containers().disk_usage()?;

    // Images: an image a container uses is active; the others could be pruned (`-a`).
    let usage = engine.images().disk_usage()?;
    let size = usage.layers_size + usage.blobs_size;
    let images = engine.images().list()?;
    let used: HashSet<String> = containers
        .iter()
        .map(|c| c.record.image_id.clone())
        .collect();
    let active: Vec<_> = images
        .iter()
        .filter(|i| used.contains(&i.id.to_string()))
        .collect();
    let active_size: u64 = active.iter().map(|i| i.size).sum();
    let mut rows = vec![row(
        json,
        "Images",
        usage.images,
        active.len(),
        size,
        size.saturating_sub(active_size),
    )];

    // Containers: their writable layers; a stopped one's is reclaimable.
    let running = |s: State| s.is_live();
    let total: u64 = containers.iter().map(|c| c.size).sum();
    let stopped: u64 = containers
        .iter()
        .filter(|c| !running(c.record.state))
        .map(|c| c.size)
        .sum();
    let live = containers
        .iter()
        .filter(|c| running(c.record.state))
        .count();
    rows.push(row(
        json,
        "Containers",
        containers.len(),
        live,
        total,
        stopped,
    ));

    // Local volumes: one a container mounts is active.
    let mounted: HashSet<&str> = containers
        .iter()
        .flat_map(|c| &c.record.config.mounts)
        .filter_map(|m| match m {
            MountSpec::Volume { name: Some(n), .. } => Some(n.as_str()),
            _ => None,
        })
        .collect();
    let volumes = engine.volumes().list()?;
    let (mut vsize, mut vfree, mut vactive) = (0u64, 0u64, 0usize);
    for v in &volumes {
        let s = dir_size(&v.mountpoint);
        vsize += s;
        if mounted.contains(v.name.as_str()) {
            vactive += 1;
        } else {
            vfree += s;
        }
    }
    rows.push(row(
        json,
        "Local Volumes",
        volumes.len(),
        vactive,
        vsize,
        vfree,
    ));

    // Build cache: an entry a tagged image reaches is active; `builder prune -a` frees
    // the entries and the layers no image uses.
    let cache = peapod_engine::build::cache_usage(&engine)?;
    rows.push(row(
        json,
        "Build Cache",
        cache.entries,
        cache.active,
        cache.size,
        cache.reclaimable,
    ));
    output::print_rows(&mut std::io::stdout().lock(), &format, &rows, HEADERS)
}
