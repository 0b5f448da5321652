//! The `/etc/hosts` and `/etc/resolv.conf` a container sees: pure text generation (hosts(5),
//! resolv.conf(5)); writing them into the container is the caller's business.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::str::FromStr;

use crate::error::{NetError, Result};

/// Checks a host name (RFC 1123: dot-separated labels of letters, digits and `-`, 1–63 bytes
/// each, not starting or ending with `-`; at most 253 bytes).
///
/// # Errors
/// [`NetError::InvalidOption`] with `what` naming the option.
pub fn check_hostname(what: &'static str, name: &str) -> Result<()> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if name.len() <= 253 && name.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(NetError::InvalidOption {
            what,
            input: name.to_owned(),
            reason: "not a host name (letters, digits and '-' in dot-separated labels)",
        })
    }
}

/// One `/etc/hosts` line: an address and its names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntry {
    /// The address.
    pub ip: IpAddr,
    /// Its names, canonical first.
    pub names: Vec<String>,
}

impl HostEntry {
    /// Parses `--add-host NAME:IP` (docker's form; `NAME=IP` too, and an IPv6 address may be
    /// bracketed: `db:[fd00::5]`). `host-gateway` as the address means `host_gateway`.
    ///
    /// # Errors
    /// [`NetError::InvalidOption`] for a bad name or address, or `host-gateway` without one.
    pub fn parse_add_host(input: &str, host_gateway: Option<IpAddr>) -> Result<Self> {
        let bad = |reason| NetError::InvalidOption {
            what: "--add-host",
            input: input.to_owned(),
            reason,
        };
        let (name, ip) = input
            .split_once(['=', ':'])
            .ok_or_else(|| bad("expected NAME:IP"))?;
        check_hostname("--add-host", name)?;
        let ip = match ip.trim_start_matches('[').trim_end_matches(']') {
            "host-gateway" => host_gateway.ok_or_else(|| bad("no host gateway is known here"))?,
            ip => ip
                .parse()
                .map_err(|_| bad("not an IP address after the name"))?,
        };
        Ok(Self {
            ip,
            names: vec![name.to_owned()],
        })
    }
}

impl FromStr for HostEntry {
    type Err = NetError;

    /// [`HostEntry::parse_add_host`] without a host gateway.
    fn from_str(s: &str) -> Result<Self> {
        Self::parse_add_host(s, None)
    }
}

/// The container's `/etc/hosts`: loopback names, the `--add-host` entries, the container's own
/// addresses with its host name and aliases, then the other containers of its networks
/// (`peers`, kept up to date by the caller when a container joins or leaves).
pub fn hosts_file(add_hosts: &[HostEntry], own: &[HostEntry], peers: &[HostEntry]) -> String {
    let mut out = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    for entry in add_hosts.iter().chain(own).chain(peers) {
        let _ = writeln!(out, "{}\t{}", entry.ip, entry.names.join(" "));
    }
    out
}

/// `--dns`, `--dns-search` and `--dns-option`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsOptions {
    /// Name servers; empty: the host's.
    pub servers: Vec<IpAddr>,
    /// Search domains; empty: the host's; `["."]`: none.
    pub search: Vec<String>,
    /// resolv.conf options (`ndots:2`); empty: the host's.
    pub options: Vec<String>,
}

impl DnsOptions {
    /// Checks the search domains (host names, or `.` alone).
    ///
    /// # Errors
    /// [`NetError::InvalidOption`] naming `--dns-search`.
    pub fn validate(&self) -> Result<()> {
        if self.search != ["."] {
            for domain in &self.search {
                check_hostname("--dns-search", domain)?;
            }
        }
        for option in &self.options {
            if option.is_empty() || option.contains(char::is_whitespace) {
                return Err(NetError::InvalidOption {
                    what: "--dns-option",
                    input: option.clone(),
                    reason: "an option is one word, e.g. ndots:2",
                });
            }
        }
        Ok(())
    }
}

/// The name servers of a resolv.conf text that a container can reach: loopback ones (a
/// local resolver such as systemd-resolved's 127.0.0.53) are dropped, since the container has
/// its own loopback.
pub fn host_upstreams(host_resolv_conf: &str) -> Vec<IpAddr> {
    keyword_values(host_resolv_conf, "nameserver")
        .filter_map(|v| v.parse::<IpAddr>().ok())
        .filter(|ip| !ip.is_loopback())
        .collect()
}

fn keyword_values<'a>(text: &'a str, keyword: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    text.lines()
        .filter_map(move |line| {
            let mut words = line.split_whitespace();
            (words.next() == Some(keyword)).then_some(words)
        })
        .flatten()
}

/// The container's `/etc/resolv.conf`, from the host's (its text) and the options: servers
/// from `--dns` or else [`host_upstreams`]; search domains from `--dns-search` or else the
/// host's `search`/`domain`; options from `--dns-option` or else the host's.
pub fn resolv_conf(host_resolv_conf: &str, opts: &DnsOptions) -> String {
    let servers = if opts.servers.is_empty() {
        host_upstreams(host_resolv_conf)
    } else {
        opts.servers.clone()
    };
    let search: Vec<&str> = match opts.search.as_slice() {
        [] => {
            let search: Vec<&str> = keyword_values(host_resolv_conf, "search").collect();
            if search.is_empty() {
                keyword_values(host_resolv_conf, "domain").collect()
            } else {
                search
            }
        }
        [dot] if dot == "." => Vec::new(),
        given => given.iter().map(String::as_str).collect(),
    };
    let options: Vec<&str> = if opts.options.is_empty() {
        keyword_values(host_resolv_conf, "options").collect()
    } else {
        opts.options.iter().map(String::as_str).collect()
    };
    let mut out = String::new();
    if !search.is_empty() {
        let _ = writeln!(out, "search {}", search.join(" "));
    }
    for server in servers {
        let _ = writeln!(out, "nameserver {server}");
    }
    if !options.is_empty() {
        let _ = writeln!(out, "options {}", options.join(" "));
    }
    out
}

/// Replaces the content of `path` in place, keeping its inode: a container sees its
/// `/etc/hosts` through a bind mount of that file, and a rename would leave it the old one.
/// Used to keep every container's hosts file current when a container joins or leaves its
/// network. The new text is written over the old, then the file is cut to its length, so a
/// reader never sees an empty file (it may see a mix for an instant, as with docker's).
///
/// # Errors
/// [`NetError::Io`] naming the file.
pub fn rewrite_in_place(path: &std::path::Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    let fail = |e| NetError::io(format!("rewrite {}", path.display()), e);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)?;
    file.set_len(text.len() as u64).map_err(fail)?;
    Ok(())
}
