//! A plan of cgroup file writes, the pure result of turning OCI resources into files, and
//! the checks shared by the v1 and v2 planners.

use crate::error::{Error, Result};

/// Prefix of every OCI setting named in an error.
pub(crate) const R: &str = "linux.resources";

/// One write of a cgroup file, relative to the cgroup's directory in the controller's
/// hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileWrite {
    /// The OCI setting it comes from (`linux.resources.memory.limit`).
    pub(crate) setting: String,
    pub(crate) file: String,
    pub(crate) value: String,
    /// Written instead when `file` does not exist (`blkio.bfq.weight` for `blkio.weight`).
    pub(crate) fallback: Option<(String, String)>,
    /// Skipped when `file` does not exist (an optional kernel feature, or a value that only
    /// restates the default).
    pub(crate) if_exists: bool,
    /// On EINVAL, tried once more after the rest of its group (cpu period before quota).
    pub(crate) retry_after_group: bool,
}

impl FileWrite {
    pub(crate) fn new(
        setting: impl Into<String>,
        file: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        FileWrite {
            setting: setting.into(),
            file: file.into(),
            value: value.into(),
            fallback: None,
            if_exists: false,
            retry_after_group: false,
        }
    }

    pub(crate) fn or_else(mut self, file: impl Into<String>, value: impl Into<String>) -> Self {
        self.fallback = Some((file.into(), value.into()));
        self
    }

    pub(crate) fn if_exists(mut self) -> Self {
        self.if_exists = true;
        self
    }

    pub(crate) fn retry_after_group(mut self) -> Self {
        self.retry_after_group = true;
        self
    }
}

/// A resource this host cannot apply and that runc ignores there (with a warning, for
/// `memory.kernel`): [`crate::Cgroup::apply`] goes on without it and returns this, for the
/// caller to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting} is ignored: {reason}")]
pub struct Warning {
    /// The OCI setting (`linux.resources.memory.kernelTCP`).
    pub setting: String,
    /// Why this host cannot apply it.
    pub reason: String,
}

pub(crate) fn ignored(setting: &str, reason: impl Into<String>) -> Warning {
    Warning {
        setting: setting.to_owned(),
        reason: reason.into(),
    }
}

pub(crate) fn invalid(setting: &str, value: impl ToString, reason: impl Into<String>) -> Error {
    Error::InvalidValue {
        setting: setting.to_owned(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

pub(crate) fn unsupported(setting: &str, reason: impl Into<String>) -> Error {
    Error::Unsupported {
        setting: setting.to_owned(),
        reason: reason.into(),
    }
}

/// A byte limit where -1 means unlimited and 0 means unset (runc's reading of OCI).
/// Returns `None` for unset, `Some(None)` for unlimited, `Some(Some(n))` for a limit.
pub(crate) fn limit(setting: &str, v: Option<i64>) -> Result<Option<Option<i64>>> {
    match v {
        None | Some(0) => Ok(None),
        Some(-1) => Ok(Some(None)),
        Some(n) if n > 0 => Ok(Some(Some(n))),
        Some(n) => Err(invalid(setting, n, "must be positive, or -1 for unlimited")),
    }
}

/// Checks a hugepage size (`2MB`, `1GB`, `64KB`): it becomes part of a file name.
pub(crate) fn page_size(size: &str) -> Result<&str> {
    let digits = size.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &size[digits.len()..];
    if !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && matches!(unit, "KB" | "MB" | "GB")
    {
        Ok(size)
    } else {
        Err(invalid(
            &format!("{R}.hugepageLimits.pageSize"),
            format!("{size:?}"),
            "expected a size like 2MB or 1GB",
        ))
    }
}

/// `major:minor` of an OCI block-IO device entry.
pub(crate) fn dev(setting: &str, major: i64, minor: i64) -> Result<String> {
    if major < 0 || minor < 0 || major > i64::from(u32::MAX) || minor > i64::from(u32::MAX) {
        return Err(invalid(
            setting,
            format!("{major}:{minor}"),
            "not a device number",
        ));
    }
    Ok(format!("{major}:{minor}"))
}

/// A cgroup file name from an OCI `unified` key: one plain file name.
pub(crate) fn unified_key(key: &str) -> Result<(&str, &str)> {
    let setting = format!("{R}.unified");
    let bad = |reason: &str| invalid(&setting, format!("{key:?}"), reason);
    if key.is_empty() || key.contains('/') || key.contains('\0') || key.starts_with('.') {
        return Err(bad("must be a cgroup file name such as memory.high"));
    }
    let Some((controller, _)) = key.split_once('.') else {
        return Err(bad("must be a cgroup file name such as memory.high"));
    };
    if matches!(
        key,
        "cgroup.procs"
            | "cgroup.threads"
            | "cgroup.kill"
            | "cgroup.freeze"
            | "cgroup.subtree_control"
            | "cgroup.type"
    ) {
        return Err(bad("is managed by the runtime, not a resource"));
    }
    Ok((controller, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(limit("x", None).unwrap(), None);
        assert_eq!(limit("x", Some(0)).unwrap(), None);
        assert_eq!(limit("x", Some(-1)).unwrap(), Some(None));
        assert_eq!(limit("x", Some(5)).unwrap(), Some(Some(5)));
        let e = limit("linux.resources.memory.limit", Some(-2)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.memory.limit: invalid value -2: must be positive, or -1 for unlimited"
        );
    }

    #[test]
    fn page_sizes() {
        assert_eq!(page_size("2MB").unwrap(), "2MB");
        assert_eq!(page_size("1GB").unwrap(), "1GB");
        for bad in ["", "MB", "2mb", "2MB/../x", "2 MB", "2TB"] {
            assert!(page_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn unified_keys() {
        assert_eq!(
            unified_key("memory.high").unwrap(),
            ("memory", "memory.high")
        );
        assert_eq!(
            unified_key("cgroup.max.depth").unwrap(),
            ("cgroup", "cgroup.max.depth")
        );
        for bad in ["", "../x", "a/b", "memory", "cgroup.procs", ".x"] {
            assert!(unified_key(bad).is_err(), "{bad:?}");
        }
    }
}
