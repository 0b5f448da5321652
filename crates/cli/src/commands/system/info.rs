//! `peapod info`: the host (kernel, OS, CPUs, memory, cgroup layout), the engine (storage
//! root, runroot, runtimes) and counts of containers, images and volumes, as `docker info`
//! shows them; `--format json` gives docker's field names.

use anyhow::Result;
use peapod_engine::container::{ListOptions, State};
use serde_json::{Value, json};

use crate::commands::Globals;
use crate::output::{self, Format, human};

/// `info [--format F]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// `json`, or a Go template (`{{.CgroupVersion}}`).
    #[arg(short, long)]
    format: Option<String>,
}

/// The first line of a small `/proc` file, trimmed (empty if unreadable).
fn proc_line(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.lines().next().unwrap_or_default().trim().to_owned())
        .unwrap_or_default()
}

/// `PRETTY_NAME` of os-release(5).
fn operating_system() -> String {
    ["/etc/os-release", "/usr/lib/os-release"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|t| {
            t.lines()
                .filter_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_owned())
                .collect::<Vec<_>>()
        })
        .next()
        .unwrap_or_else(|| "unknown".into())
}

/// `MemTotal` of `/proc/meminfo`, bytes.
fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            let line = t.lines().find(|l| l.starts_with("MemTotal:"))?.to_owned();
            let kib = line["MemTotal:".len()..].trim().strip_suffix("kB")?.trim();
            kib.parse::<u64>().ok()
        })
        .map_or(0, |k| k.saturating_mul(1024))
}

/// docker's `CgroupVersion` and the layout's name (`hybrid` when v1 controllers and a
/// cgroup2 mount are both there).
fn cgroups() -> (&'static str, &'static str) {
    match peapod_cgroup::Layout::detect() {
        Ok(peapod_cgroup::Layout::V1 { .. }) => ("1", "v1"),
        Ok(peapod_cgroup::Layout::Hybrid { .. }) => ("1", "hybrid"),
        Ok(peapod_cgroup::Layout::V2 { .. }) => ("2", "v2"),
        Err(_) => ("", "unknown"),
    }
}

/// Runtimes `--runtime` can name: the built-in one and those found in `PATH`.
fn runtimes() -> Vec<String> {
    let mut found = vec!["peapod".to_owned()];
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["runc", "crun", "youki"] {
        if std::env::split_paths(&path).any(|d| d.join(name).is_file()) {
            found.push(name.to_owned());
        }
    }
    found
}

/// Everything `info` reports, with docker's field names.
fn report(globals: &Globals) -> Result<Value> {
    let engine = globals.engine()?;
    let containers = engine.containers().list(&ListOptions {
        all: true,
        ..Default::default()
    })?;
    let count = |s: State| containers.iter().filter(|c| c.state == s).count();
    let running = count(State::Running) + count(State::Restarting);
    let paused = count(State::Paused);
    let (cgroup_version, cgroup_layout) = cgroups();
    Ok(json!({
        "ID": "",
        "Containers": containers.len(),
        "ContainersRunning": running,
        "ContainersPaused": paused,
        "ContainersStopped": containers.len() - running - paused,
        "Images": engine.images().list()?.len(),
        "Volumes": engine.volumes().list()?.len(),
        "Driver": "overlay",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgroup_version,
        "CgroupLayout": cgroup_layout,
        "KernelVersion": proc_line("/proc/sys/kernel/osrelease"),
        "OperatingSystem": operating_system(),
        "OSType": std::env::consts::OS,
        "Architecture": std::env::consts::ARCH,
        "NCPU": std::thread::available_parallelism().map_or(0, usize::from),
        "MemTotal": mem_total(),
        "Name": proc_line("/proc/sys/kernel/hostname"),
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "DockerRootDir": globals.root,
        "RunRoot": globals.runroot,
        "Runtimes": runtimes(),
        "DefaultRuntime": "peapod",
    }))
}

/// Prints the report as text (docker's layout), JSON or a template.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let info = report(globals)?;
    match args.format.as_deref() {
        None => output::write_stdout(&text(&info)),
        given => match Format::parse(given, "")? {
            Format::Json => output::print_json(&mut std::io::stdout().lock(), &info),
            Format::Template(t) => output::write_stdout(&format!("{}\n", t.render(&info)?)),
        },
    }
}

/// docker's text layout of `info`'s server part.
fn text(i: &Value) -> String {
    let s = |k: &str| match &i[k] {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    let runtimes: Vec<String> = i["Runtimes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    format!(
        "Client:\n Version:    {version}\n\nServer:\n Containers: {}\n  Running: {}\n  Paused: {}\n  Stopped: {}\n Images: {}\n Volumes: {}\n Server Version: {version}\n Storage Driver: {}\n Cgroup Driver: {}\n Cgroup Version: {} ({})\n Runtimes: {}\n Default Runtime: {}\n Kernel Version: {}\n Operating System: {}\n OSType: {}\n Architecture: {}\n CPUs: {}\n Total Memory: {}\n Name: {}\n Root Dir: {}\n Run Root: {}\n",
        s("Containers"),
        s("ContainersRunning"),
        s("ContainersPaused"),
        s("ContainersStopped"),
        s("Images"),
        s("Volumes"),
        s("Driver"),
        s("CgroupDriver"),
        s("CgroupVersion"),
        s("CgroupLayout"),
        runtimes.join(" "),
        s("DefaultRuntime"),
        s("KernelVersion"),
        s("OperatingSystem"),
        s("OSType"),
        s("Architecture"),
        s("NCPU"),
        human::size(i["MemTotal"].as_u64().unwrap_or(0)),
        s("Name"),
        s("DockerRootDir"),
        s("RunRoot"),
        version = env!("CARGO_PKG_VERSION"),
    )
}
