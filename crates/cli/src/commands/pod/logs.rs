//! `peapod pod logs`: the logs of every container of a pod, oldest container first, each
//! line prefixed with its container's name; `-f` follows them all, lines interleaved as
//! they are written, until none of them runs (or Ctrl-C).

use std::io::Write;

use anyhow::{Context, Result};
use peapod_engine::logs::Stream;

use crate::commands::Globals;
use crate::commands::container::logs::ReadFlags;

/// `pod logs [-f] [-t] [--tail N|all] [--since T] [--until T] [-c CONTAINER] POD`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    read: ReadFlags,
    /// Only this container of the pod.
    #[arg(short, long)]
    container: Option<String>,
    /// The pod.
    pod: String,
}

/// Prints.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let opts = args.read.options()?;
    let engine = globals.engine()?;
    let mut out = Vec::new();
    let mut sink = |name: &str, stream: Stream, line: &[u8]| {
        // One write per line, after the container's name (a line whose end never came
        // gets one, so that the next container's starts on a line of its own).
        out.clear();
        out.extend_from_slice(name.as_bytes());
        out.push(b' ');
        out.extend_from_slice(line);
        if !line.ends_with(b"\n") {
            out.push(b'\n');
        }
        // Whole lines: stdout's line buffer writes each at once. A failed write (a closed
        // pipe) is dropped, as `logs` drops it.
        let _ = match stream {
            Stream::Stdout => std::io::stdout().lock().write_all(&out),
            Stream::Stderr => std::io::stderr().write_all(&out),
        };
    };
    engine.pods().logs(
        &args.pod,
        args.container.as_deref(),
        &opts,
        args.read.follow,
        &mut sink,
    )?;
    std::io::stdout().flush().context("cannot write to stdout")
}
