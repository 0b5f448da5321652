//! `peapod load` / `peapod image load`: images from a docker-archive or oci-archive (plain,
//! gzip or zstd), from a file or stdin.

use std::fs::File;
use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::commands::Globals;

/// `load [-i FILE] [-q]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The archive (default: stdin).
    #[arg(short, long)]
    input: Option<String>,
    /// No progress output (peapod prints none; accepted as docker's and podman's flag).
    #[arg(short, long)]
    quiet: bool,
}

/// Loads, then prints `Loaded image: NAME` for each name (`Loaded image ID: ID` for an image
/// without one).
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let images = globals.images()?;
    let loaded = match args.input.as_deref() {
        Some(path) if path != "-" => {
            let path = Path::new(path);
            let file = File::open(path)
                .with_context(|| format!("cannot open archive {}", path.display()))?;
            let again = file
                .try_clone()
                .with_context(|| format!("cannot reopen archive {}", path.display()))?;
            images.load(path, file, Some(again))?
        }
        _ => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                bail!(
                    "no archive to load: stdin is a terminal; use -i FILE or redirect stdin from an archive"
                );
            }
            let input = File::from(
                stdin
                    .as_fd()
                    .try_clone_to_owned()
                    .context("cannot duplicate stdin")?,
            );
            // Redirected from a plain file: index it in place rather than spool a copy.
            let seekable = input
                .metadata()
                .is_ok_and(|m| m.is_file())
                .then(|| input.try_clone().ok())
                .flatten();
            images.load(Path::new("-"), input, seekable)?
        }
    };
    let mut text = String::new();
    for image in &loaded {
        if image.names.is_empty() {
            text.push_str(&format!("Loaded image ID: {}\n", image.id));
        }
        for name in &image.names {
            text.push_str(&format!("Loaded image: {name}\n"));
        }
    }
    crate::output::write_stdout(&text)
}
