//! `peapod-oci events`: the container's resource usage as runc's JSON events, one per line:
//! `{"type":"stats","id":ID,"data":{…}}` with runc's stats shape (`cpu.usage.total`,
//! `memory.usage.{usage,limit,max}`, `pids.{current,limit}`) and `{"type":"oom","id":ID}`
//! when the OOM killer killed a process in it. `--stats` prints one stats event and exits;
//! otherwise one every `--interval`, and an oom event as soon as it is seen, until the
//! container stops.

use std::io::Write;
use std::time::{Duration, Instant};

use peapod_runtime::{Container, Stats, Status};
use serde_json::{Value, json};

use super::Globals;

/// How often the container's state and OOM count are looked at between stats events.
const POLL: Duration = Duration::from_millis(100);

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Print the resource usage once, then exit.
    #[arg(long)]
    stats: bool,
    /// Time between stats events (`5s`, `100ms`).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    interval: Duration,
    /// The container id.
    id: String,
}

pub(crate) fn run(globals: &Globals, args: &Args) -> anyhow::Result<u8> {
    let container = Container::load(&globals.root, &args.id)?;
    let mut out = std::io::stdout().lock();
    if args.stats {
        writeln!(out, "{}", stats_event(&args.id, &container.stats()?))?;
        return Ok(0);
    }
    let mut oom_kills = container.stats()?.oom_kills;
    let mut next_stats = Instant::now();
    loop {
        // Gone (deleted) ends the stream; stopped too, after a last look at the OOM count
        // (the OOM killer may have been what stopped it).
        let Ok(container) = Container::load(&globals.root, &args.id) else {
            return Ok(0);
        };
        let stopped = container.status() == Status::Stopped;
        if let Ok(stats) = container.stats() {
            if stats.oom_kills > oom_kills {
                oom_kills = stats.oom_kills;
                writeln!(out, "{}", json!({"type": "oom", "id": args.id}))?;
            }
            if !stopped && Instant::now() >= next_stats {
                writeln!(out, "{}", stats_event(&args.id, &stats))?;
                next_stats += args.interval;
            }
        }
        out.flush()?;
        if stopped {
            return Ok(0);
        }
        std::thread::sleep(POLL.min(args.interval));
    }
}

/// A stats event in runc's shape (libcontainer's `types.Stats`); what this runtime does not
/// measure is left out. Unlimited is `u64::MAX` for memory and 0 for pids, as runc says.
fn stats_event(id: &str, stats: &Stats) -> Value {
    json!({
        "type": "stats",
        "id": id,
        "data": {
            "cpu": {"usage": {"total": stats.cpu_usage_ns}},
            "memory": {"usage": {
                "usage": stats.memory_usage,
                "limit": stats.memory_limit.unwrap_or(u64::MAX),
                "max": stats.memory_max_usage.unwrap_or(0),
            }},
            "pids": {"current": stats.pids_current, "limit": stats.pids_limit.unwrap_or(0)},
        }
    })
}
