//! The mount points a RUN container needs that its image lacks (`/etc/hosts`,
//! `/etc/hostname`, `/etc/resolv.conf`, `/proc`… on a bare image): the runtime creates them
//! in the overlay's upper directory, and they are not the command's changes, so they are
//! taken out of the layer again, as buildah and docker do. So is a directory the overlay
//! copied up only because a mount point was made in it (same owner and mode, empty).

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;

/// What existed before the RUN, along the paths of its mount points.
#[derive(Debug, Default)]
pub(crate) struct MountPoints {
    /// Mount points (and their parents) that did not exist: deepest first.
    missing: Vec<PathBuf>,
    /// Parents that existed, with (mode, uid, gid).
    existing: Vec<(PathBuf, (u32, u32, u32))>,
}

impl MountPoints {
    /// Looks at `destinations` (absolute) inside `root` before the RUN.
    pub(crate) fn before(root: &OwnedFd, destinations: &[String]) -> Self {
        let mut out = Self::default();
        for dest in destinations {
            let path = Path::new(dest);
            for p in path.ancestors().filter(|p| *p != Path::new("/")) {
                if out.missing.iter().any(|m| m == p) || out.existing.iter().any(|(e, _)| e == p) {
                    continue;
                }
                match peapod_rootfs::open_in_root(
                    root.as_fd(),
                    p,
                    OFlag::O_PATH | OFlag::O_NOFOLLOW,
                ) {
                    Ok(fd) => {
                        if p != path
                            && let Ok(st) = nix::sys::stat::fstat(&fd)
                        {
                            out.existing.push((
                                p.to_path_buf(),
                                (st.st_mode & 0o7777, st.st_uid, st.st_gid),
                            ));
                        }
                    }
                    Err(_) => out.missing.push(p.to_path_buf()),
                }
            }
        }
        out.missing
            .sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        out.existing
            .sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
        out
    }

    /// Removes from `upper` (unmounted) the mount points made for the RUN, and directories
    /// copied up only for them. Best effort: what cannot be removed stays in the layer.
    pub(crate) fn tidy(&self, upper: &Path) {
        let in_upper = |p: &Path| upper.join(p.strip_prefix("/").unwrap_or(p));
        for p in &self.missing {
            let u = in_upper(p);
            match std::fs::symlink_metadata(&u) {
                Ok(m) if m.is_file() && m.len() == 0 => {
                    let _ = std::fs::remove_file(&u);
                }
                Ok(m) if m.is_dir() => {
                    let _ = std::fs::remove_dir(&u);
                }
                _ => {}
            }
        }
        for (p, (mode, uid, gid)) in &self.existing {
            let u = in_upper(p);
            if let Ok(m) = std::fs::symlink_metadata(&u)
                && m.is_dir()
                && m.permissions().mode() & 0o7777 == *mode
                && (m.uid(), m.gid()) == (*uid, *gid)
                && xattr_free(&u)
            {
                let _ = std::fs::remove_dir(&u);
            }
        }
    }
}

/// Whether `dir` has no xattr but overlayfs's own bookkeeping (an opaque directory is a
/// change to keep).
fn xattr_free(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    let mut buf = [0u8; 64];
    // nix has no xattr calls: raw libc.
    // SAFETY: `c` is NUL-terminated and `buf` is valid for its length.
    let rc = unsafe {
        libc::lgetxattr(
            c.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    rc < 0
}
