//! `peapod rmi` / `peapod image rm`: untag, and delete an image with its last name.

use anyhow::Result;

use crate::commands::{Globals, fail_after};

/// `rmi [-f] IMAGE…`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Images: names, ids or id prefixes.
    #[arg(required = true)]
    images: Vec<String>,
    /// Remove an image given by id with all its names, even if a container uses it.
    #[arg(short, long)]
    force: bool,
}

/// Removes each image in turn, printing `Untagged: NAME` and `Deleted: ID` lines; one that
/// fails is reported and the others are still removed; then the command fails.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    // An image a container uses is refused (unless -f); if the database cannot tell, too.
    let in_use = |id: &peapod_image::Digest| engine.image_in_use(&id.to_string()).unwrap_or(true);
    let mut errors = Vec::new();
    for name in &args.images {
        match engine.images().remove(name, args.force, in_use) {
            Ok(report) => {
                let mut text = String::new();
                for n in &report.untagged {
                    text.push_str(&format!("Untagged: {n}\n"));
                }
                for id in &report.deleted {
                    text.push_str(&format!("Deleted: {id}\n"));
                }
                crate::output::write_stdout(&text)?;
            }
            Err(e) => errors.push(anyhow::Error::new(e)),
        }
    }
    fail_after(errors)
}
