//! The engine's configuration file, `/etc/peapod/peapod.conf` (TOML; the CLI's `--config`
//! or `PEAPOD_CONFIG` names another). It holds the default network mode and the default
//! network:
//!
//! ```toml
//! [containers]
//! netns = "bridge"          # the network of a container or pod made without --network
//!
//! [network]
//! subnet = "10.90.0.0/16"   # the default network's IPv4 subnet
//! subnet6 = "fd90::/64"     # optional: makes it dual stack
//! bridge = "peapod0"        # its bridge
//! mtu = 1500                # optional: the bridge's and the containers' MTU, in bytes
//! ```
//!
//! Every key is optional (the values above, without `subnet6` and `mtu`, are the
//! defaults); an unknown key is an error, so that a typo is not silently ignored.
//!
//! `containers.netns` is named after podman's `containers.conf(5)` key of the same name and
//! takes what `--network` takes, but `container:ID`: `bridge` (the default network
//! `peapod`, made on first use, as docker and podman default to their bridge), `none` (only
//! `lo`), `host`, or a network's name (which must exist when a container is made on it). A
//! container that joins a pod (`--pod`) has the pod's network whatever the key says, and a
//! pod without an infra container (`--infra=false`) or that does not share `net` gets
//! `none`. The file
//! is read by a well-kept crate, `toml` (parser and serde support only, no writer).
//!
//! The database stays the truth about networks; the file says what the default network
//! should be. When they differ, the next command that uses the default network brings the
//! database in line if no container is on it (its bridge and rules are made again), and
//! otherwise fails with an error naming the difference and a container on it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::container::NetworkMode;
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
    /// `[containers]`: defaults of new containers and pods.
    pub containers: ContainersConfig,
}

/// `[containers]`: what a new container or pod gets when its command line says nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainersConfig {
    /// `netns`: the network mode without `--network` (built-in default: `bridge`, the
    /// default network [`crate::network::DEFAULT_NETWORK`]); never
    /// [`NetworkMode::Container`].
    pub netns: NetworkMode,
}

impl Default for ContainersConfig {
    fn default() -> Self {
        Self {
            netns: NetworkMode::Bridge(crate::network::DEFAULT_NETWORK.into()),
        }
    }
}

/// `[containers]` as written: checked into a [`ContainersConfig`] by [`EngineConfig::parse`].
#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ContainersSection {
    netns: Option<String>,
}

impl ContainersSection {
    /// The checked section; the error is the key and why its value is refused.
    fn check(self) -> std::result::Result<ContainersConfig, String> {
        let Some(text) = self.netns else {
            return Ok(ContainersConfig::default());
        };
        let refused = |why: &str| format!("containers.netns: {text:?}: {why}");
        match text.parse::<NetworkMode>() {
            Ok(NetworkMode::Container(_)) => Err(refused(
                "container:ID names one container, not a default (expected bridge, none, host or a network's name)",
            )),
            Ok(netns) => Ok(ContainersConfig { netns }),
            Err(_) => Err(refused("expected bridge, none, host or a network's name")),
        }
    }
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
    #[serde(default)]
    containers: ContainersSection,
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
    /// [`Error::Config`] naming `path` and the key (`network.bridge`, `containers.netns`).
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
        let containers = file.containers.check().map_err(|why| Error::Config {
            path: path.to_path_buf(),
            why,
        })?;
        Ok(Self {
            path: Some(path.to_path_buf()),
            network: file.network,
            containers,
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

    #[test]
    fn containers_netns_is_the_default_network_mode() {
        let p = Path::new("/x/peapod.conf");
        let bridge = NetworkMode::Bridge(crate::network::DEFAULT_NETWORK.into());
        assert_eq!(EngineConfig::default().containers.netns, bridge);
        assert_eq!(EngineConfig::parse("", p).unwrap().containers.netns, bridge);
        for (value, want) in [
            ("bridge", bridge.clone()),
            ("peapod", bridge.clone()),
            ("none", NetworkMode::None),
            ("host", NetworkMode::Host),
            ("backend", NetworkMode::Bridge("backend".into())),
        ] {
            let c =
                EngineConfig::parse(&format!("[containers]\nnetns = \"{value}\"\n"), p).unwrap();
            assert_eq!(c.containers.netns, want, "{value}");
        }
        for (text, want) in [
            (
                "[containers]\nnetns = \"no ne\"\n",
                "\"no ne\": expected bridge",
            ),
            ("[containers]\nnetns = \"\"\n", "containers.netns"),
            (
                "[containers]\nnetns = \"container:db\"\n",
                "names one container",
            ),
            ("[containers]\nnetns = 1\n", "invalid type"),
            (
                "[containers]\nnetwork = \"none\"\n",
                "unknown field `network`",
            ),
        ] {
            let err = EngineConfig::parse(text, p).unwrap_err().to_string();
            assert!(
                err.contains(want) && err.contains("/x/peapod.conf"),
                "{text}: {err}"
            );
            if !want.contains("field") && !want.contains("type") {
                assert!(err.contains("containers.netns"), "{text}: {err}");
            }
        }
    }
}
