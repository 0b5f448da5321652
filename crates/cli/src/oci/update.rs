//! `peapod-oci update`: runc's flags and `--resources FILE|-` (OCI `LinuxResources` JSON, as
//! containerd's shim sends it on stdin), applied live to the container's cgroup. A flag
//! overrides the same setting of `--resources`, as in runc.

use std::io::Read;

use anyhow::Context;
use peapod_runtime::Container;
use peapod_runtime::oci_spec::runtime::LinuxResources;
use serde_json::{Value, json};

use super::{Globals, warn_all};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// OCI `LinuxResources` JSON to apply, from a file or `-` (stdin).
    #[arg(long, short = 'r')]
    resources: Option<String>,
    /// Block IO weight (10..=1000).
    #[arg(long)]
    blkio_weight: Option<u16>,
    /// CPU CFS period, microseconds.
    #[arg(long)]
    cpu_period: Option<u64>,
    /// CPU CFS quota, microseconds per period (-1: unlimited).
    #[arg(long, allow_negative_numbers = true)]
    cpu_quota: Option<i64>,
    /// CPU shares (relative weight).
    #[arg(long)]
    cpu_share: Option<u64>,
    /// CPU realtime period, microseconds.
    #[arg(long)]
    cpu_rt_period: Option<u64>,
    /// CPU realtime runtime, microseconds per period.
    #[arg(long, allow_negative_numbers = true)]
    cpu_rt_runtime: Option<i64>,
    /// CPUs the container may use (`0-3`, `0,2`).
    #[arg(long)]
    cpuset_cpus: Option<String>,
    /// Memory nodes the container may use.
    #[arg(long)]
    cpuset_mems: Option<String>,
    /// Memory limit: bytes, or with a k, m, g or t suffix (powers of 1024); -1: unlimited.
    #[arg(long, value_parser = parse_bytes, allow_negative_numbers = true)]
    memory: Option<i64>,
    /// Memory soft limit, as `--memory`.
    #[arg(long, value_parser = parse_bytes, allow_negative_numbers = true)]
    memory_reservation: Option<i64>,
    /// Memory plus swap limit, as `--memory`.
    #[arg(long, value_parser = parse_bytes, allow_negative_numbers = true)]
    memory_swap: Option<i64>,
    /// Maximum number of processes and threads (-1 or 0: unlimited).
    #[arg(long, allow_negative_numbers = true)]
    pids_limit: Option<i64>,
    /// The container id.
    id: String,
}

pub(crate) fn run(globals: &Globals, args: &Args) -> anyhow::Result<u8> {
    let container = Container::load(&globals.root, &args.id)?;
    let resources = resources(args)?;
    let warnings = container.update(&resources)?;
    warn_all(globals, warnings);
    Ok(0)
}

/// `--resources`, then each flag given set over it.
fn resources(args: &Args) -> anyhow::Result<LinuxResources> {
    let mut value = match args.resources.as_deref() {
        None => json!({}),
        Some(source) => {
            let text = read_source(source)?;
            serde_json::from_str(&text)
                .with_context(|| format!("invalid resources JSON in {source}"))?
        }
    };
    let Some(object) = value.as_object_mut() else {
        anyhow::bail!("invalid resources JSON: expected an object (OCI LinuxResources)");
    };
    let mut set = |section: &str, key: &str, v: Option<Value>| {
        if let Some(v) = v {
            let entry = object.entry(section).or_insert_with(|| json!({}));
            if !entry.is_object() {
                *entry = json!({});
            }
            if let Some(map) = entry.as_object_mut() {
                map.insert(key.to_owned(), v);
            }
        }
    };
    let n = |v: Option<i64>| v.map(Value::from);
    let u = |v: Option<u64>| v.map(Value::from);
    set("blockIO", "weight", args.blkio_weight.map(Value::from));
    set("cpu", "period", u(args.cpu_period));
    set("cpu", "quota", n(args.cpu_quota));
    set("cpu", "shares", u(args.cpu_share));
    set("cpu", "realtimePeriod", u(args.cpu_rt_period));
    set("cpu", "realtimeRuntime", n(args.cpu_rt_runtime));
    set("cpu", "cpus", args.cpuset_cpus.clone().map(Value::from));
    set("cpu", "mems", args.cpuset_mems.clone().map(Value::from));
    set("memory", "limit", n(args.memory));
    set("memory", "reservation", n(args.memory_reservation));
    set("memory", "swap", n(args.memory_swap));
    set("pids", "limit", n(args.pids_limit));
    serde_json::from_value(value).context("invalid resources (OCI LinuxResources)")
}

/// The text of `source`: a file, or stdin for `-`.
fn read_source(source: &str) -> anyhow::Result<String> {
    if source == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the resources from stdin")?;
        Ok(text)
    } else {
        std::fs::read_to_string(source)
            .with_context(|| format!("cannot read the resources file {source}"))
    }
}

/// A size as runc reads it (docker's `RAMInBytes`): a number, optionally with a fraction,
/// then k, m, g, t or p (powers of 1024), an optional `i` and `b`, case-insensitive;
/// `-1` is "unlimited".
fn parse_bytes(text: &str) -> Result<i64, String> {
    if text.trim() == "-1" {
        return Ok(-1);
    }
    let lower = text.trim().to_ascii_lowercase();
    let digits = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits);
    let unit = unit.trim_start();
    let unit = unit.strip_suffix('b').unwrap_or(unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return Err(format!("invalid size {text:?}: unknown unit")),
    };
    let number: f64 = number
        .parse()
        .map_err(|_| format!("invalid size {text:?}: expected a number"))?;
    let bytes = number * f64::from(1u32 << 10).powi(shift / 10);
    if !(0.0..9.0e18).contains(&bytes) {
        return Err(format!("invalid size {text:?}: out of range"));
    }
    Ok(bytes as i64)
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes_are_read_as_runc_reads_them() {
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert_eq!(parse_bytes("64m"), Ok(64 << 20));
        assert_eq!(parse_bytes("64M"), Ok(64 << 20));
        assert_eq!(parse_bytes("1.5g"), Ok(3 << 29));
        assert_eq!(parse_bytes("2 KiB"), Ok(2048));
        assert_eq!(parse_bytes("-1"), Ok(-1));
        assert!(parse_bytes("12q").is_err());
        assert!(parse_bytes("m").is_err());
        assert!(parse_bytes("99999999p").is_err());
    }
}
