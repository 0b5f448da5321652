//! Overlay assembly: read-only layers plus a writable upper layer, merged at a target.

use std::os::fd::AsFd;
use std::path::Path;

use nix::errno::Errno;

use crate::error::{Error, Result, detail};
use crate::mount_api;
use crate::sys::{self, cstr};

/// Mounts an overlay of `lower` (topmost layer first, as overlayfs orders them) with the
/// writable `upper` and its `work` directory (same filesystem as `upper`) on the host path
/// `target`. Layers are passed one by one (`lowerdir+`, Linux 6.8), so paths may contain
/// `:` or `,`; older kernels get one escaped `lowerdir` string (and refuse a `,`).
pub fn mount_overlay(lower: &[&Path], upper: &Path, work: &Path, target: &Path) -> Result<()> {
    let fail = |errno: Errno, log: String| Error::Overlay {
        target: target.to_path_buf(),
        source: errno.into(),
        detail: detail(errno, &log),
    };
    if !kernel_at_least(6, 8) {
        if let Some(bad) = lower.iter().find(|l| l.to_string_lossy().contains(',')) {
            let why = format!(
                "lower layer {} contains ',', which kernels before 6.8 cannot take",
                bad.display()
            );
            return Err(fail(Errno::EINVAL, why));
        }
    }
    if lower.is_empty() {
        return Err(fail(
            Errno::EINVAL,
            "at least one lower layer is needed".into(),
        ));
    }
    // fsconfig(2) takes string values of at most 256 bytes (strndup_user), so before 6.8 a
    // long joined `lowerdir` (a few layers of long paths) cannot go that way: mount(2) takes
    // a page of options.
    if !kernel_at_least(6, 8) {
        let joined = lower
            .iter()
            .map(|l| path_str(l).map(escape))
            .collect::<nix::Result<Vec<_>>>()
            .map_err(|e| fail(e, String::new()))?
            .join(":");
        if joined.len() > 255 {
            let data = format!(
                "lowerdir={joined},upperdir={},workdir={}",
                path_str(upper).map_err(|e| fail(e, String::new()))?,
                path_str(work).map_err(|e| fail(e, String::new()))?
            );
            return nix::mount::mount(
                Some("overlay"),
                target,
                Some("overlay"),
                nix::mount::MsFlags::empty(),
                Some(data.as_str()),
            )
            .map_err(|e| fail(e, String::new()));
        }
    }
    let fs = sys::fsopen(
        &cstr("overlay").map_err(|e| fail(e, String::new()))?,
        libc::FSOPEN_CLOEXEC,
    )
    .map_err(|e| {
        let hint = if e == Errno::ENODEV {
            "is the overlay module loaded?".to_string()
        } else {
            String::new()
        };
        fail(e, hint)
    })?;
    let fd = fs.as_fd();
    let configure = || -> nix::Result<()> {
        mount_api::set_string(fd, "source", "overlay")?;
        // Before Linux 6.8 overlayfs has no "lowerdir+"; and before 6.5 it takes its options
        // through the legacy string, where setting an unknown key still succeeds, so the
        // kernel version decides rather than a failed attempt.
        let one_by_one = kernel_at_least(6, 8);
        if one_by_one {
            for l in lower {
                mount_api::set_string(fd, "lowerdir+", path_str(l)?)?;
            }
        } else {
            let joined = lower
                .iter()
                .map(|l| path_str(l).map(escape))
                .collect::<nix::Result<Vec<_>>>()?
                .join(":");
            mount_api::set_string(fd, "lowerdir", &joined)?;
        }
        mount_api::set_string(fd, "upperdir", path_str(upper)?)?;
        mount_api::set_string(fd, "workdir", path_str(work)?)?;
        sys::fsconfig(fd, libc::FSCONFIG_CMD_CREATE, None, None)
    };
    configure().map_err(|e| fail(e, mount_api::read_log(fd)))?;
    let mnt =
        sys::fsmount(fd, libc::FSMOUNT_CLOEXEC, 0).map_err(|e| fail(e, mount_api::read_log(fd)))?;
    mount_api::attach_path(mnt.as_fd(), target).map_err(|e| fail(e, String::new()))
}

fn path_str(p: &Path) -> nix::Result<&str> {
    p.to_str().ok_or(Errno::EINVAL)
}

/// Whether the running kernel is at least `major.minor` (from /proc/sys/kernel/osrelease).
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (major, minor)
}

/// Escapes `\`, `:` and `,` for overlayfs's `lowerdir` list.
fn escape(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for c in p.chars() {
        if matches!(c, '\\' | ':' | ',') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowerdir_separators_are_escaped() {
        assert_eq!(escape("/l/a:b,c\\d"), "/l/a\\:b\\,c\\\\d");
        assert_eq!(escape("/plain"), "/plain");
    }

    #[test]
    fn no_lower_layer_is_an_error() {
        let err =
            mount_overlay(&[], Path::new("/u"), Path::new("/w"), Path::new("/t")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot mount overlay on /t: invalid argument"),
            "{err}"
        );
    }
}
