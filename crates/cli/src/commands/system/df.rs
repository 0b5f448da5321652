//! `peapod system df`: disk used by images (containers and volumes come with the engine).

use anyhow::Result;
use serde_json::json;

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

/// Prints one row for images: how many, how many a container uses, their disk use
/// (unpacked layers plus stored blobs), and what a prune could free.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let format = Format::parse(args.format.as_deref(), TABLE)?;
    let usage = globals.images()?.disk_usage()?;
    let size = usage.layers_size + usage.blobs_size;
    // No container uses an image until the engine lands: all of it is reclaimable.
    let active = 0;
    let reclaimable = size;
    let percent = (reclaimable * 100).checked_div(size).unwrap_or(0);
    let row = if let Format::Json = format {
        json!({
            "Type": "Images",
            "Total": usage.images,
            "Active": active,
            "RawSize": size,
            "RawReclaimable": reclaimable,
            "Size": human::size(size),
            "Reclaimable": format!("{} ({percent}%)", human::size(reclaimable)),
        })
    } else {
        json!({
            "Type": "Images",
            "TotalCount": usage.images.to_string(),
            "Active": active.to_string(),
            "Size": human::size(size),
            "Reclaimable": format!("{} ({percent}%)", human::size(reclaimable)),
        })
    };
    output::print_rows(&mut std::io::stdout().lock(), &format, &[row], HEADERS)
}
