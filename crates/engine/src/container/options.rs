//! The typed values of `create`/`run` flags and their parsers, with docker's rules and
//! messages (`-m 512m`, `--cpus 1.5`, `--ulimit nofile=1024:2048`, `--restart on-failure:3`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Resource limits (OCI `linux.resources`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    /// `-m`: bytes.
    pub memory: Option<i64>,
    /// `--memory-swap`: bytes of memory + swap; -1 unlimited.
    pub memory_swap: Option<i64>,
    /// `--cpus` in billionths of a CPU (docker's NanoCPUs).
    pub nano_cpus: Option<i64>,
    /// `--cpu-shares` (relative weight, 2..=262144).
    pub cpu_shares: Option<u64>,
    /// `--pids-limit` (≤ 0: unlimited).
    pub pids_limit: Option<i64>,
}

/// One `--ulimit NAME=SOFT[:HARD]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    /// `nofile`, `nproc`, … (without `RLIMIT_`).
    pub name: String,
    /// The soft limit.
    pub soft: u64,
    /// The hard limit.
    pub hard: u64,
}

/// `--restart`: when the monitor starts the container again after it exits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Never (the default).
    #[default]
    No,
    /// After a non-zero exit, at most `max` times (0: no limit).
    OnFailure {
        /// The most restarts (0 = unlimited).
        max: u32,
    },
    /// After any exit, unless stopped by `stop`/`kill`.
    Always,
    /// As `always`; docker differs only across daemon restarts, which peapod has none of.
    UnlessStopped,
}

impl std::str::FromStr for RestartPolicy {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let bad = |why: &str| Error::InvalidFlag {
            flag: "--restart",
            value: text.to_owned(),
            why: why.to_owned(),
        };
        let (name, count) = match text.split_once(':') {
            Some((n, c)) => (n, Some(c)),
            None => (text, None),
        };
        let policy = match name {
            "no" | "" => RestartPolicy::No,
            "always" => RestartPolicy::Always,
            "unless-stopped" => RestartPolicy::UnlessStopped,
            "on-failure" => RestartPolicy::OnFailure {
                max: match count {
                    Some(c) => c
                        .parse()
                        .map_err(|_| bad("the maximum retry count must be a whole number"))?,
                    None => 0,
                },
            },
            _ => return Err(bad("expected no, always, unless-stopped or on-failure[:N]")),
        };
        if count.is_some() && !matches!(policy, RestartPolicy::OnFailure { .. }) {
            return Err(bad("only on-failure takes a maximum retry count"));
        }
        Ok(policy)
    }
}

impl std::fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestartPolicy::No => f.write_str("no"),
            RestartPolicy::Always => f.write_str("always"),
            RestartPolicy::UnlessStopped => f.write_str("unless-stopped"),
            RestartPolicy::OnFailure { max: 0 } => f.write_str("on-failure"),
            RestartPolicy::OnFailure { max } => write!(f, "on-failure:{max}"),
        }
    }
}

/// A healthcheck (docker's `HEALTHCHECK` / `--health-*`); durations in nanoseconds, as in
/// the image config.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthConfig {
    /// `["CMD", arg…]`, `["CMD-SHELL", "cmd"]` or `["NONE"]`.
    pub test: Vec<String>,
    /// Between checks (default 30 s).
    pub interval: Option<u64>,
    /// One check's limit (default 30 s).
    pub timeout: Option<u64>,
    /// Failures before `unhealthy` (default 3).
    pub retries: Option<u32>,
    /// Failures in this time after start do not count (default 0).
    pub start_period: Option<u64>,
}

/// `--network`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// A network namespace with only `lo`. The default of these options (a library caller
    /// says what it wants); the CLI's default without `--network` is the configuration's
    /// ([`crate::Engine::default_network_mode`], `bridge` unless configured).
    #[default]
    None,
    /// The host's network namespace.
    Host,
    /// A namespace on a bridge network (`bridge` and `peapod` name the default one).
    Bridge(String),
    /// Another container's network namespace (`container:NAME`); it must run.
    Container(String),
}

impl NetworkMode {
    /// As `--network` and inspect's `NetworkMode` write it.
    pub fn as_str(&self) -> &str {
        match self {
            NetworkMode::None => "none",
            NetworkMode::Host => "host",
            NetworkMode::Bridge(name) => name,
            NetworkMode::Container(name) => name,
        }
    }
}

impl std::str::FromStr for NetworkMode {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "none" => Ok(NetworkMode::None),
            "host" => Ok(NetworkMode::Host),
            other if other.starts_with("container:") => {
                let target = &other["container:".len()..];
                if target.is_empty() {
                    return Err(Error::InvalidFlag {
                        flag: "--network",
                        value: text.to_owned(),
                        why: "container: needs a container's name or id".into(),
                    });
                }
                Ok(NetworkMode::Container(target.to_owned()))
            }
            "bridge" | "peapod" | "default" => {
                Ok(NetworkMode::Bridge(crate::network::DEFAULT_NETWORK.into()))
            }
            name if crate::container::validate_name(name).is_ok() => {
                Ok(NetworkMode::Bridge(name.to_owned()))
            }
            _ => Err(Error::InvalidFlag {
                flag: "--network",
                value: text.to_owned(),
                why: "expected none, host, bridge or a network's name".into(),
            }),
        }
    }
}

/// `--pull`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PullPolicy {
    /// Pull if the image is not present (the default).
    #[default]
    Missing,
    /// Always pull.
    Always,
    /// Never pull: a missing image is an error.
    Never,
}

impl std::str::FromStr for PullPolicy {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "missing" => Ok(PullPolicy::Missing),
            "always" => Ok(PullPolicy::Always),
            "never" => Ok(PullPolicy::Never),
            _ => Err(Error::InvalidFlag {
                flag: "--pull",
                value: text.to_owned(),
                why: "expected missing, always or never".into(),
            }),
        }
    }
}

/// `--security-opt seccomp=…`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeccompChoice {
    /// peapod's default profile.
    #[default]
    Default,
    /// No filter.
    Unconfined,
    /// A docker/podman-format profile (the file's content, read at create).
    Profile(String),
}

/// Parses a size as docker does (`-m`, `--memory-swap`, `--shm-size`): a number with an
/// optional unit `b`, `k`, `m`, `g`, `t`, `p` (powers of 1024; case and a trailing `b` are
/// ignored: `512m`, `1GiB`, `1048576`). Returns bytes.
///
/// # Errors
/// [`Error::InvalidFlag`] naming `flag` when it is not such a size.
pub fn parse_size(flag: &'static str, text: &str) -> Result<i64> {
    let bad = || Error::InvalidFlag {
        flag,
        value: text.to_owned(),
        why: "expected a size such as 512m or 1g (units b, k, m, g, t, p)".into(),
    };
    let lower = text.trim().to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits_end);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let unit = unit.trim();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(unit);
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return Err(bad()),
    };
    let bytes = number * 2f64.powi(shift);
    if !bytes.is_finite() || bytes < 0.0 || bytes > i64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as i64)
}

/// Parses `--cpus` (a positive decimal, at most the host's CPU count) into nano-CPUs.
///
/// # Errors
/// [`Error::InvalidFlag`] for anything else.
pub fn parse_cpus(text: &str) -> Result<i64> {
    let online = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let bad = |why: String| Error::InvalidFlag {
        flag: "--cpus",
        value: text.to_owned(),
        why,
    };
    let cpus: f64 = text
        .trim()
        .parse()
        .map_err(|_| bad("expected a number of CPUs such as 1.5".into()))?;
    if !cpus.is_finite() || cpus < 0.01 || cpus > online as f64 {
        return Err(bad(format!(
            "the range of CPUs is from 0.01 to {online}.00, as there are only {online} CPUs available"
        )));
    }
    Ok((cpus * 1e9).round() as i64)
}

/// Parses `--ulimit NAME=SOFT[:HARD]` (`-1` for unlimited), checking the name.
///
/// # Errors
/// [`Error::InvalidFlag`] for an unknown name, a bad number, or soft above hard.
pub fn parse_ulimit(text: &str) -> Result<Ulimit> {
    const NAMES: &[&str] = &[
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
        "as",
    ];
    let bad = |why: &str| Error::InvalidFlag {
        flag: "--ulimit",
        value: text.to_owned(),
        why: why.to_owned(),
    };
    let (name, values) = text
        .split_once('=')
        .ok_or_else(|| bad("expected NAME=SOFT[:HARD]"))?;
    if !NAMES.contains(&name) {
        return Err(bad(&format!(
            "unknown limit {name:?}; known: {}",
            NAMES.join(", ")
        )));
    }
    let number = |v: &str| -> Result<u64> {
        if v == "-1" || v == "unlimited" {
            return Ok(u64::MAX);
        }
        v.parse()
            .map_err(|_| bad("the limits must be whole numbers (or -1 for unlimited)"))
    };
    let (soft, hard) = match values.split_once(':') {
        Some((s, h)) => (number(s)?, number(h)?),
        None => (number(values)?, number(values)?),
    };
    if soft > hard {
        return Err(bad("the soft limit is above the hard limit"));
    }
    Ok(Ulimit {
        name: name.to_owned(),
        soft,
        hard,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_docker_reads_them() {
        assert_eq!(parse_size("-m", "512m").ok(), Some(512 << 20));
        assert_eq!(parse_size("-m", "1g").ok(), Some(1 << 30));
        assert_eq!(parse_size("-m", "1GiB").ok(), Some(1 << 30));
        assert_eq!(parse_size("-m", "2048").ok(), Some(2048));
        assert_eq!(parse_size("-m", "1.5k").ok(), Some(1536));
        for bad in ["lots", "", "12q", "-5m", "m"] {
            let e = parse_size("--memory", bad).err().map(|e| e.to_string());
            assert!(
                e.as_deref().is_some_and(|m| m.contains("--memory")),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn cpus_must_be_positive_and_at_most_the_host() {
        assert_eq!(parse_cpus("0.5").ok(), Some(500_000_000));
        for bad in ["-1", "0", "abc", "100000", "NaN"] {
            assert!(parse_cpus(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn restart_policies() {
        assert_eq!("no".parse::<RestartPolicy>().ok(), Some(RestartPolicy::No));
        assert_eq!(
            "on-failure:3".parse::<RestartPolicy>().ok(),
            Some(RestartPolicy::OnFailure { max: 3 })
        );
        assert_eq!(
            "always".parse::<RestartPolicy>().ok(),
            Some(RestartPolicy::Always)
        );
        for bad in ["bogus", "always:3", "on-failure:x", "on-failure:-1"] {
            assert!(bad.parse::<RestartPolicy>().is_err(), "{bad}");
        }
        assert_eq!(
            RestartPolicy::OnFailure { max: 2 }.to_string(),
            "on-failure:2"
        );
    }

    #[test]
    fn ulimits() {
        let u = parse_ulimit("nofile=1024:2048").ok();
        assert_eq!(u.map(|u| (u.soft, u.hard)), Some((1024, 2048)));
        assert_eq!(
            parse_ulimit("nproc=-1").ok().map(|u| u.hard),
            Some(u64::MAX)
        );
        for bad in ["nofile", "bogus=1", "nofile=2:1", "nofile=a"] {
            assert!(parse_ulimit(bad).is_err(), "{bad}");
        }
    }
}
