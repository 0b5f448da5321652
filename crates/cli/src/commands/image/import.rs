//! `peapod import` / `peapod image import`: a root filesystem tar (plain, gzip or zstd) as a
//! one-layer image.

use std::fs::File;
use std::io::{IsTerminal, Write};

use anyhow::{Context, Result, bail};

use crate::commands::Globals;

/// `import FILE|- [NAME]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The tar, or `-` for stdin.
    file: String,
    /// A name for the image (`app`, `app:1`).
    name: Option<String>,
}

/// Imports and prints the new image's id.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let images = globals.images()?;
    let image = if args.file == "-" {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            bail!("no tar to import: stdin is a terminal; redirect stdin from a tar");
        }
        images.import(stdin, args.name.as_deref())?
    } else {
        let file = File::open(&args.file).with_context(|| format!("cannot open {}", args.file))?;
        images
            .import(file, args.name.as_deref())
            .with_context(|| format!("cannot import {}", args.file))?
    };
    writeln!(std::io::stdout().lock(), "{}", image.id).context("cannot write to stdout")
}
