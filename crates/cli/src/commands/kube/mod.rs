//! `peapod kube …`: Kubernetes manifests (Pods, Deployments) played as pods, taken down,
//! and written from a pod (`peapod-kube` translates; the engine makes the pods).

pub(crate) mod down;
pub(crate) mod generate;
pub(crate) mod play;

use std::io::Read;

use anyhow::{Context, Result};

use crate::commands::Globals;

/// `peapod kube VERB`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Create and start pods from a Kubernetes YAML file (Pods and Deployments).
    Play(play::Args),
    /// Stop and remove the pods a Kubernetes YAML file made.
    Down(down::Args),
    /// Write a Kubernetes Pod manifest of a pod.
    Generate(generate::Args),
}

/// Runs `peapod kube VERB`.
pub(crate) fn run(globals: &Globals, command: Command) -> Result<()> {
    match command {
        Command::Play(a) => play::run(globals, &a),
        Command::Down(a) => down::run(globals, &a),
        Command::Generate(a) => generate::run(globals, &a),
    }
}

/// The manifests of `file` (`-`: standard input), parsed; warnings printed to stderr if
/// `warn`.
fn read(file: &str, lenient: bool, warn: bool) -> Result<Vec<peapod_engine::kube::KubePod>> {
    let text = if file == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the manifests from standard input")?;
        text
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {file}"))?
    };
    let name = if file == "-" { "stdin" } else { file };
    let parsed = peapod_kube::parse(name, &text, &peapod_kube::ParseOptions { lenient })?;
    if warn {
        for warning in &parsed.warnings {
            eprintln!("Warning: {warning}");
        }
    }
    Ok(parsed.pods)
}
