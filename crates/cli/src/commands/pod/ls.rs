//! `peapod pod ls` (`pod ps`): podman's table (POD ID, NAME, STATUS, CREATED, INFRA ID,
//! # OF CONTAINERS), `--format json`, Go templates.

use anyhow::Result;
use serde_json::Value;

use crate::commands::Globals;
use crate::output::{self, Format, human};

/// `pod ls [-q] [--no-trunc] [--format F]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Only ids.
    #[arg(short, long)]
    quiet: bool,
    /// Do not truncate ids.
    #[arg(long)]
    no_trunc: bool,
    /// `table`, `json`, or a Go template (`{{.Name}} {{.Status}}`).
    #[arg(long)]
    format: Option<String>,
}

const HEADERS: &[(&str, &str)] = &[
    ("ID", "POD ID"),
    ("Name", "NAME"),
    ("Status", "STATUS"),
    ("Created", "CREATED"),
    ("InfraID", "INFRA ID"),
    ("NumberOfContainers", "# OF CONTAINERS"),
];

/// Lists.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let pods = globals.engine()?.pods().list()?;
    let short = |id: &str| {
        if args.no_trunc {
            id.to_owned()
        } else {
            output::short_id(id)
        }
    };
    if args.quiet {
        let text: String = pods.iter().map(|p| format!("{}\n", short(&p.id))).collect();
        return output::write_stdout(&text);
    }
    let format = Format::parse(
        args.format.as_deref(),
        "table {{.ID}}\t{{.Name}}\t{{.Status}}\t{{.Created}}\t{{.InfraID}}\t{{.NumberOfContainers}}",
    )?;
    let now = std::time::SystemTime::now();
    let rows: Vec<Value> = pods
        .iter()
        .map(|p| {
            let created = humantime::parse_rfc3339_weak(&p.created).ok();
            let mut v = serde_json::to_value(p).unwrap_or(Value::Null);
            if let Format::Template(_) = format {
                v["ID"] = short(&p.id).into();
                v["Status"] = p.state.as_str().into();
                v["Created"] = human::since(created, now).into();
                v["InfraID"] = short(&p.infra_container_id).into();
                v["NumberOfContainers"] = p.num_containers.into();
            }
            v
        })
        .collect();
    output::print_rows(&mut std::io::stdout().lock(), &format, &rows, HEADERS)
}
