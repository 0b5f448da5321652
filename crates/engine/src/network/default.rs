//! The default network `peapod`: made on first use from the configuration
//! ([`crate::config`]), and kept in line with it.

use super::{DEFAULT_NETWORK, NetworkCreateOptions, Networks, endpoint_name};
use crate::config::DefaultNetworkConfig;
use crate::db::NetworkRow;
use crate::error::{Error, Result};

impl Networks<'_> {
    /// The default network, made if missing. When it is to be used (`strict`), with a
    /// configuration: remade if it differs and no container is on it, an error if one is.
    pub(super) fn ensure_default(&self, strict: bool) -> Result<NetworkRow> {
        let config = self.engine.config.as_ref();
        let want = config.map(|c| c.network.clone()).unwrap_or_default();
        if let Some(row) = self.engine.db.network(DEFAULT_NETWORK)? {
            let Some(config) = config.filter(|_| strict) else {
                return Ok(row);
            };
            let Some((key, have, wanted)) = difference(&row, &want) else {
                return Ok(row);
            };
            if let Some((id, _)) = self.engine.db.network_members(DEFAULT_NETWORK)?.first() {
                let file = config.path.as_ref().map_or_else(
                    || "the built-in defaults".to_owned(),
                    |p| p.display().to_string(),
                );
                return Err(Error::NetworkConfig {
                    name: DEFAULT_NETWORK.into(),
                    why: format!(
                        "has {key} {have} in the database but {wanted} in {file}, and container \
                         {} is on it: remove the containers on it, or restore the configuration",
                        endpoint_name(self.engine, id)?
                    ),
                });
            }
            // Nobody on it: made again as configured. Its bridge goes even if the veth
            // pairs of its last containers are still being deleted by the kernel.
            if self.engine.db.delete_network(DEFAULT_NETWORK)? {
                self.unmake(&row);
                let _ = peapod_net::Bridge::remove(&row.bridge);
            }
        }
        let opts = NetworkCreateOptions {
            subnets: std::iter::once(want.subnet.clone())
                .chain(want.subnet6.clone())
                .collect(),
            ipv6: want.subnet6.is_some(),
            options: want.mtu.map(|m| format!("mtu={m}")).into_iter().collect(),
            ..NetworkCreateOptions::default()
        };
        let made = self.insert(DEFAULT_NETWORK, &opts, Some(&want.bridge));
        match (made, self.engine.db.network(DEFAULT_NETWORK)?) {
            (Ok(row), _) => Ok(row),
            // Made meanwhile by another command.
            (Err(_), Some(row)) => Ok(row),
            (Err(e), None) => Err(match config.and_then(|c| c.path.clone()) {
                Some(path) => Error::Config {
                    path,
                    why: format!("the default network: {e}"),
                },
                None => e,
            }),
        }
    }
}

/// What differs first between the default network's row and its configuration: (key, in
/// the database, in the configuration); `None` if nothing does.
fn difference(
    row: &NetworkRow,
    want: &DefaultNetworkConfig,
) -> Option<(&'static str, String, String)> {
    // Written as the database writes them (host bits and spelling normalised).
    let norm = |s: &str| {
        s.parse::<peapod_net::IpNet>()
            .map_or_else(|_| s.to_owned(), |n| n.trunc().to_string())
    };
    let shown = |v: Option<String>| v.unwrap_or_else(|| "none".into());
    let pairs = [
        ("subnet", Some(row.subnet.clone()), Some(norm(&want.subnet))),
        (
            "subnet6",
            row.subnet6.clone(),
            want.subnet6.as_deref().map(norm),
        ),
        (
            "bridge",
            Some(row.bridge.clone()),
            Some(want.bridge.clone()),
        ),
        (
            "mtu",
            row.mtu.map(|m| m.to_string()),
            want.mtu.map(|m| m.to_string()),
        ),
    ];
    pairs
        .into_iter()
        .find(|(_, have, want)| have != want)
        .map(|(key, have, want)| (key, shown(have), shown(want)))
}
