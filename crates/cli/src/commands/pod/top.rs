//! `peapod pod top`: the processes of every running container of a pod, a CONTAINER column
//! first (`peapod pod top web pid args`).

use anyhow::Result;

use crate::commands::Globals;

/// `pod top POD [DESCRIPTOR…]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The pod.
    pod: String,
    /// ps(1) descriptors, as `top` takes them.
    descriptors: Vec<String>,
}

/// Prints the processes in padded columns.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let descriptors = crate::commands::container::top::descriptors(&args.descriptors);
    let engine = globals.engine()?;
    let report = engine.pods().inspect(&args.pod)?;
    let mut text = String::new();
    for member in report
        .containers
        .iter()
        .filter(|m| !m.infra && m.state == "running")
    {
        let top = engine.containers().top(&member.id, &descriptors)?;
        if text.is_empty() {
            text = format!("CONTAINER\t{}\n", top.header.join("\t"));
        }
        for row in &top.rows {
            text.push_str(&format!("{}\t{}\n", member.name, row.join("\t")));
        }
    }
    if text.is_empty() {
        anyhow::bail!("pod {}: no container of it is running", report.name);
    }
    crate::output::write_columns(&text)
}
