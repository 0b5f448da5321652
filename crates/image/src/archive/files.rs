//! The files of an image archive or layout, by name: a directory (`oci:DIR`), or a tar
//! (`oci-archive`, `docker-archive`) indexed once so that its members can be read in any
//! order (a docker-archive's `manifest.json` comes last).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result, io_err};

/// The most members an archive may have (an image has a handful per layer; this bounds
/// what a hostile archive can make us index).
const MAX_MEMBERS: usize = 1 << 20;

/// Named files of an archive or layout directory.
pub(crate) enum Files {
    /// A directory on disk (an OCI layout given by the user).
    Dir(PathBuf),
    /// An uncompressed tar file with its regular members' offsets and sizes.
    Tar {
        path: PathBuf,
        file: File,
        members: HashMap<String, (u64, u64)>,
    },
}

impl std::fmt::Debug for Files {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Files({})", self.path().display())
    }
}

/// A member's name as a key: `./a//b` and `a/b` are the same member.
pub(crate) fn member_key(name: &str) -> String {
    name.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

impl Files {
    /// Indexes the regular members of an uncompressed tar file.
    pub(crate) fn tar(path: &Path, file: File) -> Result<Self> {
        let bad = |reason: String| Error::Archive {
            path: path.to_path_buf(),
            reason,
        };
        let mut members = HashMap::new();
        {
            let mut f = &file;
            f.seek(SeekFrom::Start(0))
                .map_err(io_err("cannot seek in", path))?;
            let mut archive = tar::Archive::new(&file);
            let entries = archive
                .entries_with_seek()
                .map_err(|e| bad(format!("not a tar archive: {e}")))?;
            for entry in entries {
                let entry = entry.map_err(|e| bad(format!("corrupt tar archive: {e}")))?;
                if members.len() >= MAX_MEMBERS {
                    return Err(bad(format!("more than {MAX_MEMBERS} members")));
                }
                if !entry.header().entry_type().is_file() {
                    continue;
                }
                let name = entry
                    .path()
                    .map_err(|e| bad(format!("a member has an unreadable name: {e}")))?;
                let key = member_key(&name.to_string_lossy());
                members.insert(key, (entry.raw_file_position(), entry.size()));
            }
        }
        Ok(Self::Tar {
            path: path.to_path_buf(),
            file,
            members,
        })
    }

    /// The archive or directory.
    pub(crate) fn path(&self) -> &Path {
        match self {
            Self::Dir(p) | Self::Tar { path: p, .. } => p,
        }
    }

    /// Whether a member exists.
    pub(crate) fn exists(&self, name: &str) -> bool {
        match self {
            Self::Dir(dir) => dir.join(member_key(name)).is_file(),
            Self::Tar { members, .. } => members.contains_key(&member_key(name)),
        }
    }

    /// Opens a member for reading, with its size.
    pub(crate) fn open(&self, name: &str) -> Result<(Box<dyn Read + Send + '_>, u64)> {
        let key = member_key(name);
        match self {
            Self::Dir(dir) => {
                let path = dir.join(&key);
                let file = File::open(&path).map_err(io_err("cannot open", &path))?;
                let size = file.metadata().map_err(io_err("cannot stat", &path))?.len();
                Ok((Box::new(file), size))
            }
            Self::Tar {
                path,
                file,
                members,
            } => {
                let &(offset, size) = members.get(&key).ok_or_else(|| Error::Archive {
                    path: path.clone(),
                    reason: format!("no member {key:?}"),
                })?;
                Ok((
                    Box::new(Slice {
                        file,
                        pos: offset,
                        end: offset.saturating_add(size),
                    }),
                    size,
                ))
            }
        }
    }

    /// Reads a small member whole (at most `limit` bytes).
    pub(crate) fn read(&self, name: &str, limit: u64) -> Result<Vec<u8>> {
        let (mut r, size) = self.open(name)?;
        if size > limit {
            return Err(Error::Archive {
                path: self.path().to_path_buf(),
                reason: format!("{name} is {size} bytes, over the {limit}-byte limit"),
            });
        }
        let mut out = Vec::new();
        r.read_to_end(&mut out)
            .map_err(io_err("cannot read", self.path()))?;
        Ok(out)
    }
}

/// A member of a tar file, read with `pread` at its own offset (so that several members
/// can be read at once from one file).
struct Slice<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for Slice<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let left = usize::try_from(self.end - self.pos).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the archive ends inside a member",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// An archive opened for loading: a compressed one (gzip, zstd) or one read from a pipe is
/// first copied, uncompressed, to a temp file under `tmp` (random access is needed; the
/// temp file is gone when the returned handle drops).
pub(crate) fn open_archive(
    path: &Path,
    mut input: impl Read + Send,
    seekable: Option<File>,
    tmp: &Path,
) -> Result<(Files, Option<tempfile::TempPath>)> {
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < head.len() {
        match input.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err("cannot read", path)(e)),
        }
    }
    let compression = crate::unpack::Compression::from_magic(&head[..n]);
    if let (crate::unpack::Compression::None, Some(file)) = (compression, seekable) {
        return Ok((Files::tar(path, file)?, None));
    }
    let stream = io::Cursor::new(head[..n].to_vec()).chain(input);
    let mut plain = crate::unpack::decompress(stream, compression)
        .map_err(io_err("cannot decompress", path))?;
    let mut spool = tempfile::Builder::new()
        .prefix("archive-")
        .tempfile_in(tmp)
        .map_err(io_err("cannot create a temp file in", tmp))?;
    io::copy(&mut plain, &mut spool).map_err(io_err("cannot read", path))?;
    let (file, temp_path) = spool.into_parts();
    Ok((Files::tar(path, file)?, Some(temp_path)))
}
