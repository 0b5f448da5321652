//! `peapod login` and `peapod logout`, and the registry options `pull` shares with them.

pub(crate) mod login;
pub(crate) mod logout;

use std::path::PathBuf;

use anyhow::{Result, bail};
use peapod_image::registry::{Credentials, RegistryOptions};

/// How to reach a registry: podman's flags.
#[derive(Debug, clap::Args)]
pub(crate) struct RegistryArgs {
    /// Verify the registry's TLS certificate (`--tls-verify=false` also allows plain HTTP).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    tls_verify: bool,
    /// Directory of per-registry CA certificates (`DIR/HOST:PORT/ca.crt`).
    #[arg(long, default_value = "/etc/containers/certs.d")]
    cert_dir: PathBuf,
    /// The auth file to read credentials from (default: podman's, then docker's).
    #[arg(long)]
    authfile: Option<PathBuf>,
    /// `USER:PASSWORD` for this pull.
    #[arg(long)]
    creds: Option<String>,
}

impl RegistryArgs {
    /// The client options these flags ask for.
    pub(crate) fn options(&self) -> Result<RegistryOptions> {
        let credentials = match &self.creds {
            None => None,
            Some(c) => match c.split_once(':') {
                Some((u, p)) if !u.is_empty() => Some(Credentials {
                    username: u.to_owned(),
                    password: p.to_owned(),
                }),
                _ => bail!("--creds must be USER:PASSWORD"),
            },
        };
        Ok(RegistryOptions {
            tls_verify: self.tls_verify,
            certs_dir: self.cert_dir.clone(),
            auth_file: self.authfile.clone(),
            credentials,
            ..RegistryOptions::default()
        })
    }

    /// The auth file `login`/`logout` write: `--authfile`, else podman's default.
    pub(crate) fn write_file(&self) -> PathBuf {
        self.authfile
            .clone()
            .unwrap_or_else(peapod_image::registry::default_auth_file)
    }
}
