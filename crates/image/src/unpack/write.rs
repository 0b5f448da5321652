//! One tar entry made real inside the root: created by its parent's fd and its own name,
//! never by a joined path, and its owner, mode, xattrs and times set on an fd of the new
//! object or with no-follow `*at` calls.
//!
//! Order per object, because each step can undo an earlier one: data, then owner (chown
//! clears setuid/setgid and `security.capability`), then mode, then xattrs, then times.
//! Directories get their mode and times last, after everything inside them was made (so a
//! read-only directory can still be filled, and its mtime is the archive's).

use std::collections::{BTreeSet, HashSet};
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{
    FchmodatFlags, Mode, SFlag, UtimensatFlags, fchmod, fchmodat, futimens, makedev, mknodat,
    utimensat,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, fchown, fchownat, linkat, symlinkat};

use super::error::UnpackError;
use super::path::{Components, clean, join};
use super::safe::{Tree, cname, fset_xattr, kind_of, lset_xattr_at, remove_all};
use super::{UnpackMode, UnpackOptions, UnpackReport, Xattrs};

/// What the header says about an object, parsed once.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) mtime: i64,
    pub(crate) xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A directory whose mode and times are set at the end.
#[derive(Debug)]
struct DeferredDir {
    path: Vec<u8>,
    mode: u32,
    mtime: i64,
}

/// The state of one unpack: the tree, and the rest (apart, so that a parent fd borrowed
/// from the tree can be used while the rest changes).
#[derive(Debug)]
pub(crate) struct Unpacker<'o> {
    pub(crate) tree: Tree,
    pub(crate) cx: Cx<'o>,
}

/// Everything but the tree.
#[derive(Debug)]
pub(crate) struct Cx<'o> {
    pub(crate) opts: &'o UnpackOptions,
    pub(crate) report: UnpackReport,
    /// Something was removed: the parent cache is cleared before the next resolution.
    pub(crate) dirty: bool,
    /// Apply mode: the paths this layer made, which its own whiteouts and opaque markers
    /// must not remove (they hide the lower layers only). Ordered, for the paths below a
    /// directory.
    pub(crate) made: BTreeSet<Vec<u8>>,
    /// Apply mode: the opaque directories already pruned in this layer.
    pub(crate) opaque_done: HashSet<Vec<u8>>,
    dirs: Vec<DeferredDir>,
    buf: Vec<u8>,
}

impl<'o> Unpacker<'o> {
    pub(crate) fn new(tree: Tree, opts: &'o UnpackOptions) -> Self {
        Self {
            tree,
            cx: Cx {
                opts,
                report: UnpackReport::default(),
                dirty: false,
                made: BTreeSet::new(),
                opaque_done: HashSet::new(),
                dirs: Vec::new(),
                buf: vec![0; 256 * 1024],
            },
        }
    }

    /// A regular file with `size` bytes from `data`.
    pub(crate) fn file(
        &mut self,
        comps: &Components<'_>,
        meta: &Meta,
        data: &mut dyn Read,
        size: u64,
        entry: &str,
    ) -> Result<(), UnpackError> {
        let (dirs, name) = split(comps, entry)?;
        let mut buf = std::mem::take(&mut self.cx.buf);
        let result = (|| {
            let parent = parent(&mut self.tree, &mut self.cx.dirty, dirs, true, entry)?;
            let fd = create_replacing(parent.as_fd(), name, entry, &mut self.cx.dirty, |p, n| {
                openat(
                    p,
                    n,
                    OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_WRONLY
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )
            })?;
            let mut file = std::fs::File::from(fd);
            let mut got: u64 = 0;
            loop {
                let n = match data.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(UnpackError::io(entry, "read its data", e)),
                };
                file.write_all(&buf[..n])
                    .map_err(|e| UnpackError::io(entry, "write its data", e))?;
                got += n as u64;
            }
            if got != size {
                return Err(UnpackError::Truncated {
                    entry: entry.to_owned(),
                    declared: size,
                    got,
                });
            }
            self.cx.report.bytes += got;
            self.cx.set_meta_fd(file.as_fd(), meta, entry, true)
        })();
        self.cx.buf = buf;
        result?;
        self.cx.report.files += 1;
        self.cx.made(comps);
        Ok(())
    }

    /// A directory (or, for the root entry `./`, the root's metadata).
    pub(crate) fn dir(
        &mut self,
        comps: &Components<'_>,
        meta: &Meta,
        entry: &str,
    ) -> Result<(), UnpackError> {
        let fd = if comps.is_empty() {
            openat(
                self.tree.root(),
                ".",
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| UnpackError::sys(entry, "open the root", e))?
        } else {
            let (dirs, name) = split(comps, entry)?;
            let parent = parent(&mut self.tree, &mut self.cx.dirty, dirs, true, entry)?;
            let p = parent.as_fd();
            let c = cname(name).map_err(|e| UnpackError::sys(entry, "name it", e))?;
            match mkdirat(p, &c) {
                Ok(()) => {}
                Err(Errno::EEXIST) => {
                    let kind = kind_of(p, name).map_err(|e| UnpackError::sys(entry, "stat", e))?;
                    if kind != Some(SFlag::S_IFDIR) {
                        // A file or a symlink (perhaps to outside) in the way: replace it.
                        remove_all(p, name)
                            .map_err(|e| UnpackError::sys(entry, "remove what is in the way", e))?;
                        self.cx.dirty = true;
                        mkdirat(p, &c).map_err(|e| UnpackError::sys(entry, "create it", e))?;
                    }
                }
                Err(e) => return Err(UnpackError::sys(entry, "create it", e)),
            }
            openat(
                p,
                c.as_c_str(),
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| UnpackError::sys(entry, "open it", e))?
        };
        self.cx.set_meta_fd(fd.as_fd(), meta, entry, false)?;
        self.cx.dirs.push(DeferredDir {
            path: join(comps),
            mode: meta.mode,
            mtime: meta.mtime,
        });
        self.cx.report.dirs += 1;
        self.cx.made(comps);
        Ok(())
    }

    /// A symlink to `target` (stored verbatim: it is only data until something follows it,
    /// and nothing here ever does).
    pub(crate) fn symlink(
        &mut self,
        comps: &Components<'_>,
        target: &[u8],
        meta: &Meta,
        entry: &str,
    ) -> Result<(), UnpackError> {
        let (dirs, name) = split(comps, entry)?;
        let target = cname(target).map_err(|e| UnpackError::sys(entry, "name its target", e))?;
        let parent = parent(&mut self.tree, &mut self.cx.dirty, dirs, true, entry)?;
        let p = parent.as_fd();
        create_replacing(p, name, entry, &mut self.cx.dirty, |p, n| {
            symlinkat(target.as_c_str(), p, n)
        })?;
        self.cx.set_meta_at(p, name, meta, entry, false)?;
        self.cx.report.symlinks += 1;
        self.cx.made(comps);
        Ok(())
    }

    /// A hard link to `target`, an entry already in the root (cleaned like a path, resolved
    /// inside the root; its last component is not followed: a link to a symlink links the
    /// symlink, as tar does).
    pub(crate) fn hardlink(
        &mut self,
        comps: &Components<'_>,
        target: &[u8],
        entry: &str,
    ) -> Result<(), UnpackError> {
        let (dirs, name) = split(comps, entry)?;
        let tcomps = clean(target, entry, "hard link target")?;
        let Some((tname, tdirs)) = tcomps.split_last() else {
            return Err(UnpackError::InvalidPath {
                entry: entry.to_owned(),
                reason: "a hard link to the root",
            });
        };
        let tparent: OwnedFd = self
            .tree
            .resolve(tdirs)
            .map_err(|e| UnpackError::sys(entry, "resolve the hard link target's directory", e))?;
        let tc = cname(tname).map_err(|e| UnpackError::sys(entry, "name its target", e))?;
        let parent = parent(&mut self.tree, &mut self.cx.dirty, dirs, true, entry)?;
        let p = parent.as_fd();
        create_replacing(p, name, entry, &mut self.cx.dirty, |p, n| {
            linkat(&tparent, tc.as_c_str(), p, n, AtFlags::empty())
        })?;
        self.cx.report.hardlinks += 1;
        self.cx.made(comps);
        Ok(())
    }

    /// A character or block device, or a fifo (`kind`).
    pub(crate) fn node(
        &mut self,
        comps: &Components<'_>,
        kind: SFlag,
        dev: (u64, u64),
        meta: &Meta,
        entry: &str,
    ) -> Result<(), UnpackError> {
        let (dirs, name) = split(comps, entry)?;
        let parent = parent(&mut self.tree, &mut self.cx.dirty, dirs, true, entry)?;
        let p = parent.as_fd();
        let dev = makedev(dev.0, dev.1);
        create_replacing(p, name, entry, &mut self.cx.dirty, |p, n| {
            mknodat(p, n, kind, Mode::from_bits_truncate(0o600), dev)
        })?;
        self.cx.set_meta_at(p, name, meta, entry, true)?;
        if kind == SFlag::S_IFIFO {
            self.cx.report.fifos += 1;
        } else {
            self.cx.report.devices += 1;
        }
        self.cx.made(comps);
        Ok(())
    }

    /// Sets every directory's mode and times, last made first (children before their
    /// parents), so that setting a child's times never disturbs its parent's. A directory
    /// gone since (replaced by a later entry, whited out) is skipped.
    pub(crate) fn finish_dirs(&mut self) -> Result<(), UnpackError> {
        let dirs = std::mem::take(&mut self.cx.dirs);
        for d in dirs.iter().rev() {
            let comps: Vec<&[u8]> = if d.path.is_empty() {
                Vec::new()
            } else {
                d.path.split(|&b| b == b'/').collect()
            };
            let entry = String::from_utf8_lossy(&d.path).into_owned();
            // Not following a final symlink: a directory replaced by a symlink is gone.
            let fd = match self.tree.resolve_nofollow(&comps) {
                Ok(fd) => fd,
                Err(Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP) => continue,
                Err(e) => return Err(UnpackError::sys(&entry, "reopen the directory", e)),
            };
            fchmod(&fd, mode(d.mode))
                .map_err(|e| UnpackError::sys(&entry, format!("chmod {:o}", d.mode), e))?;
            let t = TimeSpec::new(d.mtime, 0);
            futimens(&fd, &t, &t).map_err(|e| UnpackError::sys(&entry, "set its times", e))?;
        }
        Ok(())
    }
}

/// The directory `comps` (created as needed with `create`), resolved inside the root; the
/// parent cache is cleared first if anything was removed since the last resolution.
pub(crate) fn parent<'t>(
    tree: &'t mut Tree,
    dirty: &mut bool,
    comps: &[&[u8]],
    create: bool,
    entry: &str,
) -> Result<super::safe::Dir<'t>, UnpackError> {
    if std::mem::take(dirty) {
        tree.invalidate();
    }
    tree.dir(comps, create)
        .map_err(|e| UnpackError::sys(entry, "resolve its parent directory inside the root", e))
}

impl Cx<'_> {
    /// Notes that `comps` was made by this layer (Apply mode only).
    pub(crate) fn made(&mut self, comps: &[&[u8]]) {
        if self.opts.mode == UnpackMode::Apply {
            self.made.insert(join(comps));
        }
    }

    /// Owner, then xattrs, and with `file` also mode (before the xattrs) and times, on an
    /// open object (directories get mode and times in [`Unpacker::finish_dirs`]).
    fn set_meta_fd(
        &mut self,
        fd: BorrowedFd<'_>,
        meta: &Meta,
        entry: &str,
        times: bool,
    ) -> Result<(), UnpackError> {
        if self.opts.ownership {
            fchown(
                fd,
                Some(Uid::from_raw(meta.uid)),
                Some(Gid::from_raw(meta.gid)),
            )
            .map_err(|e| {
                UnpackError::sys(entry, format!("chown to {}:{}", meta.uid, meta.gid), e)
            })?;
        }
        if times {
            fchmod(fd, mode(meta.mode))
                .map_err(|e| UnpackError::sys(entry, format!("chmod {:o}", meta.mode), e))?;
        }
        for (name, value) in self.wanted(&meta.xattrs, false) {
            fset_xattr(fd, name, value).map_err(|e| xattr_error(entry, name, e))?;
        }
        if times {
            let t = TimeSpec::new(meta.mtime, 0);
            futimens(fd, &t, &t).map_err(|e| UnpackError::sys(entry, "set its times", e))?;
        }
        Ok(())
    }

    /// The same for `name` in `dir`, never following it: symlinks, devices and fifos.
    fn set_meta_at(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        meta: &Meta,
        entry: &str,
        chmod: bool,
    ) -> Result<(), UnpackError> {
        let c = cname(name).map_err(|e| UnpackError::sys(entry, "name it", e))?;
        if self.opts.ownership {
            fchownat(
                dir,
                c.as_c_str(),
                Some(Uid::from_raw(meta.uid)),
                Some(Gid::from_raw(meta.gid)),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(|e| {
                UnpackError::sys(entry, format!("chown to {}:{}", meta.uid, meta.gid), e)
            })?;
        }
        if chmod {
            // glibc does AT_SYMLINK_NOFOLLOW with fchmodat2 or, on older kernels, an O_PATH
            // fd and /proc/self/fd, refusing a symlink: never a chmod through one.
            fchmodat(
                dir,
                c.as_c_str(),
                mode(meta.mode),
                FchmodatFlags::NoFollowSymlink,
            )
            .map_err(|e| UnpackError::sys(entry, format!("chmod {:o}", meta.mode), e))?;
        }
        for (xname, value) in self.wanted(&meta.xattrs, true) {
            lset_xattr_at(dir, name, xname, value).map_err(|e| xattr_error(entry, xname, e))?;
        }
        let t = TimeSpec::new(meta.mtime, 0);
        utimensat(dir, c.as_c_str(), &t, &t, UtimensatFlags::NoFollowSymlink)
            .map_err(|e| UnpackError::sys(entry, "set its times", e))?;
        Ok(())
    }

    /// The xattrs the options let through. `trusted.overlay.*` never comes from a tar: it
    /// would steer overlayfs (redirects, metacopy, opaque) from inside a layer. On a
    /// symlink, device or fifo (`special`) `user.*` is left out: the kernel allows it only
    /// on regular files and directories.
    fn wanted<'m>(
        &mut self,
        xattrs: &'m [(Vec<u8>, Vec<u8>)],
        special: bool,
    ) -> impl Iterator<Item = (&'m [u8], &'m [u8])> + use<'m> {
        let policy = self.opts.xattrs;
        let mut skipped = 0;
        let kept: Vec<(&'m [u8], &'m [u8])> = xattrs
            .iter()
            .filter(|(n, _)| {
                let refused =
                    n.starts_with(b"trusted.overlay.") || (special && n.starts_with(b"user."));
                let keep = !refused
                    && match policy {
                        Xattrs::All => true,
                        Xattrs::User => n.starts_with(b"user."),
                        Xattrs::None => false,
                    };
                if !keep {
                    skipped += 1;
                }
                keep
            })
            .map(|(n, v)| (n.as_slice(), v.as_slice()))
            .collect();
        self.report.xattrs_skipped += skipped;
        self.report.xattrs += kept.len() as u64;
        kept.into_iter()
    }
}

/// `mkdirat` with 0700: the real mode is set last.
fn mkdirat(dir: BorrowedFd<'_>, name: &std::ffi::CStr) -> nix::Result<()> {
    nix::sys::stat::mkdirat(dir, name, Mode::from_bits_truncate(0o700))
}

/// The permission bits (with setuid, setgid, sticky) of a tar mode.
fn mode(m: u32) -> Mode {
    Mode::from_bits_truncate(m & 0o7777)
}

fn xattr_error(entry: &str, name: &[u8], e: Errno) -> UnpackError {
    UnpackError::sys(
        entry,
        format!("set xattr {}", String::from_utf8_lossy(name)),
        e,
    )
}

/// The parent components and the final name; the root is not a valid target here.
pub(crate) fn split<'c, 'a>(
    comps: &'c Components<'a>,
    entry: &str,
) -> Result<(&'c [&'a [u8]], &'a [u8]), UnpackError> {
    match comps.split_last() {
        Some((name, dirs)) => Ok((dirs, name)),
        None => Err(UnpackError::InvalidPath {
            entry: entry.to_owned(),
            reason: "only a directory can name the root",
        }),
    }
}

/// Runs `create(dir, name)`; if something is already there, removes it (recursively, never
/// following it: a later entry replaces an earlier one, as in docker) and tries once more.
pub(crate) fn create_replacing<T>(
    dir: BorrowedFd<'_>,
    name: &[u8],
    entry: &str,
    dirty: &mut bool,
    create: impl Fn(BorrowedFd<'_>, &std::ffi::CStr) -> nix::Result<T>,
) -> Result<T, UnpackError> {
    let c = cname(name).map_err(|e| UnpackError::sys(entry, "name it", e))?;
    match create(dir, c.as_c_str()) {
        Err(Errno::EEXIST) => {}
        Ok(t) => return Ok(t),
        Err(e) => return Err(UnpackError::sys(entry, "create it", e)),
    }
    remove_all(dir, name).map_err(|e| UnpackError::sys(entry, "remove what is in the way", e))?;
    *dirty = true;
    create(dir, c.as_c_str()).map_err(|e| UnpackError::sys(entry, "create it", e))
}
