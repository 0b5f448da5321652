//! `peapod-oci`: a runc-compatible OCI runtime command line.

use clap::Parser;

/// An OCI runtime that engines (containerd, podman) can drive like runc.
///
/// No verbs have landed yet: `create`, `start`, `state`, `kill`, `delete` and the rest arrive
/// with the OCI runtime issue.
#[derive(Debug, Parser)]
#[command(name = "peapod-oci", version, arg_required_else_help = true)]
struct Cli {}

fn main() {
    let Cli {} = Cli::parse();
}
