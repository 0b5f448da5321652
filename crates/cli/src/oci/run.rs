//! `peapod-oci run`: create, start, and (unless detached) wait, delete, and exit with the
//! container's exit code.

use peapod_runtime::Container;

use super::create::CreateArgs;
use super::{Globals, warn_all};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    create: CreateArgs,
    /// Return once the container has started.
    #[arg(long, short = 'd')]
    detach: bool,
    /// The container id.
    id: String,
}

pub(crate) fn run(globals: &Globals, args: &Args) -> anyhow::Result<u8> {
    let container = Container::create(&args.id, &args.create.options(globals))?;
    match container.start() {
        Ok(warnings) => warn_all(warnings),
        Err(e) => {
            let _ = container.delete(true);
            return Err(e.into());
        }
    }
    if args.detach {
        return Ok(0);
    }
    let code = container.wait()?;
    warn_all(container.delete(true)?);
    Ok(u8::try_from(code).unwrap_or(u8::MAX))
}
