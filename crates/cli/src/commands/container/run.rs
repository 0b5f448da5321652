//! `peapod run`: create a container from an image (pulled if missing) and start it, in the
//! foreground (its output here, its exit code ours) or detached (`-d`, its id printed).

use std::os::fd::OwnedFd;

use anyhow::Result;
use peapod_engine::container::Containers;
use peapod_engine::monitor::attach::{AttachEnd, AttachOptions, attach, attach_proxying};

use super::flags::CreateFlags;
use crate::commands::{ExitWith, Globals};

/// `run [OPTIONS] IMAGE [COMMAND] [ARG...]`.
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub(crate) struct Args {
    /// Run the container in the background and print its id.
    #[arg(short, long)]
    detach: bool,
    /// The key sequence for detaching (`ctrl-p,ctrl-q`).
    #[arg(long, default_value = "ctrl-p,ctrl-q")]
    detach_keys: String,
    /// Forward the signals this process receives (ctrl-c, SIGTERM…) to the container;
    /// without `-t` only, as docker's.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    sig_proxy: bool,
    #[command(flatten)]
    flags: CreateFlags,
}

/// Parses `ctrl-p,ctrl-q` (docker's syntax: `ctrl-<letter>`, `ctrl-@`, `ctrl-[`…, or a
/// plain character).
pub(crate) fn detach_keys(text: &str) -> Result<Vec<u8>> {
    text.split(',')
        .filter(|k| !k.is_empty())
        .map(|k| match k.strip_prefix("ctrl-") {
            Some(c) if c.len() == 1 => {
                let b = c.as_bytes()[0].to_ascii_uppercase();
                if (b'@'..=b'_').contains(&b) {
                    Ok(b - b'@')
                } else {
                    anyhow::bail!("invalid detach key {k:?}")
                }
            }
            None if k.len() == 1 => Ok(k.as_bytes()[0]),
            _ => anyhow::bail!("invalid detach key {k:?}: expected ctrl-<letter> or one character"),
        })
        .collect()
}

/// Creates, starts, and attaches unless `-d`.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let keys = detach_keys(&args.detach_keys)?;
    let engine = globals.engine()?;
    let opts = args.flags.options(&engine.default_network_mode())?;
    super::ensure_image(&engine, args.flags.image(), args.flags.pull_policy()?)?;
    let containers = engine.containers();
    let record = super::create_in_pod(&engine, &args.flags, &opts)?;
    let started = match containers.start(&record.id, !args.detach) {
        Ok(s) => s,
        Err(e) => {
            if opts.autoremove {
                let _ = containers.remove(&record.id, true, true);
            }
            return Err(e.into());
        }
    };
    if args.detach {
        println!("{}", record.id);
        return Ok(());
    }
    let Some(sock) = started.attach else {
        anyhow::bail!("container {}: no attach socket", record.name);
    };
    let attach_opts = AttachOptions {
        stdin: args.flags.interactive,
        tty: args.flags.tty,
        detach_keys: keys,
        redraw: false,
    };
    let end = attach_foreground(&containers, &record.id, &sock, &attach_opts, args.sig_proxy)?;
    match end {
        AttachEnd::Exited(0) => Ok(()),
        AttachEnd::Exited(code) => Err(ExitWith(u8::try_from(code).unwrap_or(255)).into()),
        AttachEnd::Detached => {
            eprintln!();
            Ok(())
        }
        AttachEnd::Lost => {
            let code = containers.wait(&record.id).unwrap_or(255);
            if code == 0 {
                Ok(())
            } else {
                Err(ExitWith(u8::try_from(code).unwrap_or(255)).into())
            }
        }
    }
}

/// Attaches this process's stdio to container `id`. Without a terminal and with
/// `sig_proxy`, the signals an operator sends this process (ctrl-c, SIGTERM…) go to the
/// container (`kill`) instead of ending it, as docker's `--sig-proxy`.
pub(crate) fn attach_foreground(
    containers: &Containers<'_>,
    id: &str,
    sock: &OwnedFd,
    opts: &AttachOptions,
    sig_proxy: bool,
) -> Result<AttachEnd> {
    if !sig_proxy || opts.tty {
        return Ok(attach(sock, opts)?);
    }
    let mut forward = |signal: nix::sys::signal::Signal| {
        if let Err(e) = containers.kill(id, signal.as_str()) {
            eprintln!("peapod: cannot forward {signal} to the container: {e}");
        }
    };
    Ok(attach_proxying(sock, opts, &mut forward)?)
}
