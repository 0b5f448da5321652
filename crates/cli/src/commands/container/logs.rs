//! `peapod logs`: a container's output, from its log (CRI format, rotated); `-f` follows.

use std::io::Write;
use std::time::SystemTime;

use anyhow::{Context, Result};
use peapod_engine::logs::{ReadOptions, Stream};

use crate::commands::Globals;

/// `logs [-f] [-t] [--tail N|all] [--since T] [--until T] CONTAINER`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Follow the output.
    #[arg(short, long)]
    follow: bool,
    /// Show timestamps.
    #[arg(short, long)]
    timestamps: bool,
    /// Lines from the end (`all` for every line).
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Only after this time (RFC 3339, unix seconds, or a duration ago: `10m`).
    #[arg(long)]
    since: Option<String>,
    /// Only before this time.
    #[arg(long)]
    until: Option<String>,
    /// The container.
    container: String,
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
pub(crate) fn parse_tail(text: &str) -> Result<Option<usize>> {
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
    let tail = parse_tail(&args.tail)?;
    let opts = ReadOptions {
        tail,
        since: args
            .since
            .as_deref()
            .map(|t| time_arg("--since", t))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|t| time_arg("--until", t))
            .transpose()?,
        timestamps: args.timestamps,
    };
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
        .logs(&args.container, &opts, args.follow, &mut sink)?;
    Ok(())
}
