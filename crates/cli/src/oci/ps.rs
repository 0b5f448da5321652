//! `peapod-oci ps`.

use peapod_runtime::Container;

use super::{Format, Globals};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    format: Format,
    /// The container id.
    id: String,
}

pub(crate) fn run(globals: &Globals, args: &Args) -> anyhow::Result<u8> {
    let pids = Container::load(&globals.root, &args.id)?.pids()?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string(&pids)?),
        Format::Table => {
            println!("{:<8} CMD", "PID");
            for pid in pids {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let cmd = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                println!("{pid:<8} {}", cmd.trim_end());
            }
        }
    }
    Ok(0)
}
