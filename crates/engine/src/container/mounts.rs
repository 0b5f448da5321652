//! `-v`, `--mount` and `--tmpfs`, parsed into [`MountSpec`]s with docker's syntax and rules.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One mount the operator asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum MountSpec {
    /// A host path (`-v /srv:/data:ro`, `--mount type=bind,…`): it must exist.
    Bind {
        /// The absolute host path.
        source: String,
        /// The absolute path in the container.
        destination: String,
        /// `ro`.
        readonly: bool,
    },
    /// A volume (`-v NAME:/data`, `-v /data` for an anonymous one): created if missing.
    Volume {
        /// The name; `None` for an anonymous volume (named at create).
        name: Option<String>,
        /// The absolute path in the container.
        destination: String,
        /// `ro`.
        readonly: bool,
    },
    /// A tmpfs (`--tmpfs /run:size=64m`).
    Tmpfs {
        /// The absolute path in the container.
        destination: String,
        /// Mount options (`size=64m,mode=1777`).
        options: Vec<String>,
    },
}

impl MountSpec {
    /// Where it is mounted in the container.
    pub fn destination(&self) -> &str {
        match self {
            MountSpec::Bind { destination, .. }
            | MountSpec::Volume { destination, .. }
            | MountSpec::Tmpfs { destination, .. } => destination,
        }
    }
}

fn bad(flag: &'static str, value: &str, why: impl Into<String>) -> Error {
    Error::InvalidFlag {
        flag,
        value: value.to_owned(),
        why: why.into(),
    }
}

fn check_destination(flag: &'static str, value: &str, dest: &str) -> Result<()> {
    if !dest.starts_with('/') {
        return Err(bad(
            flag,
            value,
            format!("the container path {dest:?} is not absolute"),
        ));
    }
    if dest == "/" {
        return Err(bad(flag, value, "the container path cannot be /"));
    }
    Ok(())
}

fn check_volume_name(flag: &'static str, value: &str, name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(bad(
            flag,
            value,
            format!(
                "{name:?} is neither an absolute host path nor a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)"
            ),
        ))
    }
}

/// Parses `-v [SOURCE:]DEST[:OPTIONS]`: SOURCE an absolute host path (bind) or a volume
/// name; no SOURCE makes an anonymous volume; OPTIONS a comma list of `ro`, `rw`, `z`, `Z`
/// (SELinux labels, accepted and ignored: there is no SELinux here).
///
/// # Errors
/// [`Error::InvalidFlag`] for an empty or relative path, a bad name or an unknown option.
pub fn parse_volume(value: &str) -> Result<MountSpec> {
    const FLAG: &str = "--volume";
    let parts: Vec<&str> = value.split(':').collect();
    let (source, dest, options) = match parts.as_slice() {
        [dest] => (None, *dest, ""),
        [a, b] if b.starts_with('/') => (Some(*a), *b, ""),
        [dest, options] => (None, *dest, *options),
        [source, dest, options] => (Some(*source), *dest, *options),
        _ => return Err(bad(FLAG, value, "expected [SOURCE:]DEST[:ro|rw]")),
    };
    check_destination(FLAG, value, dest)?;
    let mut readonly = false;
    for option in options.split(',').filter(|o| !o.is_empty()) {
        match option {
            "ro" => readonly = true,
            "rw" => readonly = false,
            "z" | "Z" => {}
            other => {
                return Err(bad(
                    FLAG,
                    value,
                    format!("unknown option {other:?} (expected ro or rw)"),
                ));
            }
        }
    }
    Ok(match source {
        Some("") => return Err(bad(FLAG, value, "the source is empty")),
        Some(s) if s.starts_with('/') => MountSpec::Bind {
            source: s.to_owned(),
            destination: dest.to_owned(),
            readonly,
        },
        Some(name) => {
            check_volume_name(FLAG, value, name)?;
            MountSpec::Volume {
                name: Some(name.to_owned()),
                destination: dest.to_owned(),
                readonly,
            }
        }
        None => MountSpec::Volume {
            name: None,
            destination: dest.to_owned(),
            readonly,
        },
    })
}

/// Parses `--mount type=bind|volume|tmpfs,source=…,target=…[,readonly][,tmpfs-size=…]`
/// (`src`, `dst`, `destination`, `ro` as docker's aliases).
///
/// # Errors
/// [`Error::InvalidFlag`] for an unknown type or key, a missing target, or a bind without
/// an absolute source.
pub fn parse_mount(value: &str) -> Result<MountSpec> {
    const FLAG: &str = "--mount";
    let (mut kind, mut source, mut target, mut readonly) = ("volume", None, None, false);
    let mut tmpfs_options = Vec::new();
    for field in value.split(',') {
        let (key, val) = match field.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (field, None),
        };
        match (key, val) {
            ("type", Some(v)) => kind = v,
            ("source" | "src", Some(v)) => source = Some(v),
            ("target" | "dst" | "destination", Some(v)) => target = Some(v),
            ("readonly" | "ro", None | Some("true" | "1")) => readonly = true,
            ("readonly" | "ro", Some("false" | "0")) => readonly = false,
            ("tmpfs-size", Some(v)) => tmpfs_options.push(format!("size={v}")),
            ("tmpfs-mode", Some(v)) => tmpfs_options.push(format!("mode={v}")),
            _ => return Err(bad(FLAG, value, format!("unknown field {field:?}"))),
        }
    }
    let target = target.ok_or_else(|| bad(FLAG, value, "target= is required"))?;
    check_destination(FLAG, value, target)?;
    match kind {
        "bind" => {
            let source = source
                .filter(|s| s.starts_with('/'))
                .ok_or_else(|| bad(FLAG, value, "a bind mount needs an absolute source="))?;
            Ok(MountSpec::Bind {
                source: source.to_owned(),
                destination: target.to_owned(),
                readonly,
            })
        }
        "volume" => {
            if let Some(name) = source {
                check_volume_name(FLAG, value, name)?;
            }
            Ok(MountSpec::Volume {
                name: source.map(str::to_owned),
                destination: target.to_owned(),
                readonly,
            })
        }
        "tmpfs" => {
            if readonly {
                tmpfs_options.push("ro".into());
            }
            Ok(MountSpec::Tmpfs {
                destination: target.to_owned(),
                options: tmpfs_options,
            })
        }
        other => Err(bad(
            FLAG,
            value,
            format!("unknown type {other:?} (expected bind, volume or tmpfs)"),
        )),
    }
}

/// Parses `--tmpfs DEST[:OPTIONS]`.
///
/// # Errors
/// [`Error::InvalidFlag`] for a relative path.
pub fn parse_tmpfs(value: &str) -> Result<MountSpec> {
    let (dest, options) = value.split_once(':').unwrap_or((value, ""));
    check_destination("--tmpfs", value, dest)?;
    Ok(MountSpec::Tmpfs {
        destination: dest.to_owned(),
        options: options
            .split(',')
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_forms() {
        assert!(matches!(
            parse_volume("/srv:/data:ro"),
            Ok(MountSpec::Bind { readonly: true, .. })
        ));
        assert!(matches!(
            parse_volume("cache:/cache"),
            Ok(MountSpec::Volume { name: Some(n), .. }) if n == "cache"
        ));
        assert!(matches!(
            parse_volume("/data"),
            Ok(MountSpec::Volume { name: None, .. })
        ));
        assert!(matches!(
            parse_volume("/data:ro"),
            Ok(MountSpec::Volume {
                name: None,
                readonly: true,
                ..
            })
        ));
        for bad in [
            "",
            "rel/x:/y",
            "/a:rel",
            "/a:/b:bogus",
            "a:b:c:d",
            ":/x",
            "bad name:/x",
            "/a:/",
        ] {
            assert!(parse_volume(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mount_forms() {
        assert!(matches!(
            parse_mount("type=bind,source=/srv,target=/data,readonly"),
            Ok(MountSpec::Bind { readonly: true, .. })
        ));
        assert!(matches!(
            parse_mount("type=tmpfs,dst=/t,tmpfs-size=1m"),
            Ok(MountSpec::Tmpfs { .. })
        ));
        for bad in [
            "type=bind,target=/x",
            "type=nfs,target=/x",
            "source=v",
            "type=bind,src=/a,dst=/b,color=red",
        ] {
            assert!(parse_mount(bad).is_err(), "{bad}");
        }
    }
}
