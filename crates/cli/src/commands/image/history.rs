//! `peapod image history`: how an image was built, newest layer first.

use std::time::SystemTime;

use anyhow::Result;
use serde_json::{Value, json};

use crate::commands::Globals;
use crate::output::{self, Format, human};

/// `image history [OPTIONS] IMAGE`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The image: a name, id or id prefix.
    image: String,
    /// Do not shorten ids nor the commands.
    #[arg(long)]
    no_trunc: bool,
    /// Only the ids.
    #[arg(short, long)]
    quiet: bool,
    /// Sizes in SI units (`--human=false`: in bytes).
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set)]
    human: bool,
    /// `table`, `json`, or a Go template (`{{.CreatedBy}}`).
    #[arg(long)]
    format: Option<String>,
}

const TABLE: &str = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
const HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("CreatedBy", "CREATED BY"),
    ("Size", "SIZE"),
    ("Comment", "COMMENT"),
];
/// How much of `CREATED BY` the table shows without `--no-trunc`.
const CREATED_BY_WIDTH: usize = 45;

/// Prints the history.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let images = globals.images()?;
    let image = images.resolve(&args.image)?;
    let history = images.history(&args.image)?;
    let id = image.id.to_string();
    // Only the top entry is an image of its own; docker and podman show the others as missing.
    let id_of = |i: usize| match i {
        0 if args.no_trunc => id.clone(),
        0 => output::short_id(&id),
        _ => "<missing>".to_owned(),
    };
    let mut out = std::io::stdout().lock();
    if args.quiet {
        let text: String = (0..history.len()).map(|i| id_of(i) + "\n").collect();
        return output::write_stdout(&text);
    }
    let format = Format::parse(args.format.as_deref(), TABLE)?;
    let now = SystemTime::now();
    let rows: Vec<Value> = history
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let created = h.created.as_deref().and_then(human::parse_time);
            let created_by = if args.no_trunc || matches!(format, Format::Json) {
                h.created_by.clone()
            } else {
                output::ellipsis(&h.created_by, CREATED_BY_WIDTH)
            };
            let size = if args.human {
                json!(human::size(h.size))
            } else {
                json!(h.size.to_string())
            };
            if matches!(format, Format::Json) {
                json!({
                    "id": id_of(i),
                    "created": h.created,
                    "CreatedBy": created_by,
                    "size": h.size,
                    "comment": h.comment,
                })
            } else {
                json!({
                    "ID": id_of(i),
                    "CreatedSince": human::since(created, now),
                    "CreatedAt": h.created.clone().unwrap_or_default(),
                    "CreatedBy": created_by,
                    "Size": size,
                    "Comment": h.comment,
                })
            }
        })
        .collect();
    output::print_rows(&mut out, &format, &rows, HEADERS)
}
