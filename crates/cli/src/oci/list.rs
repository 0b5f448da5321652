//! `peapod-oci list`.

use peapod_runtime::Container;

use super::{Format, Globals};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Print only the ids.
    #[arg(long, short = 'q')]
    quiet: bool,
}

pub(crate) fn run(globals: &Globals, args: &Args) -> anyhow::Result<u8> {
    let containers = Container::list(&globals.root)?;
    if args.quiet {
        for c in &containers {
            println!("{}", c.id());
        }
        return Ok(0);
    }
    match args.format {
        Format::Json => {
            let states: Vec<_> = containers.iter().map(Container::state).collect();
            println!("{}", serde_json::to_string(&states)?);
        }
        Format::Table => {
            println!(
                "{:<20} {:<8} {:<10} {:<40} {:<32}",
                "ID", "PID", "STATUS", "BUNDLE", "CREATED"
            );
            for c in &containers {
                let s = c.state();
                println!(
                    "{:<20} {:<8} {:<10} {:<40} {:<32}",
                    s.id,
                    s.pid,
                    s.status,
                    s.bundle.display(),
                    s.created
                );
            }
        }
    }
    Ok(0)
}
