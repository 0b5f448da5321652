//! `peapod login`: checks credentials against a registry, then stores them in the auth file
//! (podman's `auth.json`, which podman, skopeo and buildah read too).

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, Result, bail};
use peapod_image::registry::{Credentials, RegistryClient};

use super::RegistryArgs;
use crate::commands::Globals;

/// `login -u USER (-p PASSWORD | --password-stdin) [registry options] REGISTRY`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The username.
    #[arg(short, long)]
    username: String,
    /// The password (visible to other users in the process list: prefer --password-stdin).
    #[arg(short, long, conflicts_with = "password_stdin")]
    password: Option<String>,
    /// Read the password from stdin (its first line).
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    registry: RegistryArgs,
    /// The registry: `HOST[:PORT]`.
    server: String,
}

/// Logs in and prints `Login Succeeded!`, as podman does.
pub(crate) fn run(_globals: &Globals, args: &Args) -> Result<()> {
    let password = match (&args.password, args.password_stdin) {
        (Some(p), _) => p.clone(),
        (None, true) => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                bail!("--password-stdin: stdin is a terminal; pipe the password in");
            }
            let mut line = String::new();
            stdin
                .lock()
                .read_line(&mut line)
                .context("cannot read the password from stdin")?;
            line.trim_end_matches(['\n', '\r']).to_owned()
        }
        (None, false) => bail!("no password: give --password or --password-stdin"),
    };
    let server = args
        .server
        .trim_start_matches("https://")
        .trim_end_matches('/');
    let credentials = Credentials {
        username: args.username.clone(),
        password,
    };
    let client = RegistryClient::new(args.registry.options()?);
    let file = args.registry.write_file();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(client.login(server, &credentials, &file))
        .with_context(|| format!("cannot log in to {server}"))?;
    println!("Login Succeeded!");
    Ok(())
}
