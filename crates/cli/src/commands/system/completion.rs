//! `peapod completion bash|zsh|fish`: a shell completion script for every verb and flag,
//! generated from the command line's own definition by `clap_complete`.

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::commands::{Cli, Globals};

/// The shells a script can be made for.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Shell {
    /// bash (source it, or put it in `/etc/bash_completion.d/peapod`).
    Bash,
    /// zsh (put it as `_peapod` in a directory of `$fpath`).
    Zsh,
    /// fish (put it in `~/.config/fish/completions/peapod.fish`).
    Fish,
}

/// `completion SHELL`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The shell.
    shell: Shell,
}

/// Writes the script to stdout.
pub(crate) fn run(_globals: &Globals, args: &Args) -> Result<()> {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "peapod", &mut script);
    let text = String::from_utf8(script).context("the completion script is not UTF-8")?;
    crate::output::write_stdout(&text)
}
