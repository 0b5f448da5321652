//! `peapod-oci run`: create and start in one go (the process does not wait on an exec
//! fifo), and unless detached wait, delete, and exit with the container's exit code. A process that wants a terminal and has no `--console-socket`
//! gets one relayed through peapod-oci's own stdio (see `tty`).

use peapod_runtime::Container;

use super::create::CreateArgs;
use super::tty::{self, OwnConsole};
use super::{Globals, warn_all};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    pub(crate) create: CreateArgs,
    /// Return once the container has started.
    #[arg(long, short = 'd')]
    detach: bool,
    /// The container id.
    id: String,
}

pub(crate) fn run(globals: &Globals, args: &Args) -> anyhow::Result<u8> {
    let mut options = args.create.options(globals);
    let own_console =
        if options.console_socket.is_none() && !args.detach && tty::wants_terminal(&options.bundle)
        {
            let console = OwnConsole::listen(&globals.root, &args.id)?;
            options.console_socket = Some(console.path.clone());
            Some(console)
        } else {
            None
        };
    let (container, warnings) = Container::create_and_start(&args.id, &options)?;
    warn_all(globals, warnings);
    let master = match &own_console {
        Some(console) => match console.master() {
            Ok(master) => Some(master),
            Err(e) => {
                let _ = container.delete(true);
                return Err(e);
            }
        },
        None => None,
    };
    if args.detach {
        return Ok(0);
    }
    // Whatever becomes of the relay, the container is waited for and deleted.
    let relayed = master.as_ref().map_or(Ok(()), tty::relay);
    let code = container.wait()?;
    warn_all(globals, container.delete(true)?);
    relayed?;
    Ok(u8::try_from(code).unwrap_or(u8::MAX))
}
