//! OCI whiteouts (image-spec `layer.md`, "Whiteouts" and "Opaque Whiteout"), in the two
//! forms a layer can be unpacked to:
//!
//! - [`UnpackMode::Overlay`](super::UnpackMode::Overlay): the layer stays a layer, to be an
//!   overlayfs lower directory. `.wh.NAME` becomes a character device `NAME` with device
//!   number 0/0 (overlayfs's whiteout), owned by the layer's entry owner and mode 0; the
//!   directory holding `.wh..wh..opq` gets the xattr `trusted.overlay.opaque` = `y`.
//! - [`UnpackMode::Apply`](super::UnpackMode::Apply): layers are applied one after another
//!   into one directory, as `umoci unpack` does. `.wh.NAME` removes `NAME` (recursively,
//!   never following a symlink); `.wh..wh..opq` removes from its directory, and from the
//!   directories this layer made below it, everything this layer did not make itself (the
//!   spec: a whiteout hides only the lower layers' content).
//!
//! In both modes the whiteout files themselves are never created. A whiteout's parent is
//! resolved inside the root like any entry's (in Apply mode without creating it: there is
//! nothing to hide in a directory that is not there).

use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, SFlag};
use std::os::fd::AsFd;

use super::UnpackMode;
use super::error::UnpackError;
use super::path::{Components, join};
use super::safe::{fset_xattr, open_beneath, remove_all, remove_children};
use super::write::{Meta, Unpacker, parent};

/// The overlayfs xattr that marks a directory opaque.
pub const OPAQUE_XATTR: &[u8] = b"trusted.overlay.opaque";

impl Unpacker<'_> {
    /// `.wh.HIDDEN` in the directory `dirs`.
    pub(crate) fn whiteout(
        &mut self,
        dirs: &[&[u8]],
        hidden: &[u8],
        meta: &Meta,
        entry: &str,
    ) -> Result<(), UnpackError> {
        if hidden.is_empty() || hidden == b"." || hidden == b".." || hidden.contains(&b'/') {
            return Err(UnpackError::InvalidPath {
                entry: entry.to_owned(),
                reason: "a whiteout that names nothing",
            });
        }
        self.cx.report.whiteouts += 1;
        match self.cx.opts.mode {
            UnpackMode::Overlay => {
                let mut comps: Components<'_> = dirs.to_vec();
                comps.push(hidden);
                let meta = Meta {
                    mode: 0,
                    xattrs: Vec::new(),
                    ..meta.clone()
                };
                self.node(&comps, SFlag::S_IFCHR, (0, 0), &meta, entry)?;
                // Counted as a whiteout, not a device.
                self.cx.report.devices -= 1;
                Ok(())
            }
            UnpackMode::Apply => {
                let mut comps: Components<'_> = dirs.to_vec();
                comps.push(hidden);
                if self.cx.made.contains(&join(&comps)) {
                    return Ok(());
                }
                let parent = match parent(&mut self.tree, &mut self.cx.dirty, dirs, false, entry) {
                    Ok(p) => p,
                    Err(UnpackError::Io { source, .. })
                        if matches!(
                            source.raw_os_error(),
                            Some(libc::ENOENT) | Some(libc::ENOTDIR)
                        ) =>
                    {
                        return Ok(());
                    }
                    Err(e) => return Err(e),
                };
                remove_all(parent.as_fd(), hidden)
                    .map_err(|e| UnpackError::sys(entry, "remove the whited-out entry", e))?;
                self.cx.dirty = true;
                Ok(())
            }
        }
    }

    /// `.wh..wh..opq` in the directory `dirs`.
    pub(crate) fn opaque(&mut self, dirs: &[&[u8]], entry: &str) -> Result<(), UnpackError> {
        self.cx.report.opaques += 1;
        match self.cx.opts.mode {
            UnpackMode::Overlay => {
                let dir = parent(&mut self.tree, &mut self.cx.dirty, dirs, true, entry)?;
                let fd = openat(
                    dir.as_fd(),
                    ".",
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| UnpackError::sys(entry, "open the opaque directory", e))?;
                fset_xattr(fd.as_fd(), OPAQUE_XATTR, b"y")
                    .map_err(|e| UnpackError::sys(entry, "set xattr trusted.overlay.opaque", e))
            }
            UnpackMode::Apply => self.apply_opaque(dirs, entry),
        }
    }

    /// Apply mode: removes from the directory `dirs`, and from each directory this layer
    /// made below it, whatever this layer did not make. A directory is pruned once per layer.
    /// The opaque directory is resolved inside the root, its last component not followed;
    /// the directories below it only if no symlink leads there (`RESOLVE_BENEATH |
    /// RESOLVE_NO_SYMLINKS`): pruning never goes through a symlink.
    fn apply_opaque(&mut self, dirs: &[&[u8]], entry: &str) -> Result<(), UnpackError> {
        let key = join(dirs);
        if !self.cx.opaque_done.insert(key.clone()) {
            return Ok(());
        }
        let err = |e| UnpackError::sys(entry, "empty the opaque directory", e);
        let top = match self.tree.resolve_nofollow(dirs) {
            Ok(fd) => fd,
            Err(Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP) => return Ok(()),
            Err(e) => return Err(err(e)),
        };
        self.cx.dirty = true;
        let prefix = if key.is_empty() {
            Vec::new()
        } else {
            [key.as_slice(), b"/"].concat()
        };
        let made = &self.cx.made;
        let lower = |prefix: &[u8], child: &[u8]| !made.contains(&[prefix, child].concat());
        remove_children(top.as_fd(), &|c| lower(&prefix, c)).map_err(err)?;
        let below = made
            .range(prefix.clone()..)
            .take_while(|p| p.starts_with(&prefix));
        for path in below {
            let Ok(fd) = open_beneath(top.as_fd(), &path[prefix.len()..]) else {
                continue;
            };
            let sub = [path.as_slice(), b"/"].concat();
            remove_children(fd.as_fd(), &|c| lower(&sub, c)).map_err(err)?;
        }
        Ok(())
    }
}
