//! A file tree as a tar stream, read by directory fds: each entry is opened by its parent's fd
//! and its own name with `O_NOFOLLOW`, so a symlink in the tree is archived as a symlink and
//! never followed, and a tree that changes under us cannot make us read elsewhere.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, readlinkat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat};

use super::{CpError, Overwrite};

/// One opened entry: what the tar needs of it.
#[derive(Debug)]
pub(super) enum Opened {
    /// A directory, open for reading its entries.
    Dir(OwnedFd),
    /// A regular file, open for reading.
    File(OwnedFd),
    /// A symlink and its target.
    Symlink(OsString),
    /// A device, fifo or socket: its metadata is all there is.
    Special,
}

/// The kind of a `st_mode`.
pub(super) fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

/// Opens `name` in `dir` without following it, for reading as its type asks.
pub(super) fn open_child(dir: BorrowedFd<'_>, name: &OsStr) -> nix::Result<(FileStat, Opened)> {
    let st = fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
    let base = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    match kind(&st) {
        SFlag::S_IFDIR => {
            let fd = openat(dir, name, base | OFlag::O_DIRECTORY, Mode::empty())?;
            Ok((fstat(&fd)?, Opened::Dir(fd)))
        }
        // O_NONBLOCK: had a fifo replaced the file since the stat, open would not hang.
        SFlag::S_IFREG => reopened(openat(dir, name, base | OFlag::O_NONBLOCK, Mode::empty())?),
        SFlag::S_IFLNK => Ok((st, Opened::Symlink(readlinkat(dir, name)?))),
        _ => Ok((st, Opened::Special)),
    }
}

/// What an fd opened for reading turned out to be (a regular file or a directory).
pub(super) fn reopened(fd: OwnedFd) -> nix::Result<(FileStat, Opened)> {
    let st = fstat(&fd)?;
    match kind(&st) {
        SFlag::S_IFREG => Ok((st, Opened::File(fd))),
        SFlag::S_IFDIR => Ok((st, Opened::Dir(fd))),
        // Swapped for something else between the stat and the open.
        _ => Err(Errno::EAGAIN),
    }
}

/// Writes trees into a tar stream.
pub(super) struct TarOut<'a, W: Write> {
    tar: tar::Builder<W>,
    /// Refuses entries that would replace a directory with a non-directory or the reverse.
    check: Overwrite<'a>,
    /// `-a`-style ownership given to every entry instead of the file's own.
    owner: Option<(u32, u32)>,
    /// Regular files with several links, by (device, inode): their first name, so that the
    /// next ones are archived as hard links to it.
    links: HashMap<(u64, u64), PathBuf>,
}

impl<W: Write> std::fmt::Debug for TarOut<'_, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TarOut")
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

impl<'a, W: Write> TarOut<'a, W> {
    pub(super) fn new(out: W, owner: Option<(u32, u32)>, check: Overwrite<'a>) -> Self {
        Self {
            tar: tar::Builder::new(out),
            check,
            owner,
            links: HashMap::new(),
        }
    }

    /// Archives the opened entry as `name` (and, for a directory, everything under it).
    pub(super) fn entry(
        &mut self,
        name: &Path,
        st: &FileStat,
        opened: Opened,
    ) -> Result<(), CpError> {
        if name
            .file_name()
            .is_some_and(|n| n.as_bytes().starts_with(b".wh."))
        {
            // The unpacker would read it as a whiteout and delete its namesake.
            return Err(CpError::InvalidEntry {
                path: name.to_path_buf(),
                why: ".wh. names are reserved for layer whiteouts",
            });
        }
        self.check.check(name, matches!(opened, Opened::Dir(_)))?;
        let mut header = self.header(st);
        let io = |source: io::Error| CpError::Archive {
            path: name.to_path_buf(),
            source,
        };
        match opened {
            Opened::Dir(fd) => {
                header.set_entry_type(tar::EntryType::Directory);
                self.tar
                    .append_data(&mut header, name, io::empty())
                    .map_err(io)?;
                self.children(name, fd)?;
            }
            Opened::File(fd) => {
                let key = (st.st_dev, st.st_ino);
                if st.st_nlink > 1 {
                    if let Some(first) = self.links.get(&key) {
                        header.set_entry_type(tar::EntryType::Link);
                        header.set_size(0);
                        let first = first.clone();
                        return self.tar.append_link(&mut header, name, first).map_err(io);
                    }
                    self.links.insert(key, name.to_path_buf());
                }
                let size = u64::try_from(st.st_size).unwrap_or(0);
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(size);
                // Exactly `size` bytes, whatever the file does meanwhile: a file that grew is
                // cut, one that shrank is padded, and the stream stays a valid tar.
                let data = File::from(fd).take(size).chain(io::repeat(0)).take(size);
                self.tar.append_data(&mut header, name, data).map_err(io)?;
            }
            Opened::Symlink(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                self.tar
                    .append_link(&mut header, name, Path::new(&target))
                    .map_err(io)?;
            }
            Opened::Special => {
                let entry_type = match kind(st) {
                    SFlag::S_IFCHR => tar::EntryType::Char,
                    SFlag::S_IFBLK => tar::EntryType::Block,
                    SFlag::S_IFIFO => tar::EntryType::Fifo,
                    _ => return Ok(()), // sockets have no tar form; docker skips them too
                };
                header.set_entry_type(entry_type);
                let major = u32::try_from(nix::sys::stat::major(st.st_rdev)).unwrap_or(0);
                let minor = u32::try_from(nix::sys::stat::minor(st.st_rdev)).unwrap_or(0);
                header.set_device_major(major).map_err(io)?;
                header.set_device_minor(minor).map_err(io)?;
                self.tar
                    .append_data(&mut header, name, io::empty())
                    .map_err(io)?;
            }
        }
        Ok(())
    }

    /// Archives what directory `fd` holds, each entry as `dir/<its name>`, in name order.
    pub(super) fn children(&mut self, dir: &Path, fd: OwnedFd) -> Result<(), CpError> {
        let sys = |path: &Path, source| CpError::Read {
            path: path.to_path_buf(),
            source,
        };
        let listing = fd.try_clone().map_err(|e| CpError::Archive {
            path: dir.to_path_buf(),
            source: e,
        })?;
        let mut names: Vec<OsString> = Vec::new();
        for entry in nix::dir::Dir::from_fd(listing)
            .map_err(|e| sys(dir, e))?
            .iter()
        {
            let entry = entry.map_err(|e| sys(dir, e))?;
            let name = OsStr::from_bytes(entry.file_name().to_bytes());
            if name != "." && name != ".." {
                names.push(name.to_owned());
            }
        }
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let (st, opened) = match open_child(fd.as_fd(), &name) {
                Ok(found) => found,
                // Removed since the listing: it is simply not part of the copy.
                Err(Errno::ENOENT) => continue,
                Err(e) => return Err(sys(&path, e)),
            };
            self.entry(&path, &st, opened)?;
        }
        Ok(())
    }

    /// Ends the stream (the tar's end-of-archive blocks) and hands the writer back.
    pub(super) fn finish(self) -> Result<W, CpError> {
        self.tar.into_inner().map_err(|e| CpError::Archive {
            path: PathBuf::new(),
            source: e,
        })
    }

    fn header(&self, st: &FileStat) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_mode(st.st_mode & 0o7777);
        let (uid, gid) = self.owner.unwrap_or((st.st_uid, st.st_gid));
        header.set_uid(uid.into());
        header.set_gid(gid.into());
        header.set_mtime(u64::try_from(st.st_mtime).unwrap_or(0));
        header.set_size(0);
        header
    }
}
