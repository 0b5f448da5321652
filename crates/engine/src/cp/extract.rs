//! The writing half of a copy: a tar stream unpacked by `peapod-image`'s unpacker (into the
//! container's root, or a host directory) while another thread writes it, the checks docker
//! makes on what lands in a container, and the rebasing of a tar stream given on stdin.

use std::io::{self, Read, Write};
use std::os::fd::BorrowedFd;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{SFlag, fstat};
use peapod_image::unpack::{UnpackMode, UnpackOptions, unpack};

use super::CpError;
use super::tree::kind;

/// Refuses, for copies into a container, an entry that would replace a directory with a
/// non-directory or the reverse (docker's `NoOverwriteDirNonDir`). `None`: no check.
#[derive(Debug, Clone, Copy)]
pub(super) struct Overwrite<'a>(pub(super) Option<BorrowedFd<'a>>);

impl Overwrite<'_> {
    /// `path` is relative to the container's root; `dir` whether the new entry is one.
    pub(super) fn check(&self, path: &Path, dir: bool) -> Result<(), CpError> {
        let Some(root) = self.0 else {
            return Ok(());
        };
        let found = peapod_rootfs::open_in_root(root, path, OFlag::O_PATH | OFlag::O_NOFOLLOW)
            .map_err(|e| e.errno().unwrap_or(Errno::EIO))
            .and_then(fstat);
        let is_dir = match found {
            Ok(st) => kind(&st) == SFlag::S_IFDIR,
            Err(Errno::ENOENT | Errno::ENOTDIR) => return Ok(()),
            Err(source) => {
                return Err(CpError::Open {
                    path: format!("/{}", path.display()),
                    source,
                });
            }
        };
        let what = |d| if d { "directory" } else { "non-directory" };
        if is_dir == dir {
            return Ok(());
        }
        Err(CpError::Overwrite {
            path: format!("/{}", path.display()),
            existing: what(is_dir),
            new: what(dir),
        })
    }
}

/// The unpacker's options for a copy into a container: the tar's owners, devices and xattrs
/// when the caller is root (who may give files away), else none of them.
fn into_container() -> UnpackOptions {
    let opts = if nix::unistd::geteuid().is_root() {
        UnpackOptions::default()
    } else {
        UnpackOptions::rootless()
    };
    UnpackOptions {
        mode: UnpackMode::Apply,
        ..opts
    }
}

/// Unpacks what `produce` writes into the container's root at `root`.
pub(super) fn extract_into_container(
    root: &Path,
    produce: impl FnOnce(io::PipeWriter) -> Result<(), CpError> + Send,
) -> Result<(), CpError> {
    pipe_into(root, &into_container(), produce)
}

/// Runs `produce` (which writes a tar stream) on a second thread and unpacks what it writes
/// into `dir` on this one. The producer's own error wins over the truncated stream it leaves;
/// the unpacker's wins over the broken pipe it leaves.
pub(super) fn pipe_into(
    dir: &Path,
    opts: &UnpackOptions,
    produce: impl FnOnce(io::PipeWriter) -> Result<(), CpError> + Send,
) -> Result<(), CpError> {
    let (reader, writer) = io::pipe().map_err(|source| CpError::Archive {
        path: PathBuf::new(),
        source,
    })?;
    std::thread::scope(|s| {
        let producer = s.spawn(move || produce(writer));
        let unpacked = unpack(reader, dir, opts);
        let produced = producer.join().unwrap_or_else(|_| {
            Err(CpError::Archive {
                path: PathBuf::new(),
                source: io::Error::other("the tar writer panicked"),
            })
        });
        match (produced, unpacked) {
            (Err(e), _) if !e.is_broken_pipe() => Err(e),
            (_, Err(e)) => Err(e.into()),
            (Err(e), Ok(_)) => Err(e),
            (Ok(()), Ok(_)) => Ok(()),
        }
    })
}

impl CpError {
    fn is_broken_pipe(&self) -> bool {
        matches!(self, CpError::Archive { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// Copies the tar stream `input` to `out` with every entry moved under `prefix` (hard link
/// targets too), `owner` applied, and each entry checked: no `..` above the stream's root,
/// no `.wh.` name, no directory replaced by a non-directory or the reverse.
pub(super) fn rebase_stream<W: Write>(
    input: impl Read,
    prefix: &Path,
    owner: Option<(u32, u32)>,
    check: Overwrite<'_>,
    out: W,
) -> Result<W, CpError> {
    let stream = |source| CpError::Archive {
        path: PathBuf::new(),
        source,
    };
    let mut archive = tar::Archive::new(input);
    let mut tar = tar::Builder::new(out);
    for entry in archive.entries().map_err(stream)? {
        let mut entry = entry.map_err(stream)?;
        let name = entry.path().map_err(stream)?.into_owned();
        let kind = entry.header().entry_type();
        let invalid = |why| CpError::InvalidEntry {
            path: name.clone(),
            why,
        };
        match kind {
            tar::EntryType::XGlobalHeader => continue,
            tar::EntryType::GNUSparse => return Err(invalid("sparse files are not supported")),
            _ => {}
        }
        let rel = contained(&name).map_err(invalid)?;
        if rel.as_os_str().is_empty() && prefix.as_os_str().is_empty() {
            continue; // the stream's "./": the container's root itself stays as it is
        }
        let path = prefix.join(&rel);
        check.check(&path, kind.is_dir())?;
        let mut header = entry.header().clone();
        if let Some((uid, gid)) = owner {
            header.set_uid(uid.into());
            header.set_gid(gid.into());
        }
        let written = if kind.is_hard_link() || kind.is_symlink() {
            let target = entry
                .link_name()
                .map_err(stream)?
                .ok_or_else(|| invalid("a link without a target"))?
                .into_owned();
            let target = if kind.is_hard_link() {
                prefix.join(contained(&target).map_err(invalid)?)
            } else {
                target
            };
            tar.append_link(&mut header, &path, &target)
        } else {
            tar.append_data(&mut header, &path, &mut entry)
        };
        written.map_err(|source| CpError::Archive { path, source })?;
    }
    tar.into_inner().map_err(stream)
}

/// A tar entry's name made relative to the stream's root: a leading `/` and `.` dropped,
/// `..` taken lexically; `..` above the root and `.wh.` names are refused.
pub(super) fn contained(name: &Path) -> Result<PathBuf, &'static str> {
    let mut out = PathBuf::new();
    for c in name.components() {
        match c {
            Component::Normal(n) if n.as_encoded_bytes().starts_with(b".wh.") => {
                return Err(".wh. names are reserved for layer whiteouts");
            }
            Component::Normal(n) => out.push(n),
            Component::ParentDir if !out.pop() => return Err("it names .. above the root"),
            _ => {}
        }
    }
    Ok(out)
}
