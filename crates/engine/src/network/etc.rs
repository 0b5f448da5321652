//! What is checked before a container is made, and the files its network gives it:
//! `/etc/resolv.conf`, and `/etc/hosts` kept up to date on every member of a network.

use std::collections::HashMap;
use std::net::IpAddr;

use super::Endpoint;
use crate::Engine;
use crate::container::{CreateOptions, NetworkMode};
use crate::error::{Error, Result};

pub(crate) fn bad(flag: &'static str, value: &str, e: impl std::fmt::Display) -> Error {
    Error::InvalidFlag {
        flag,
        value: value.to_owned(),
        why: e.to_string(),
    }
}

/// `-p` specs parsed.
pub(crate) fn port_mappings(publish: &[String]) -> Result<Vec<peapod_net::PortMapping>> {
    publish
        .iter()
        .map(|p| {
            p.parse::<peapod_net::PortMapping>()
                .map_err(|e| bad("--publish", p, e))
        })
        .collect()
}

/// Checks the network options before anything is made.
pub(crate) fn validate(opts: &CreateOptions) -> Result<()> {
    let ports = port_mappings(&opts.publish)?;
    let bridge = matches!(opts.network, NetworkMode::Bridge(_));
    if (!ports.is_empty() || opts.publish_all) && !bridge {
        let flag = if ports.is_empty() {
            "--publish-all"
        } else {
            "--publish"
        };
        return Err(bad(
            flag,
            &opts.publish.join(" "),
            "publishing a port needs a bridge network (--network bridge)",
        ));
    }
    for (flag, ip) in [("--ip", &opts.ip), ("--ip6", &opts.ip6)] {
        let Some(ip) = ip else { continue };
        let parsed = ip.parse::<IpAddr>().map_err(|e| bad(flag, ip, e))?;
        if flag == "--ip6" && parsed.is_ipv4() {
            return Err(bad(flag, ip, "not an IPv6 address"));
        }
        if !bridge {
            return Err(bad(
                flag,
                ip,
                "a fixed address needs a bridge network (--network bridge)",
            ));
        }
    }
    if let (Some(a), Some(b)) = (&opts.ip, &opts.ip6)
        && a.parse::<IpAddr>().is_ok_and(|a| a.is_ipv6())
    {
        return Err(bad(
            "--ip",
            a,
            format!("--ip6 {b} gives the IPv6 address already"),
        ));
    }
    for d in &opts.dns {
        d.parse::<IpAddr>().map_err(|e| bad("--dns", d, e))?;
    }
    for h in &opts.add_hosts {
        peapod_net::HostEntry::parse_add_host(h, Some(IpAddr::from([0, 0, 0, 0])))
            .map_err(|e| bad("--add-host", h, e))?;
    }
    for a in &opts.aliases {
        crate::container::validate_name(a).map_err(|e| bad("--network-alias", a, e))?;
    }
    Ok(())
}

/// The container's `/etc/resolv.conf`: the host's upstreams (no loopback resolver, which
/// another namespace cannot reach) or `--dns`, and `--dns-search`.
pub(crate) fn resolv_conf(opts: &CreateOptions) -> String {
    // `container:` shares the other's network, and gets its files at start.
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    if opts.network == NetworkMode::Host && opts.dns.is_empty() && opts.dns_search.is_empty() {
        return host;
    }
    let dns = peapod_net::DnsOptions {
        servers: opts.dns.iter().filter_map(|d| d.parse().ok()).collect(),
        search: opts.dns_search.clone(),
        options: Vec::new(),
    };
    peapod_net::resolv_conf(&host, &dns)
}

/// The networks an endpoint holds leases on (none if they cannot be read).
pub(crate) fn networks_of(engine: &Engine, id: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (n, _) in engine.db.leases_of(id).unwrap_or_default() {
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// Rewrites the hosts files on each of `networks`, best effort (after an endpoint left
/// them).
pub(crate) fn refresh_networks(engine: &Engine, networks: &[String]) {
    for n in networks {
        let _ = refresh_hosts(engine, n);
    }
}

/// Rewrites the `/etc/hosts` of every endpoint on `network` (see [`refresh_hosts_of`]).
pub(crate) fn refresh_hosts(engine: &Engine, network: &str) -> Result<()> {
    let mut ids: Vec<String> = Vec::new();
    for (id, _) in engine.db.network_members(network)? {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    refresh_hosts_of(engine, &ids)
}

/// Rewrites the `/etc/hosts` of the endpoints `ids`: their own names, their `--add-host`
/// entries, and every other endpoint of each of their networks by name and alias, at each
/// of its addresses there (the name resolution peapod gives every network, its default one
/// included). Files are rewritten in place, so a running container sees the change.
pub(crate) fn refresh_hosts_of(engine: &Engine, ids: &[String]) -> Result<()> {
    hosts_of(engine, ids, None)
}

/// Writes the `/etc/hosts` of `ep`, an endpoint with no container record (a build's RUN
/// step), as [`refresh_hosts_of`] writes a container's.
pub(crate) fn write_hosts(engine: &Engine, ep: &Endpoint) -> Result<()> {
    hosts_of(engine, std::slice::from_ref(&ep.id), Some(ep))
}

fn hosts_of(engine: &Engine, ids: &[String], known: Option<&Endpoint>) -> Result<()> {
    let mut members: HashMap<String, Vec<(String, IpAddr)>> = HashMap::new();
    let mut endpoints: HashMap<String, Option<Endpoint>> = HashMap::new();
    if let Some(ep) = known {
        endpoints.insert(ep.id.clone(), Some(ep.clone()));
    }
    let mut endpoint = |id: &str| -> Result<Option<Endpoint>> {
        if let Some(e) = endpoints.get(id) {
            return Ok(e.clone());
        }
        let e = endpoint_by_id(engine, id)?;
        endpoints.insert(id.to_owned(), e.clone());
        Ok(e)
    };
    let names = |e: &Endpoint| {
        let mut names = vec![e.name.clone()];
        names.extend(e.aliases.iter().cloned());
        names
    };
    for id in ids {
        let Some(ep) = endpoint(id)? else { continue };
        let leases = engine.db.leases_of(id)?;
        let mut own_names = names(&ep);
        let hostname = ep.hostname();
        if hostname != ep.name {
            own_names.insert(0, hostname);
        }
        let own: Vec<peapod_net::HostEntry> = leases
            .iter()
            .map(|(_, ip)| peapod_net::HostEntry {
                ip: *ip,
                names: own_names.clone(),
            })
            .collect();
        let mut peers: Vec<peapod_net::HostEntry> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for (network, _) in &leases {
            if seen.contains(&network.as_str()) {
                continue;
            }
            seen.push(network);
            if !members.contains_key(network) {
                members.insert(network.clone(), engine.db.network_members(network)?);
            }
            for (other, ip) in members.get(network).into_iter().flatten() {
                if other == id || peers.iter().any(|p| p.ip == *ip) {
                    continue;
                }
                if let Some(o) = endpoint(other)? {
                    peers.push(peapod_net::HostEntry {
                        ip: *ip,
                        names: names(&o),
                    });
                }
            }
        }
        // `--add-host NAME:host-gateway` resolves to its first network's gateway.
        let gateway = match ep.networks.first() {
            Some(n) => engine.db.network(n)?.and_then(|n| n.gateway.parse().ok()),
            None => None,
        };
        let add: Vec<peapod_net::HostEntry> = ep
            .add_hosts
            .iter()
            .filter_map(|h| peapod_net::HostEntry::parse_add_host(h, gateway).ok())
            .collect();
        let text = peapod_net::hosts_file(&add, &own, &peers);
        let path = ep.dir.join("hosts");
        if path.exists() {
            peapod_net::rewrite_in_place(&path, &text)?;
        }
    }
    Ok(())
}

/// The endpoint of this id: a container's (a pod's, once pods hold namespaces, goes here).
fn endpoint_by_id(engine: &Engine, id: &str) -> Result<Option<Endpoint>> {
    engine
        .db
        .container(id)?
        .map(|r| Endpoint::of(engine, &r))
        .transpose()
}
