//! `peapod logs`: a container's output, from its log (CRI format, rotated); `-f` follows.

use std::io::Write;
use std::time::SystemTime;

use anyhow::{Context, Result};
use peapod_engine::logs::{ReadOptions, Stream};

use crate::commands::Globals;

/// `logs [-f] [-t] [--tail N|all] [--since T] [--until T] CONTAINER`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    read: ReadFlags,
    /// The container.
    container: String,
}

/// The flags `logs` and `pod logs` share: what to print of a log, and whether to follow it.
#[derive(Debug, clap::Args)]
pub(crate) struct ReadFlags {
    /// Follow the output (until the container, or every container of the pod, has exited).
    #[arg(short, long)]
    pub(crate) follow: bool,
    /// Show timestamps.
    #[arg(short, long)]
    timestamps: bool,
    /// Lines from the end of the log, of each container's in a pod (`all` for every line).
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Only after this time (RFC 3339, unix seconds, or a duration ago: `10m`).
    #[arg(long)]
    since: Option<String>,
    /// Only before this time.
    #[arg(long)]
    until: Option<String>,
}

impl ReadFlags {
    /// The engine's read options; every value checked.
    pub(crate) fn options(&self) -> Result<ReadOptions> {
        Ok(ReadOptions {
            tail: parse_tail(&self.tail)?,
            since: self
                .since
                .as_deref()
                .map(|t| time_arg("--since", t))
                .transpose()?,
            until: self
                .until
                .as_deref()
                .map(|t| time_arg("--until", t))
                .transpose()?,
            timestamps: self.timestamps,
        })
    }
}

/// A `--since`/`--until` value.
pub(crate) fn time_arg(flag: &str, text: &str) -> Result<SystemTime> {
    if let Ok(t) = humantime::parse_rfc3339_weak(text) {
        return Ok(t);
    }
    if let Ok(secs) = text.parse::<f64>()
        && secs >= 0.0
    {
        return Ok(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs_f64(secs));
    }
    let ago = humantime::parse_duration(text).with_context(|| {
        format!(
            "invalid {flag} {text:?}: expected RFC 3339, unix seconds, or a duration such as 10m"
        )
    })?;
    Ok(SystemTime::now() - ago)
}

/// A `--tail` value: `all` (or -1) is every line.
fn parse_tail(text: &str) -> Result<Option<usize>> {
    Ok(match text {
        "all" | "-1" => None,
        n => Some(
            n.parse()
                .with_context(|| format!("invalid --tail {n:?}: expected a number or all"))?,
        ),
    })
}

/// Prints.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let opts = args.read.options()?;
    let engine = globals.engine()?;
    let mut sink = |stream: Stream, data: &[u8]| {
        let _ = match stream {
            Stream::Stdout => std::io::stdout()
                .lock()
                .write_all(data)
                .and_then(|()| std::io::stdout().flush()),
            Stream::Stderr => std::io::stderr().write_all(data),
        };
    };
    engine
        .containers()
        .logs(&args.container, &opts, args.read.follow, &mut sink)?;
    Ok(())
}
