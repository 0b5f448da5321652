//! `peapod ps`: containers in docker's columns, `--format json` or a Go template.

use std::time::SystemTime;

use anyhow::Result;
use peapod_engine::container::{ContainerRecord, ListOptions, State};
use serde_json::{Value, json};

use crate::commands::Globals;
use crate::output::{self, Format, human};

/// `ps [-a] [-q] [-n N] [-l] [--pod] [--filter K=V] [--format F] [--no-trunc]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Show all containers (default: running ones).
    #[arg(short, long)]
    all: bool,
    /// Only ids.
    #[arg(short, long)]
    quiet: bool,
    /// The N most recently created.
    #[arg(short = 'n', long)]
    last: Option<usize>,
    /// The most recently created.
    #[arg(short = 'l', long)]
    latest: bool,
    /// Show each container's pod (the POD ID and PODNAME columns).
    #[arg(long)]
    pod: bool,
    /// Filter (`status=exited`, `name=web`, `label=k=v`, `id=…`, `exited=0`, `ancestor=IMAGE`,
    /// `pod=NAME|ID`).
    #[arg(short, long)]
    filter: Vec<String>,
    /// `table`, `json`, or a Go template (`{{.Names}}`).
    #[arg(long)]
    format: Option<String>,
    /// Do not truncate.
    #[arg(long)]
    no_trunc: bool,
}

const TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
const HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("RunningFor", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Status", "STATUS"),
    ("State", "STATE"),
    ("Ports", "PORTS"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
    ("Pod", "POD ID"),
    ("PodName", "PODNAME"),
];

/// docker's STATUS column: `Up 5 minutes`, `Exited (0) 2 seconds ago`, `Created`.
fn status(r: &ContainerRecord, now: SystemTime) -> String {
    let ago = |ns: Option<i64>| human::since(ns.map(peapod_engine::time::system_time), now);
    match r.state {
        State::Running => format!("Up {}", ago(r.started).trim_end_matches(" ago")),
        State::Paused => format!("Up {} (Paused)", ago(r.started).trim_end_matches(" ago")),
        State::Restarting => format!(
            "Restarting ({}) {}",
            r.exit_code.unwrap_or(0),
            ago(r.finished)
        ),
        State::Exited => format!("Exited ({}) {}", r.exit_code.unwrap_or(0), ago(r.finished)),
        State::Created => "Created".into(),
        State::Removing => "Removal In Progress".into(),
    }
}

/// Lists.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let engine = globals.engine()?;
    let filters = args
        .filter
        .iter()
        .map(|f| {
            f.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| anyhow::anyhow!("invalid --filter {f:?}: expected KEY=VALUE"))
        })
        .collect::<Result<Vec<_>>>()?;
    let opts = ListOptions {
        all: args.all,
        filters,
        last: if args.latest { Some(1) } else { args.last },
    };
    let records = engine.containers().list(&opts)?;
    let id = |r: &ContainerRecord| {
        if args.no_trunc {
            r.id.clone()
        } else {
            r.short_id().to_owned()
        }
    };
    if args.quiet {
        let text: String = records.iter().map(|r| format!("{}\n", id(r))).collect();
        return output::write_stdout(&text);
    }
    let now = SystemTime::now();
    let table = if args.pod {
        format!("{TABLE}\t{{{{.Pod}}}}\t{{{{.PodName}}}}")
    } else {
        TABLE.to_owned()
    };
    let format = Format::parse(args.format.as_deref(), &table)?;
    let pods = engine.pods().names()?;
    let full = args.no_trunc || matches!(format, Format::Json);
    let rows: Vec<Value> = records
        .iter()
        .map(|r| {
            let mut command = r.config.config.entrypoint.clone().unwrap_or_default();
            command.extend(r.config.config.cmd.iter().cloned());
            let command = command.join(" ");
            let labels: Vec<String> = r.config.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let pod = r.config.pod.as_deref().unwrap_or_default();
            json!({
                "ID": id(r),
                "Id": r.id,
                "Image": r.image_name,
                "ImageID": r.image_id,
                "Command": if full { format!("\"{command}\"") } else { format!("\"{}\"", output::ellipsis(&command, 20)) },
                "Created": r.created / 1_000_000_000,
                "CreatedAt": peapod_engine::time::rfc3339(r.created),
                "RunningFor": human::since(Some(peapod_engine::time::system_time(r.created)), now),
                "Status": status(r, now),
                "State": r.state.as_str(),
                "ExitCode": r.exit_code.unwrap_or(0),
                "Pid": r.pid,
                "Ports": "",
                "Names": r.name,
                "Labels": labels.join(","),
                "Restarts": r.restart_count,
                "Pod": if full { pod } else { pod.get(..12).unwrap_or(pod) },
                "PodName": pods.get(pod).map_or("", String::as_str),
            })
        })
        .collect();
    let mut out = std::io::stdout().lock();
    output::print_rows(&mut out, &format, &rows, HEADERS)
}
