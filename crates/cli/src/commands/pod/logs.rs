//! `peapod pod logs`: the logs of every container of a pod, oldest container first, each
//! line prefixed with its container's name.

use std::io::Write;

use anyhow::{Context, Result};
use peapod_engine::logs::{ReadOptions, Stream};

use crate::commands::Globals;

/// `pod logs [-t] [--tail N|all] [-c CONTAINER] POD`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Show timestamps.
    #[arg(short, long)]
    timestamps: bool,
    /// Lines from the end of each container's log (`all` for every line).
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Only this container of the pod.
    #[arg(short, long)]
    container: Option<String>,
    /// The pod.
    pod: String,
}

/// Prints.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let tail = crate::commands::container::logs::parse_tail(&args.tail)?;
    let opts = ReadOptions {
        tail,
        timestamps: args.timestamps,
        ..ReadOptions::default()
    };
    let engine = globals.engine()?;
    let report = engine.pods().inspect(&args.pod)?;
    let members: Vec<_> = report
        .containers
        .iter()
        .filter(|m| !m.infra)
        .filter(|m| {
            args.container
                .as_ref()
                .is_none_or(|c| *c == m.name || m.id.starts_with(c.as_str()))
        })
        .collect();
    if let Some(c) = &args.container
        && members.is_empty()
    {
        anyhow::bail!("pod {}: no container {c} in it", report.name);
    }
    for member in members {
        let mut pending: Vec<u8> = Vec::new();
        let mut sink = |stream: Stream, data: &[u8]| {
            // Whole lines, each after the container's name.
            pending.extend_from_slice(data);
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                let mut out = format!("{} ", member.name).into_bytes();
                out.extend_from_slice(&line);
                let _ = match stream {
                    Stream::Stdout => std::io::stdout().lock().write_all(&out),
                    Stream::Stderr => std::io::stderr().write_all(&out),
                };
            }
        };
        engine
            .containers()
            .logs(&member.id, &opts, false, &mut sink)?;
        if !pending.is_empty() {
            let mut out = format!("{} ", member.name).into_bytes();
            out.extend_from_slice(&pending);
            out.push(b'\n');
            std::io::stdout()
                .lock()
                .write_all(&out)
                .context("cannot write to stdout")?;
        }
    }
    std::io::stdout().flush().context("cannot write to stdout")
}
