//! `-P`/`--publish-all`: each port the image exposes, published on a free host port.
//!
//! The host ports are chosen at create, as docker chooses them at start, from the kernel's
//! ephemeral range (`net.ipv4.ip_local_port_range`, 32768–60999 by default), starting at a
//! point that varies with the time so that two creates seldom try the same port first. A
//! port is free when nothing on the host is bound to it and no container of ours publishes
//! it. The choice is recorded in the container's `-p` list, so it stays the same across
//! restarts and `peapod port` shows it; if another process takes the port before the
//! container starts, the start fails with a clear "port in use" error.

use std::collections::BTreeMap;

use super::{bad, port_mappings};
use crate::container::CreateOptions;
use crate::error::Result;

/// The options with a `HOSTPORT:PORT/PROTO` spec added for each port of `exposed` (the
/// image's `ExposedPorts` keys: `80/tcp`, `53/udp`, `8080`) that `-p` does not publish
/// already; `None` without `-P`.
///
/// # Errors
/// [`crate::Error::InvalidFlag`] for an exposed port that is not `PORT[/tcp|udp]`, or when
/// no free host port is left.
pub(crate) fn publish_exposed(
    opts: &CreateOptions,
    exposed: &BTreeMap<String, serde_json::Value>,
) -> Result<Option<CreateOptions>> {
    if !opts.publish_all {
        return Ok(None);
    }
    let mut chosen = port_mappings(&opts.publish)?;
    let (lo, hi) = local_port_range();
    let span = u32::from(hi - lo) + 1;
    let start = u32::try_from(crate::container::now_ns().rem_euclid(i64::from(span))).unwrap_or(0);
    let mut offset = 0u32;
    let fw = peapod_net::Nftables::default();
    let mut out = opts.clone();
    for key in exposed.keys() {
        let spec = if key.contains('/') {
            key.clone()
        } else {
            format!("{key}/tcp")
        };
        // `1:PORT/PROTO` parses the container side as `-p` would.
        let wanted = port_mappings(&[format!("1:{spec}")])
            .map_err(|e| bad("--publish-all", key, format!("the image exposes it: {e}")))?;
        let Some(wanted) = wanted.first() else {
            continue;
        };
        for (_, port) in wanted.pairs() {
            let published = chosen
                .iter()
                .any(|m| m.proto == wanted.proto && m.pairs().any(|(_, inner)| inner == port));
            if published {
                continue;
            }
            let found = loop {
                if offset >= span {
                    return Err(bad(
                        "--publish-all",
                        key,
                        format!("no free host port left in {lo}-{hi}"),
                    ));
                }
                let candidate = lo + u16::try_from((start + offset) % span).unwrap_or(0);
                offset += 1;
                let mapping = peapod_net::PortMapping {
                    host_ip: None,
                    host_port: candidate,
                    container_port: port,
                    count: 1,
                    proto: wanted.proto,
                };
                let clash = chosen.iter().any(|m| {
                    m.proto == mapping.proto && m.pairs().any(|(host, _)| host == candidate)
                });
                if !clash && peapod_net::Firewall::check_ports(&fw, &[mapping]).is_ok() {
                    break mapping;
                }
            };
            out.publish.push(found.to_string());
            chosen.push(found);
        }
    }
    Ok(Some(out))
}

/// The kernel's ephemeral port range (`net.ipv4.ip_local_port_range`), or docker's default
/// 32768–60999 if it cannot be read.
fn local_port_range() -> (u16, u16) {
    let text =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let mut it = text
        .split_whitespace()
        .filter_map(|w| w.parse::<u16>().ok());
    match (it.next(), it.next()) {
        (Some(lo), Some(hi)) if 0 < lo && lo <= hi => (lo, hi),
        _ => (32768, 60999),
    }
}
