//! `peapod-oci delete`.

use peapod_runtime::{Container, Error};

use super::{Globals, warn_all};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Kill a running container first; a container that does not exist is not an error.
    #[arg(long, short = 'f')]
    force: bool,
    /// The container id.
    id: String,
}

pub(crate) fn run(globals: &Globals, args: &Args) -> anyhow::Result<u8> {
    match Container::load(&globals.root, &args.id) {
        Ok(container) => warn_all(globals, container.delete(args.force)?),
        Err(Error::NotFound(_)) if args.force => {}
        Err(e) => return Err(e.into()),
    }
    Ok(0)
}
