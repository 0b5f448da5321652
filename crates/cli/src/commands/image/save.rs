//! `peapod save` / `peapod image save`: images as one docker-archive or oci-archive, to a
//! file or stdout.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use peapod_image::archive::ArchiveFormat;

use crate::commands::Globals;

/// `save [-o FILE] [--format docker-archive|oci-archive] IMAGE…`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Images: names, ids or id prefixes.
    #[arg(required = true)]
    images: Vec<String>,
    /// Write to this file (default: stdout, which must not be a terminal).
    #[arg(short, long)]
    output: Option<String>,
    /// `docker-archive` or `oci-archive`.
    #[arg(long, default_value = "docker-archive", value_parser = ["docker-archive", "oci-archive"])]
    format: String,
}

/// Writes the archive; an unknown image fails before anything is written, and a failure
/// while writing removes the half-written file.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let format: ArchiveFormat = args.format.parse().map_err(anyhow::Error::msg)?;
    let output = args.output.as_deref().filter(|o| *o != "-");
    if output.is_none() && std::io::stdout().is_terminal() {
        bail!("refusing to write an image archive to a terminal: use -o FILE or redirect stdout");
    }
    let images = globals.images()?;
    for name in &args.images {
        images.resolve(name)?;
    }
    let names: Vec<&str> = args.images.iter().map(String::as_str).collect();
    match output {
        None => {
            let mut out = BufWriter::new(std::io::stdout().lock());
            images.save(&names, format, &mut out)?;
            out.flush().context("cannot write to stdout")
        }
        Some(path) => {
            let path = Path::new(path);
            let file =
                File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            let mut out = BufWriter::new(file);
            let written = images
                .save(&names, format, &mut out)
                .map_err(anyhow::Error::new)
                .and_then(|()| {
                    let file = out.into_inner().map_err(|e| e.into_error())?;
                    file.sync_all()?;
                    Ok(())
                })
                .with_context(|| format!("cannot save to {}", path.display()));
            if written.is_err() {
                let _ = std::fs::remove_file(path);
            }
            written
        }
    }
}
