//! `peapod create`: a container from an image (pulled if missing), not started; its id.

use anyhow::Result;

use super::flags::CreateFlags;
use crate::commands::Globals;

/// `create [OPTIONS] IMAGE [COMMAND] [ARG...]`.
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub(crate) struct Args {
    #[command(flatten)]
    flags: CreateFlags,
}

/// Creates and prints the id.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    let opts = args.flags.options(&engine.default_network_mode())?;
    super::ensure_image(&engine, args.flags.image(), args.flags.pull_policy()?)?;
    let record = super::create_in_pod(&engine, &args.flags, &opts)?;
    println!("{}", record.id);
    Ok(())
}
