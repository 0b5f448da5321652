//! The `networks` and `leases` tables: IPAM's state. An address is allocated and recorded
//! in one immediate transaction, so two processes never hand out the same one.

use std::collections::HashSet;
use std::net::IpAddr;

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{Db, is_constraint};
use crate::error::{Error, Result};

/// A network as the database records it.
#[derive(Clone, Debug)]
pub(crate) struct NetworkRow {
    pub(crate) name: String,
    pub(crate) id: String,
    pub(crate) bridge: String,
    pub(crate) subnet: String,
    pub(crate) gateway: String,
    pub(crate) internal: bool,
    pub(crate) created: i64,
    /// The IPv6 subnet of a dual-stack network.
    pub(crate) subnet6: Option<String>,
    pub(crate) gateway6: Option<String>,
    /// Bytes; `None` for the kernel's default.
    pub(crate) mtu: Option<u32>,
}

fn network_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<NetworkRow> {
    Ok(NetworkRow {
        name: r.get(0)?,
        id: r.get(1)?,
        bridge: r.get(2)?,
        subnet: r.get(3)?,
        gateway: r.get(4)?,
        internal: r.get(5)?,
        created: r.get(6)?,
        subnet6: r.get(7)?,
        gateway6: r.get(8)?,
        mtu: r.get(9)?,
    })
}

const COLUMNS: &str =
    "name, id, bridge, subnet, gateway, internal, created, subnet6, gateway6, mtu";

impl Db {
    /// Adds a network; `Ok(false)` if its name or bridge is taken.
    pub(crate) fn insert_network(&self, n: &NetworkRow) -> Result<bool> {
        match self.conn().execute(
            &format!(
                "INSERT INTO networks ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            ),
            params![
                n.name, n.id, n.bridge, n.subnet, n.gateway, n.internal, n.created, n.subnet6,
                n.gateway6, n.mtu
            ],
        ) {
            Ok(_) => Ok(true),
            Err(e) if is_constraint(&e) => Ok(false),
            Err(e) => Err(self.err()(e)),
        }
    }

    /// The network of this name.
    pub(crate) fn network(&self, name: &str) -> Result<Option<NetworkRow>> {
        self.conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM networks WHERE name = ?1"),
                [name],
                network_row,
            )
            .optional()
            .map_err(self.err())
    }

    /// Every network, by name.
    pub(crate) fn networks(&self) -> Result<Vec<NetworkRow>> {
        let mut stmt = self
            .conn()
            .prepare(&format!("SELECT {COLUMNS} FROM networks ORDER BY name"))
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], network_row)
            .map_err(self.err())?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err())?;
        Ok(rows)
    }

    /// Removes a network's row; refuses one a container holds a lease on.
    pub(crate) fn delete_network(&self, name: &str) -> Result<bool> {
        let user: Option<String> = self
            .conn()
            .query_row(
                "SELECT COALESCE(c.name, l.endpoint) FROM leases l LEFT JOIN containers c ON c.id = l.endpoint
                 WHERE l.network = ?1 LIMIT 1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())?;
        if let Some(container) = user {
            return Err(Error::NetworkInUse {
                name: name.to_owned(),
                container,
            });
        }
        let n = self
            .conn()
            .execute("DELETE FROM networks WHERE name = ?1", [name])
            .map_err(self.err())?;
        Ok(n == 1)
    }

    /// Allocates addresses on `network` for `endpoint` (a container's or a pod's id) with
    /// `pick` (given the addresses in use; one per family of a dual-stack network) and
    /// records them, in one immediate transaction. One lease per address family: a second of
    /// the same family is refused by the table.
    pub(crate) fn lease(
        &mut self,
        network: &str,
        endpoint: &str,
        pick: impl FnOnce(&HashSet<IpAddr>) -> Result<Vec<IpAddr>>,
    ) -> Result<Vec<IpAddr>> {
        let path = self.path.clone();
        let err = |source| Error::Db {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn_mut()
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let used: HashSet<IpAddr> = {
            let mut stmt = tx
                .prepare("SELECT address FROM leases WHERE network = ?1")
                .map_err(err)?;
            let rows = stmt
                .query_map([network], |r| r.get::<_, String>(0))
                .map_err(err)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(err)?;
            rows.iter().filter_map(|a| a.parse().ok()).collect()
        };
        let ips = pick(&used)?;
        for ip in &ips {
            let family = if ip.is_ipv4() { 4 } else { 6 };
            tx.execute(
                "INSERT INTO leases (network, address, endpoint, family) VALUES (?1, ?2, ?3, ?4)",
                params![network, ip.to_string(), endpoint, family],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(ips)
    }

    /// Pairs of (text, address) that `sql` selects for `key`; unparsable addresses skipped.
    fn address_pairs(&self, sql: &str, key: &str) -> Result<Vec<(String, IpAddr)>> {
        let mut stmt = self.conn().prepare(sql).map_err(self.err())?;
        let rows = stmt
            .query_map([key], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(self.err())?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err())?;
        Ok(rows
            .into_iter()
            .filter_map(|(t, a)| Some((t, a.parse().ok()?)))
            .collect())
    }

    /// The endpoints with an address on `network`: (endpoint id, address), by address.
    pub(crate) fn network_members(&self, network: &str) -> Result<Vec<(String, IpAddr)>> {
        self.address_pairs(
            "SELECT endpoint, address FROM leases WHERE network = ?1 ORDER BY address",
            network,
        )
    }

    /// An endpoint's leases: (network, address), by network then family (v4 first).
    pub(crate) fn leases_of(&self, endpoint: &str) -> Result<Vec<(String, IpAddr)>> {
        self.address_pairs(
            "SELECT network, address FROM leases WHERE endpoint = ?1 ORDER BY network, family",
            endpoint,
        )
    }

    /// Releases an endpoint's leases on `network` (every network with `None`); how many.
    pub(crate) fn release(&self, endpoint: &str, network: Option<&str>) -> Result<usize> {
        let n = match network {
            Some(net) => self.conn().execute(
                "DELETE FROM leases WHERE endpoint = ?1 AND network = ?2",
                params![endpoint, net],
            ),
            None => self
                .conn()
                .execute("DELETE FROM leases WHERE endpoint = ?1", [endpoint]),
        };
        n.map_err(self.err())
    }
}
