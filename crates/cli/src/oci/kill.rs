//! `peapod-oci kill`.

use peapod_runtime::{Container, parse_signal};

use super::Globals;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Signal every process in the container, not only its init.
    #[arg(long, short = 'a')]
    all: bool,
    /// The container id.
    id: String,
    /// The signal: a name (KILL, SIGKILL) or a number.
    #[arg(default_value = "SIGTERM")]
    signal: String,
}

pub(crate) fn run(globals: &Globals, args: &Args) -> anyhow::Result<u8> {
    let signal = parse_signal(&args.signal)?;
    Container::load(&globals.root, &args.id)?.kill(signal, args.all)?;
    Ok(0)
}
