//! `peapod top`: a running container's processes, with ps(1)'s descriptors as podman
//! names them (`peapod top web pid user args`).

use anyhow::Result;

use crate::commands::Globals;

/// `top CONTAINER [DESCRIPTOR…]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The container.
    container: String,
    /// ps(1) descriptors (`pid`, `user`, `args`, `%C`…; commas separate too). Default:
    /// `user pid ppid pcpu etime tty time args`.
    descriptors: Vec<String>,
}

/// ps(1) descriptors as given (`pid user`, `pid,user`).
pub(crate) fn descriptors(given: &[String]) -> Vec<&str> {
    given
        .iter()
        .flat_map(|d| d.split(','))
        .filter(|d| !d.is_empty())
        .collect()
}

/// Prints the processes in padded columns.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let descriptors = descriptors(&args.descriptors);
    let report = globals
        .engine()?
        .containers()
        .top(&args.container, &descriptors)?;
    let mut text = report.header.join("\t");
    text.push('\n');
    for row in &report.rows {
        text.push_str(&row.join("\t"));
        text.push('\n');
    }
    crate::output::write_columns(&text)
}
