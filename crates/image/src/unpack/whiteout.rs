//! OCI whiteouts (image-spec `layer.md`, "Whiteouts" and "Opaque Whiteout"), in the two
//! forms a layer can be unpacked to:
//!
//! - [`UnpackMode::Overlay`](super::UnpackMode::Overlay): the layer stays a layer, to be an
//!   overlayfs lower directory. `.wh.NAME` becomes a character device `NAME` with device
//!   number 0/0 (overlayfs's whiteout), owned by the layer's entry owner and mode 0; the
//!   directory holding `.wh..wh..opq` gets the xattr `trusted.overlay.opaque` = `y`.
//! - [`UnpackMode::Apply`](super::UnpackMode::Apply): layers are applied one after another
//!   into one directory, as `umoci unpack` does. `.wh.NAME` removes `NAME` (recursively,
//!   never following a symlink); `.wh..wh..opq` removes every child of its directory that
//!   this layer did not make itself (the spec: a whiteout hides only lower layers' content).
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
use super::safe::{empty_dir, fset_xattr, remove_all};
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
            UnpackMode::Apply => {
                let Some((name, up)) = dirs.split_last() else {
                    // The root made opaque: empty it of the lower layers' content.
                    return self.empty_root(entry);
                };
                let made = &self.cx.made;
                let prefix = join(dirs);
                let remove = |child: &[u8]| {
                    let mut p = prefix.clone();
                    p.push(b'/');
                    p.extend_from_slice(child);
                    !made.contains(&p)
                };
                let up_fd = match parent(&mut self.tree, &mut self.cx.dirty, up, false, entry) {
                    Ok(p) => p,
                    Err(_) => return Ok(()),
                };
                match empty_dir(up_fd.as_fd(), name, &remove) {
                    Ok(()) | Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => {}
                    Err(e) => {
                        return Err(UnpackError::sys(entry, "empty the opaque directory", e));
                    }
                }
                self.cx.dirty = true;
                Ok(())
            }
        }
    }

    fn empty_root(&mut self, entry: &str) -> Result<(), UnpackError> {
        let made = &self.cx.made;
        let root = self.tree.root();
        let remove = |child: &[u8]| !made.contains(child);
        // "." in the root's fd: the root itself (an O_PATH fd of a directory).
        empty_dir(root, b".", &remove)
            .map_err(|e| UnpackError::sys(entry, "empty the opaque root", e))?;
        self.cx.dirty = true;
        Ok(())
    }
}
