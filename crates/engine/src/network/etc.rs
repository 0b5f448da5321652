//! What is checked before a container is made, and the files its network gives it:
//! `/etc/resolv.conf`, and `/etc/hosts` kept up to date on every member of a network.

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
    if !ports.is_empty() && !bridge {
        return Err(bad(
            "--publish",
            &opts.publish.join(" "),
            "publishing a port needs a bridge network (--network bridge)",
        ));
    }
    if let Some(ip) = &opts.ip {
        ip.parse::<IpAddr>().map_err(|e| bad("--ip", ip, e))?;
        if !bridge {
            return Err(bad(
                "--ip",
                ip,
                "a fixed address needs a bridge network (--network bridge)",
            ));
        }
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

/// Rewrites the `/etc/hosts` of every endpoint on `network`: its own names, its
/// `--add-host` entries, and every other endpoint of the network by name and alias (the
/// name resolution peapod gives every network, its default one included). Files are
/// rewritten in place, so a running container sees the change.
pub(crate) fn refresh_hosts(engine: &Engine, network: &str) -> Result<()> {
    let members = engine.db.network_members(network)?;
    // An endpoint's addresses on this network (v4 and v6 of a dual-stack one), in order.
    let mut endpoints: Vec<(Endpoint, Vec<IpAddr>)> = Vec::new();
    for (id, ip) in members {
        if let Some((_, ips)) = endpoints.iter_mut().find(|(e, _)| e.id == id) {
            ips.push(ip);
        } else if let Some(ep) = endpoint_by_id(engine, &id)? {
            endpoints.push((ep, vec![ip]));
        }
    }
    let entries = |e: &Endpoint, ips: &[IpAddr]| -> Vec<peapod_net::HostEntry> {
        let mut names = vec![e.name.clone()];
        names.extend(e.aliases.iter().cloned());
        ips.iter()
            .map(|ip| peapod_net::HostEntry {
                ip: *ip,
                names: names.clone(),
            })
            .collect()
    };
    // `--add-host NAME:host-gateway` resolves to the network's gateway.
    let gateway = engine
        .db
        .network(network)?
        .and_then(|n| n.gateway.parse().ok());
    for (ep, ips) in &endpoints {
        let add: Vec<peapod_net::HostEntry> = ep
            .add_hosts
            .iter()
            .filter_map(|h| peapod_net::HostEntry::parse_add_host(h, gateway).ok())
            .collect();
        let hostname = ep.hostname();
        let mut own = entries(ep, ips);
        if hostname != ep.name {
            for o in &mut own {
                o.names.insert(0, hostname.clone());
            }
        }
        let peers: Vec<peapod_net::HostEntry> = endpoints
            .iter()
            .filter(|(o, _)| o.id != ep.id)
            .flat_map(|(o, oips)| entries(o, oips))
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
    Ok(engine.db.container(id)?.map(|r| Endpoint::of(engine, &r)))
}
