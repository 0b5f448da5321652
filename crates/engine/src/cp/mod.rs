//! `peapod cp`: copies between the host and a container's root filesystem (a directory the
//! engine has mounted), as `docker container cp` does, both ways, as files and trees or as a
//! tar stream (`-`).
//!
//! **docker's rules**, followed here:
//!
//! - A container path is read from the container's `/` (a leading `/` is optional) and
//!   cleaned lexically; ending it with `/` asserts a directory, ending it with `/.` means the
//!   directory's contents rather than the directory.
//! - Source: a symlink is copied as a symlink unless `-L` (follow) is given or the path ends
//!   with `/`; with `-L` the target's content is copied under the link's name.
//! - Destination: an existing directory receives the source inside it (under the source's
//!   name; with `/.` the contents themselves); an existing file is replaced by a file source
//!   and refuses a directory ([`CpError::CannotCopyDirectory`]); a missing path is created
//!   with that name, which needs its parent to exist ([`CpError::NotFound`]), and a missing
//!   path ending with `/` refuses a file source ([`CpError::NoSuchDirectory`]). A destination
//!   symlink is followed. Extraction never replaces a directory with a non-directory or the
//!   reverse ([`CpError::Overwrite`]) in the container.
//! - A tar stream from stdin (`-`) is extracted into the destination, which must be an
//!   existing directory; a tar stream to stdout holds the source under its own name.
//! - Ownership: copied into the container, entries keep the owners the tar or the host files
//!   give them; `-a` ([`CopyInOptions::owner`]) gives them the container user's uid and gid
//!   instead (docker's actual `-a`, docker/cli#6870). Copied out, files belong to the calling
//!   user (docker's client extracts with `NoLchown`); a tar stream out keeps the container's
//!   owners. A caller that is not root cannot give files away: its copies in are its own.
//!
//! **Symlinks in the container never reach the host.** Every container path is resolved with
//! `openat2(RESOLVE_IN_ROOT)` semantics (`peapod_rootfs::open_in_root`): `/etc -> /` or
//! `../../..` stay inside the root. Trees are read by directory fds, entry by entry with
//! `O_NOFOLLOW` (`tree.rs`), and written by `peapod-image`'s unpacker, which resolves every
//! parent inside the root it is given (the container's root for copies in, so a symlink the
//! tar meets resolves as in a chroot; the host directory for copies out) and never writes
//! through a final symlink. A tar stream in may not name `..` above its root, nor
//! `.wh.`-prefixed names (the unpacker would read them as layer whiteouts).
//!
//! Known limits: extended attributes are not copied (docker copies `security.capability`
//! out; PAX xattr records of a tar stream in are dropped); sparse files are copied in full,
//! and GNU sparse entries in a stream are refused; a copy that fails midway (an unreadable
//! file, a refused entry) leaves what it had extracted, as docker's does.
//!
//! Dependencies: `tar` (the stream format; the workspace's choice), `peapod-image`'s
//! unpacker (the project's safe extraction, reused rather than written again),
//! `peapod-rootfs`'s `open_in_root`, and `nix` for the `*at` calls. Writing and extracting run
//! on two threads joined by a pipe (`std::io::pipe`), both ended before the call returns.

mod extract;
#[cfg(test)]
mod tests;
mod tree;

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, readlinkat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat};
use peapod_image::unpack::{UnpackError, UnpackMode, UnpackOptions};

use extract::{Overwrite, extract_into_container, pipe_into, rebase_stream};
use tree::{Opened, TarOut, kind, open_child, reopened};

/// A copy that could not be made. The messages name the path (in the container for
/// container paths) and the cause; the CLI turns [`CpError::NotFound`] into docker's
/// `Could not find the file … in container …`.
#[derive(Debug, thiserror::Error)]
pub enum CpError {
    /// The source, or the destination's parent directory, does not exist.
    #[error("no such file or directory: {0}")]
    NotFound(String),
    /// A path ending with `/` (or `/.`) names something that is not a directory.
    #[error("{0} is not a directory")]
    NotADirectory(String),
    /// A tar stream's destination is not an existing directory.
    #[error("destination {0} must be a directory")]
    DestinationNotDirectory(String),
    /// The destination exists and is neither a directory nor a regular file.
    #[error("destination {0} must be a directory or a regular file")]
    DestinationType(String),
    /// A directory source onto an existing file.
    #[error("cannot copy a directory onto the file {0}")]
    CannotCopyDirectory(String),
    /// A file source onto a missing path ending with `/`.
    #[error("destination directory {0} does not exist")]
    NoSuchDirectory(String),
    /// Extraction would replace a directory with a non-directory, or the reverse.
    #[error("cannot overwrite {existing} {path} with a {new}")]
    Overwrite {
        /// The path in the container.
        path: String,
        /// `directory` or `non-directory`: what is there.
        existing: &'static str,
        /// What the copy brings.
        new: &'static str,
    },
    /// A tar stream's entry names `..` above its root or a reserved `.wh.` name.
    #[error("invalid entry {path} in the tar stream: {why}")]
    InvalidEntry {
        /// The entry's name as the tar spells it.
        path: PathBuf,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A path could not be resolved or opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The path (in the container for container paths).
        path: String,
        /// The kernel's answer.
        source: Errno,
    },
    /// An entry of the tree being copied could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The entry, as named in the copy.
        path: PathBuf,
        /// The kernel's answer.
        source: Errno,
    },
    /// Writing the tar stream (or reading one in) failed.
    #[error("cannot archive {path:?}: {source}")]
    Archive {
        /// The entry, as named in the copy (empty for the stream itself).
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Extracting failed (the unpacker names the entry and the cause).
    #[error("cannot extract the copy: {0}")]
    Extract(#[from] UnpackError),
}

/// Options of a copy into the container.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyInOptions {
    /// `-a`: give every entry this uid and gid (the container user's). `None`: keep the
    /// owners the source has.
    pub owner: Option<(u32, u32)>,
}

/// A path as docker reads it: lexically cleaned, from `/` for a container path, and what
/// its ending asks.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Spec {
    /// The cleaned path (absolute for container paths).
    path: PathBuf,
    /// Ends with `/` or `/.` (or is `.`): must be a directory, and a symlink is followed.
    asserts_dir: bool,
    /// Ends with `/.` (or is `.`): the directory's contents.
    contents: bool,
}

impl Spec {
    fn container(raw: &str) -> Spec {
        Self::parse(Path::new(raw), Path::new("/"))
    }

    fn host(raw: &Path) -> Spec {
        Self::parse(raw, Path::new(""))
    }

    /// `raw` cleaned, from `base` when relative (bytes, not text: host paths need not be
    /// UTF-8).
    fn parse(raw: &Path, base: &Path) -> Spec {
        let bytes = raw.as_os_str().as_bytes();
        let contents = bytes == b"." || bytes.ends_with(b"/.");
        let mut path = base.to_path_buf();
        for c in raw.components() {
            match c {
                Component::RootDir => path = PathBuf::from("/"),
                Component::Normal(n) => path.push(n),
                Component::ParentDir if path.file_name().is_some() => {
                    path.pop();
                }
                Component::ParentDir if !path.has_root() => path.push(".."),
                _ => {}
            }
        }
        if path.as_os_str().is_empty() {
            path.push(".");
        }
        Spec {
            path,
            asserts_dir: contents || bytes.ends_with(b"/"),
            contents,
        }
    }

    /// The parent directory and the last name (`/` has none).
    fn split(&self) -> (PathBuf, Option<&OsStr>) {
        let parent = self.path.parent().map_or_else(
            || self.path.clone(),
            |p| {
                if p.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    p.to_path_buf()
                }
            },
        );
        (parent, self.path.file_name())
    }

    fn shown(&self) -> String {
        self.path.display().to_string()
    }
}

/// Where a source is opened: the container's root (inside it, by `open_in_root`) or the host.
#[derive(Clone, Copy)]
enum Place<'a> {
    Container(BorrowedFd<'a>),
    Host,
}

impl Place<'_> {
    /// Opens `path` with `flags` (`O_PATH`, `O_NOFOLLOW`…) where it lives.
    fn open(&self, path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
        match self {
            Place::Container(root) => peapod_rootfs::open_in_root(*root, path, flags)
                .map_err(|e| e.errno().unwrap_or(Errno::EIO)),
            Place::Host => nix::fcntl::open(path, flags | OFlag::O_CLOEXEC, Mode::empty()),
        }
    }

    /// `path`'s metadata, following a final symlink or not; `None` when it does not exist.
    fn stat(&self, spec: &Spec, path: &Path, follow: bool) -> Result<Option<FileStat>, CpError> {
        let flags = OFlag::O_PATH
            | if follow {
                OFlag::empty()
            } else {
                OFlag::O_NOFOLLOW
            };
        match self.open(path, flags).and_then(fstat) {
            Ok(st) => Ok(Some(st)),
            Err(Errno::ENOENT) => Ok(None),
            Err(Errno::ENOTDIR) => Err(CpError::NotADirectory(spec.shown())),
            Err(source) => Err(CpError::Open {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// For `-L`: where a final symlink of `path` leads, followed here (at most 40 links) and
    /// not by the kernel, whose `fs.protected_symlinks` refuses root a user's symlink in a
    /// sticky directory such as `/tmp`; each step is still resolved inside the root.
    fn follow_final(&self, path: &Path) -> nix::Result<PathBuf> {
        let mut path = path.to_path_buf();
        for _ in 0..40 {
            let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
                return Ok(path);
            };
            let dir = self.open(parent, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
            match nix::fcntl::readlinkat(&dir, name) {
                Ok(target) => {
                    let target = PathBuf::from(target);
                    path = if target.is_absolute() {
                        target
                    } else {
                        parent.join(target)
                    };
                }
                // Not a symlink: the path as it is.
                Err(Errno::EINVAL) => return Ok(path),
                Err(e) => return Err(e),
            }
        }
        Err(Errno::ELOOP)
    }

    /// Opens the source `spec` for archiving: a symlink is followed with `follow` (`-L`) or
    /// when the path ends with `/`, else archived as itself.
    fn open_source(&self, spec: &Spec, follow: bool) -> Result<(FileStat, Opened), CpError> {
        let (parent, name) = spec.split();
        let follow = follow || spec.asserts_dir || name.is_none();
        let fail = |source| match source {
            Errno::ENOENT => CpError::NotFound(spec.shown()),
            Errno::ENOTDIR => CpError::NotADirectory(spec.shown()),
            source => CpError::Open {
                path: spec.shown(),
                source,
            },
        };
        let (st, opened) = match name {
            Some(name) if !follow => {
                let dir = self
                    .open(&parent, OFlag::O_PATH | OFlag::O_DIRECTORY)
                    .map_err(fail)?;
                open_child(dir.as_fd(), name).map_err(fail)?
            }
            _ => {
                let path = match name {
                    Some(_) => self.follow_final(&spec.path).map_err(fail)?,
                    None => spec.path.clone(),
                };
                let spec = &Spec {
                    path,
                    ..spec.clone()
                };
                let st = self
                    .open(&spec.path, OFlag::O_PATH)
                    .and_then(fstat)
                    .map_err(fail)?;
                match kind(&st) {
                    SFlag::S_IFDIR => reopened(
                        self.open(&spec.path, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                            .map_err(fail)?,
                    )
                    .map_err(fail)?,
                    SFlag::S_IFREG => reopened(
                        self.open(&spec.path, OFlag::O_RDONLY | OFlag::O_NONBLOCK)
                            .map_err(fail)?,
                    )
                    .map_err(fail)?,
                    _ => (st, Opened::Special),
                }
            }
        };
        if spec.asserts_dir && !matches!(opened, Opened::Dir(_)) {
            return Err(CpError::NotADirectory(spec.shown()));
        }
        Ok((st, opened))
    }
}

/// Where and how a source goes into a tar stream.
#[derive(Debug)]
struct Placement<'a> {
    /// The entry name of the source, or with `spread` of the directory its entries go in
    /// (empty: the top of the stream).
    top: PathBuf,
    /// A directory's entries straight under `top`, without an entry for the directory.
    spread: bool,
    /// `-a`'s owner.
    owner: Option<(u32, u32)>,
    check: Overwrite<'a>,
}

/// Archives an opened source into `out` as `at` says.
fn archive<W: Write>(
    st: &FileStat,
    opened: Opened,
    at: Placement<'_>,
    out: W,
) -> Result<W, CpError> {
    let mut tar = TarOut::new(out, at.owner, at.check);
    match opened {
        Opened::Dir(fd) if at.spread => tar.children(&at.top, fd)?,
        opened => tar.entry(&at.top, st, opened)?,
    }
    tar.finish()
}

fn open_root(root: &Path) -> Result<OwnedFd, CpError> {
    nix::fcntl::open(
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|source| CpError::Open {
        path: root.display().to_string(),
        source,
    })
}

/// Writes `src` (a path in the container whose root filesystem is mounted at `root`) to
/// `out` as a tar stream: the source under its own name (the link's name with `follow` and
/// a symlink source), or, for a path ending in `/.`, the directory's entries at the top.
/// Owners and modes are the container's.
///
/// # Errors
///
/// [`CpError::NotFound`] (the source does not exist), [`CpError::NotADirectory`], or what
/// reading the tree or writing `out` met.
pub fn copy_out(root: &Path, src: &str, follow: bool, out: impl Write) -> Result<(), CpError> {
    let root = open_root(root)?;
    let spec = Spec::container(src);
    let (st, opened) = Place::Container(root.as_fd()).open_source(&spec, follow)?;
    let name = spec.split().1.filter(|_| !spec.contents);
    let at = Placement {
        top: name.map(PathBuf::from).unwrap_or_default(),
        spread: name.is_none(),
        owner: None,
        check: Overwrite(None),
    };
    archive(&st, opened, at, out)?;
    Ok(())
}

/// Extracts the tar stream `tar` into the directory `dest` in the container (docker's
/// `cp - CONTAINER:DEST`): `dest` must exist and be a directory (a symlink to one is
/// followed, inside the root); entries are placed under it, and symlinks they meet resolve
/// inside the container.
///
/// # Errors
///
/// [`CpError::NotFound`], [`CpError::DestinationNotDirectory`], [`CpError::InvalidEntry`]
/// (`..` above the stream's root, `.wh.` names), [`CpError::Overwrite`], or what the
/// unpacker met ([`CpError::Extract`], naming the entry).
pub fn copy_in(
    root: &Path,
    dest: &str,
    tar: impl Read + Send,
    opts: &CopyInOptions,
) -> Result<(), CpError> {
    let root_dir = open_root(root)?;
    let place = Place::Container(root_dir.as_fd());
    let spec = Spec::container(dest);
    match place.stat(&spec, &spec.path, true)? {
        None => return Err(CpError::NotFound(spec.shown())),
        Some(st) if kind(&st) != SFlag::S_IFDIR => {
            return Err(CpError::DestinationNotDirectory(spec.shown()));
        }
        Some(_) => {}
    }
    let prefix = relative(&spec.path);
    let (owner, check) = (opts.owner, Overwrite(Some(root_dir.as_fd())));
    extract_into_container(root, move |out| {
        rebase_stream(tar, &prefix, owner, check, out).map(drop)
    })
}

/// Copies `src` from the container to `host_dest` on the host with docker's destination
/// rules (module doc); the copies belong to the caller.
///
/// # Errors
///
/// As [`copy_out`], plus the destination's: [`CpError::NotFound`] (its parent is missing),
/// [`CpError::CannotCopyDirectory`], [`CpError::NoSuchDirectory`], [`CpError::Extract`].
pub fn copy_from_container(
    root: &Path,
    src: &str,
    follow: bool,
    host_dest: &Path,
) -> Result<(), CpError> {
    let root_dir = open_root(root)?;
    let spec = Spec::container(src);
    let (st, opened) = Place::Container(root_dir.as_fd()).open_source(&spec, follow)?;
    let dest = Spec::host(host_dest);
    let existing = Place::Host.stat(&dest, &dest.path, true)?;
    let (dir, name) = plan(&spec, &opened, &dest, existing.as_ref())?;
    if Place::Host
        .stat(&dest, &dir, true)?
        .is_none_or(|st| kind(&st) != SFlag::S_IFDIR)
    {
        return Err(CpError::NotFound(dir.display().to_string()));
    }
    let opts = UnpackOptions {
        mode: UnpackMode::Apply,
        ownership: false,
        devices: nix::unistd::geteuid().is_root(),
        ..UnpackOptions::default()
    };
    let at = Placement {
        spread: name.is_none(),
        top: name.unwrap_or_default(),
        owner: None,
        check: Overwrite(None),
    };
    pipe_into(&dir, &opts, move |out| {
        archive(&st, opened, at, out).map(drop)
    })
}

/// Copies `host_src` from the host into the container at `dest` with docker's destination
/// rules (module doc); `follow` is `-L`.
///
/// # Errors
///
/// [`CpError::NotFound`] (the source, or the destination's parent), [`CpError::DestinationType`],
/// [`CpError::CannotCopyDirectory`], [`CpError::NoSuchDirectory`], [`CpError::Overwrite`],
/// [`CpError::Extract`].
pub fn copy_to_container(
    host_src: &Path,
    follow: bool,
    root: &Path,
    dest: &str,
    opts: &CopyInOptions,
) -> Result<(), CpError> {
    let spec = Spec::host(host_src);
    let (st, opened) = Place::Host.open_source(&spec, follow)?;
    let root_dir = open_root(root)?;
    let place = Place::Container(root_dir.as_fd());
    let mut dest = Spec::container(dest);
    let mut existing = place.stat(&dest, &dest.path, false)?;
    if existing.is_some_and(|st| kind(&st) == SFlag::S_IFLNK) {
        // docker's client follows a destination symlink, from its parent directory.
        let (parent, name) = dest.split();
        let dir = place
            .open(&parent, OFlag::O_PATH | OFlag::O_DIRECTORY)
            .map_err(|source| CpError::Open {
                path: parent.display().to_string(),
                source,
            })?;
        let target =
            readlinkat(dir.as_fd(), name.unwrap_or_default()).map_err(|source| CpError::Open {
                path: dest.shown(),
                source,
            })?;
        dest = Spec::parse(Path::new(&target), &parent);
        existing = place.stat(&dest, &dest.path, true)?;
    }
    if existing.is_some_and(|st| !matches!(kind(&st), SFlag::S_IFDIR | SFlag::S_IFREG)) {
        return Err(CpError::DestinationType(dest.shown()));
    }
    let (dir, name) = plan(&spec, &opened, &dest, existing.as_ref())?;
    if place
        .stat(&dest, &dir, true)?
        .is_none_or(|st| kind(&st) != SFlag::S_IFDIR)
    {
        return Err(CpError::NotFound(dir.display().to_string()));
    }
    let at = Placement {
        spread: name.is_none(),
        top: relative(&dir).join(name.unwrap_or_default()),
        owner: opts.owner,
        check: Overwrite(Some(root_dir.as_fd())),
    };
    extract_into_container(root, move |out| archive(&st, opened, at, out).map(drop))
}

/// docker's `PrepareArchiveCopy`: the directory to extract into and the name the source
/// takes there (`None`: a directory's contents go straight into it).
fn plan(
    src: &Spec,
    opened: &Opened,
    dest: &Spec,
    existing: Option<&FileStat>,
) -> Result<(PathBuf, Option<PathBuf>), CpError> {
    let src_is_dir = matches!(opened, Opened::Dir(_));
    let src_name = src
        .split()
        .1
        .filter(|_| !(src.contents && src_is_dir))
        .map(PathBuf::from);
    let (parent, name) = dest.split();
    let named = || {
        name.map(|n| (parent.clone(), Some(PathBuf::from(n))))
            .ok_or_else(|| CpError::NotFound(dest.shown()))
    };
    match existing {
        Some(st) if kind(st) == SFlag::S_IFDIR => Ok((dest.path.clone(), src_name)),
        Some(_) if src_is_dir => Err(CpError::CannotCopyDirectory(dest.shown())),
        Some(_) if dest.asserts_dir => Err(CpError::NotADirectory(dest.shown())),
        Some(_) => named(),
        None if src_is_dir => named(),
        None if dest.asserts_dir => Err(CpError::NoSuchDirectory(dest.shown())),
        None => named(),
    }
}

/// `path` without its leading `/`, for a tar entry name under the container's root.
fn relative(path: &Path) -> PathBuf {
    path.strip_prefix("/").unwrap_or(path).to_path_buf()
}
