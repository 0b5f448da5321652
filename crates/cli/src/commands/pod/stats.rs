//! `peapod pod stats`: the pod's cgroup as a whole (its pod-wide limits), then each of its
//! running containers, as `stats` prints them; one table and done.

use std::time::Duration;

use anyhow::{Context, Result};

use crate::commands::Globals;
use crate::commands::container::stats;
use crate::output::{self, Format};

/// `pod stats [--format F] POD`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Accepted for podman's scripts: peapod prints one table.
    #[arg(long)]
    no_stream: bool,
    /// `table`, `json`, or a Go template (`{{.MemUsage}}`).
    #[arg(long)]
    format: Option<String>,
    /// The pod.
    pod: String,
}

/// Samples a second apart and prints.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let format = Format::parse(args.format.as_deref(), stats::TABLE)?;
    let reports = globals
        .engine()?
        .pods()
        .stats(&args.pod, Duration::from_secs(1))?;
    let mut rows = Vec::with_capacity(reports.len());
    for report in &reports {
        rows.push(serde_json::to_value(report.row(&report.name)).context("cannot encode stats")?);
    }
    output::print_rows(
        &mut std::io::stdout().lock(),
        &format,
        &rows,
        stats::HEADERS,
    )
}
