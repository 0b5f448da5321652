//! `peapod-oci spec`: a default config.json, as `runc spec` writes one.

use std::path::PathBuf;

use anyhow::{Context, bail};
use peapod_runtime::oci_spec::runtime::{LinuxDeviceCgroupBuilder, LinuxResourcesBuilder, Spec};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The bundle directory to write config.json into.
    #[arg(long, short = 'b', default_value = ".")]
    bundle: PathBuf,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<u8> {
    let path = args.bundle.join("config.json");
    if path.exists() {
        bail!("{} already exists; remove it first", path.display());
    }
    let mut spec = Spec::default();
    spec.set_version(peapod_runtime::oci_spec::runtime::VERSION.to_owned());
    spec.set_hostname(Some("peapod".to_owned()));
    if let Some(process) = spec.process_mut() {
        process.set_terminal(Some(false));
    }
    if let Some(linux) = spec.linux_mut() {
        let deny_all = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()?;
        linux.set_resources(Some(
            LinuxResourcesBuilder::default()
                .devices(vec![deny_all])
                .build()?,
        ));
    }
    let json = serde_json::to_string_pretty(&spec)?;
    std::fs::write(&path, json + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(0)
}
