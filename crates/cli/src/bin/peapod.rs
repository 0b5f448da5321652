//! `peapod`: the daemonless container engine's command line.

use clap::Parser;

/// Containers and pods from first principles.
///
/// No verbs have landed yet: `run`, `pod`, `pull` and the rest arrive with the engine issues.
#[derive(Debug, Parser)]
#[command(name = "peapod", version, arg_required_else_help = true)]
struct Cli {}

fn main() {
    let Cli {} = Cli::parse();
}
