//! The engine's configuration file, `/etc/peapod/peapod.conf` (TOML; the CLI's `--config`
//! or `PEAPOD_CONFIG` names another). Today it holds the default network:
//!
//! ```toml
//! [network]
//! subnet = "10.90.0.0/16"   # the default network's IPv4 subnet
//! subnet6 = "fd90::/64"     # optional: makes it dual stack
//! bridge = "peapod0"        # its bridge
//! mtu = 1500                # optional: the bridge's and the containers' MTU, in bytes
//! ```
//!
//! Every key is optional (the values above, without `subnet6` and `mtu`, are the
//! defaults); an unknown key is an error, so that a typo is not silently ignored. The file
//! is read by a well-kept crate, `toml` (parser and serde support only, no writer).
//!
//! The database stays the truth about networks; the file says what the default network
//! should be. When they differ, the next command that uses the default network brings the
//! database in line if no container is on it (its bridge and rules are made again), and
//! otherwise fails with an error naming the difference and a container on it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// Where the configuration is read from when no path is given.
pub const DEFAULT_CONFIG: &str = "/etc/peapod/peapod.conf";

/// The engine's configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineConfig {
    /// The file it was read from (`None` for the built-in defaults).
    pub path: Option<PathBuf>,
    /// `[network]`: the default network.
    pub network: DefaultNetworkConfig,
}

/// `[network]`: what the default network `peapod` is made of.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DefaultNetworkConfig {
    /// Its IPv4 subnet (CIDR; default `10.90.0.0/16`).
    pub subnet: String,
    /// An IPv6 subnet too, for a dual-stack default network (default: none).
    pub subnet6: Option<String>,
    /// Its bridge (default `peapod0`).
    pub bridge: String,
    /// MTU in bytes (default: the kernel's, 1500).
    pub mtu: Option<u32>,
}

impl Default for DefaultNetworkConfig {
    fn default() -> Self {
        Self {
            subnet: "10.90.0.0/16".into(),
            subnet6: None,
            bridge: "peapod0".into(),
            mtu: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    network: DefaultNetworkConfig,
}

impl EngineConfig {
    /// Reads `path`, or [`DEFAULT_CONFIG`] when `None`; a missing default file gives the
    /// built-in defaults, a missing file that was named is an error.
    ///
    /// # Errors
    /// [`Error::Config`] naming the file and what is wrong in it (TOML syntax, an unknown
    /// key, a value of the wrong type); [`Error::Io`] when it cannot be read.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let (path, named) = match path {
            Some(p) => (p, true),
            None => (Path::new(DEFAULT_CONFIG), false),
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named => {
                return Ok(Self::default());
            }
            Err(e) => return Err(Error::io("read the configuration", path)(e)),
        };
        Self::parse(&text, path)
    }

    /// Parses the text of a configuration file read from `path`.
    ///
    /// # Errors
    /// [`Error::Config`].
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let file: File = toml::from_str(text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            why: e.message().to_owned(),
        })?;
        if let Err(why) = crate::network::check_link_name(&file.network.bridge) {
            return Err(Error::Config {
                path: path.to_path_buf(),
                why: format!("network.bridge: {why}"),
            });
        }
        Ok(Self {
            path: Some(path.to_path_buf()),
            network: file.network,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_overrides_the_defaults_and_typos_are_errors() {
        let p = Path::new("/x/peapod.conf");
        let c = EngineConfig::parse(
            "[network]\nsubnet = \"10.50.0.0/16\"\nsubnet6 = \"fd50::/64\"\nmtu = 1400\n",
            p,
        )
        .unwrap();
        assert_eq!(
            c.network,
            DefaultNetworkConfig {
                subnet: "10.50.0.0/16".into(),
                subnet6: Some("fd50::/64".into()),
                bridge: "peapod0".into(),
                mtu: Some(1400),
            }
        );
        assert_eq!(
            EngineConfig::parse("", p).unwrap().network,
            DefaultNetworkConfig::default()
        );
        for (text, want) in [
            ("[network]\nsubnett = \"x\"\n", "unknown field `subnett`"),
            ("[network]\nmtu = \"big\"\n", "invalid type"),
            ("[network\n", "/x/peapod.conf"),
            ("[network]\nbridge = \"a/b\"\n", "network.bridge"),
        ] {
            let err = EngineConfig::parse(text, p).unwrap_err().to_string();
            assert!(
                err.contains(want) && err.contains("/x/peapod.conf"),
                "{text}: {err}"
            );
        }
        let missing = EngineConfig::load(Some(Path::new("/nonexistent/peapod.conf")));
        assert!(missing.is_err());
    }
}
