//! `peapod image inspect`: images' details as a JSON array, in docker's shape.

use anyhow::Result;
use serde_json::Value;

use crate::commands::{Globals, fail_after};
use crate::output::{self, Template};

/// `image inspect [--format T] IMAGE…`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Images: names, ids or id prefixes.
    #[arg(required = true)]
    images: Vec<String>,
    /// A Go template applied to each image (`{{.Id}}`, `{{json .Config}}`).
    #[arg(short, long)]
    format: Option<String>,
}

/// Prints every image found; an image not found is reported and fails the command, after
/// the others are printed.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let template = match args.format.as_deref().map(str::trim) {
        None | Some("json") => None,
        Some(text) => Some(Template::parse(text)?),
    };
    let images = globals.images()?;
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for name in &args.images {
        match images.inspect(name) {
            Ok(doc) => found.push(doc),
            Err(e) => errors.push(anyhow::Error::new(e)),
        }
    }
    let mut out = std::io::stdout().lock();
    match template {
        None => output::print_json(&mut out, &Value::Array(found))?,
        Some(t) => t.print(&mut out, &found, &[])?,
    }
    fail_after(errors)
}
