//! `peapod stats`: docker's live table of CPU, memory, network and block I/O and pids; with
//! `--no-stream`, one table and done.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::{Context, Result};
use peapod_engine::container::ListOptions;

use crate::commands::Globals;
use crate::output::Format;

/// `stats [-a] [--no-stream] [--no-trunc] [--format F] [CONTAINER…]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Containers (default: every running one; new ones are picked up while streaming).
    containers: Vec<String>,
    /// Every container, not only running ones (without CONTAINER).
    #[arg(short, long)]
    all: bool,
    /// Print one table and exit.
    #[arg(long)]
    no_stream: bool,
    /// Do not truncate ids.
    #[arg(long)]
    no_trunc: bool,
    /// `table`, `json` (one object per line, as docker), or a Go template (`{{.CPUPerc}}`).
    #[arg(long)]
    format: Option<String>,
}

pub(crate) const TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";
pub(crate) const HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Container", "CONTAINER"),
    ("Name", "NAME"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

/// docker samples a second apart.
const INTERVAL: Duration = Duration::from_secs(1);

/// Prints the table once (`--no-stream`) or redraws it every second until interrupted.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let format = Format::parse(args.format.as_deref(), TABLE)?;
    let engine = globals.engine()?;
    let containers = engine.containers();
    let redraw = !args.no_stream && std::io::stdout().is_terminal();
    loop {
        let keys: Vec<String> = if args.containers.is_empty() {
            containers
                .list(&ListOptions {
                    all: args.all,
                    ..Default::default()
                })?
                .into_iter()
                .map(|r| r.id)
                .collect()
        } else {
            args.containers.clone()
        };
        let reports = containers.stats(&keys, INTERVAL)?;
        let mut rows = Vec::with_capacity(reports.len());
        for (report, key) in reports.iter().zip(&keys) {
            let mut row = serde_json::to_value(report.row(key)).context("cannot encode stats")?;
            if args.no_trunc {
                row["ID"] = report.id.clone().into();
            }
            rows.push(row);
        }
        let mut out = std::io::stdout().lock();
        if redraw {
            // docker's redraw: clear the screen, cursor home.
            out.write_all(b"\x1b[2J\x1b[H")
                .context("cannot write to stdout")?;
        }
        match &format {
            Format::Json => {
                for row in &rows {
                    writeln!(out, "{row}").context("cannot write to stdout")?;
                }
            }
            Format::Template(t) => t.print(&mut out, &rows, HEADERS)?,
        }
        out.flush().context("cannot write to stdout")?;
        if args.no_stream {
            return Ok(());
        }
        // Without a sample to take, wait as if one had been taken.
        if keys.is_empty() {
            std::thread::sleep(INTERVAL);
        }
    }
}
