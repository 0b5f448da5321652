//! The other direction of [`crate::unpack`]: a directory in the store's unpacked-layer form
//! (an overlayfs upper directory: whiteouts as character devices 0/0, opaque directories
//! marked with the xattr `trusted.overlay.opaque` = `y`) into an OCI layer tar, and that
//! directory itself committed as the unpacked layer (no second unpack of the tar).
//!
//! The tar is reproducible (image-spec `layer.md`; the `SOURCE_DATE_EPOCH` convention of
//! reproducible-builds.org): entries in byte order of their paths, parents before children,
//! numeric owners only (no user or group names), no access or change times, GNU long names,
//! and with an epoch every mtime set to it. Whiteouts become `.wh.NAME` and opaque
//! directories get a `.wh..wh..opq` entry ("Whiteouts" in `layer.md`); `trusted.overlay.*`
//! xattrs are overlayfs's bookkeeping and are left out, other xattrs (file capabilities)
//! are kept as `SCHILY.xattr.*` PAX records. Hard links inside the directory are written as
//! tar hard links. The blob is gzip (level 1, no name, mtime 0: the same bytes every time).

use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::digest::{Digest, HashingWriter};
use crate::error::{Error, Result};
use crate::ingest::chain_id;
use crate::store::{ImageLayer, Store};

/// The overlayfs xattr that marks a directory opaque (as [`crate::unpack`] writes it).
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// The media type of the blobs written here.
pub const GZIP_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// What [`write_tar`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TarStats {
    /// Entries written (whiteout entries included).
    pub entries: u64,
}

/// Writes the layer tar of `dir` (in unpacked-layer form, see the module doc) to `out`.
/// With `epoch` (seconds since 1970, `SOURCE_DATE_EPOCH`), every entry's mtime is `epoch`;
/// without, each keeps its own.
///
/// # Errors
/// [`Error::LayerWrite`] naming the file that could not be read, or the write that failed.
pub fn write_tar(dir: &Path, out: impl Write, epoch: Option<u64>) -> Result<TarStats> {
    let mut writer = TarWriter {
        builder: tar::Builder::new(out),
        epoch,
        links: HashMap::new(),
        entries: 0,
        root: dir.to_path_buf(),
    };
    writer.builder.follow_symlinks(false);
    writer.walk(dir, Path::new(""))?;
    writer
        .builder
        .into_inner()
        .and_then(|mut w| w.flush())
        .map_err(layer_err(dir, "cannot write the tar of"))?;
    Ok(TarStats {
        entries: writer.entries,
    })
}

/// Makes `dir` a layer of the store on top of the layers whose chain id is `parent`: writes
/// its tar (gzip) as a blob, computing the diff_id, then renames `dir` itself to
/// `layers/<chain-hex>` (so `dir` must be on the store's filesystem, under `ROOT/tmp`, and
/// not mounted). If that layer exists already (the same content built before), `dir` is
/// removed and the existing one kept. Hold a [`Store::lease`] until an image names it.
///
/// # Errors
/// [`Error::LayerWrite`] for an unreadable entry, store errors for the blob or the rename.
pub fn commit_dir(
    store: &Store,
    dir: &Path,
    parent: Option<&Digest>,
    epoch: Option<u64>,
) -> Result<ImageLayer> {
    let blob = store.blob_writer(None, None)?;
    let gz = flate2::GzBuilder::new().write(blob, flate2::Compression::fast());
    let mut hashing = HashingWriter::new(gz);
    write_tar(dir, &mut hashing, epoch)?;
    let (diff_id, size, gz) = hashing.finish();
    let blob = gz
        .finish()
        .map_err(layer_err(dir, "cannot compress the tar of"))?;
    let blob_size = blob.written();
    let blob_digest = blob.commit()?;
    let chain = chain_id(parent, &diff_id);
    let target = store.layer_path(&chain);
    if target.is_dir() {
        crate::store::remove_tree(dir)?;
    } else if let Err(e) = fs::rename(dir, &target) {
        if !target.is_dir() {
            return Err(layer_err(&target, "cannot rename a built layer to")(e));
        }
        crate::store::remove_tree(dir)?;
    }
    Ok(ImageLayer {
        blob_digest,
        media_type: GZIP_LAYER.to_owned(),
        blob_size,
        diff_id,
        chain_id: chain,
        size,
    })
}

fn layer_err(path: &Path, action: &'static str) -> impl FnOnce(io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::LayerWrite {
        action,
        path,
        source,
    }
}

struct TarWriter<W: Write> {
    builder: tar::Builder<W>,
    epoch: Option<u64>,
    /// (device, inode) of files with several links → the first path written.
    links: HashMap<(u64, u64), PathBuf>,
    entries: u64,
    root: PathBuf,
}

impl<W: Write> TarWriter<W> {
    /// Writes the children of `abs` (whose path in the tar is `rel`), sorted by name.
    fn walk(&mut self, abs: &Path, rel: &Path) -> Result<()> {
        let mut names: Vec<std::ffi::OsString> = fs::read_dir(abs)
            .map_err(layer_err(abs, "cannot read the directory"))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()
            .map_err(layer_err(abs, "cannot read the directory"))?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let child = abs.join(&name);
            let child_rel = rel.join(&name);
            let meta = fs::symlink_metadata(&child).map_err(layer_err(&child, "cannot stat"))?;
            let ft = meta.file_type();
            if ft.is_char_device() && meta.rdev() == 0 {
                let mut wh = OsStr::new(".wh.").to_owned();
                wh.push(&name);
                self.empty_file(&rel.join(wh), &meta)?;
                continue;
            }
            if ft.is_dir() {
                self.entry(&child, &child_rel, &meta)?;
                if xattr(&child, OPAQUE_XATTR)?.as_deref() == Some(b"y") {
                    self.empty_file(&child_rel.join(".wh..wh..opq"), &meta)?;
                }
                self.walk(&child, &child_rel)?;
            } else {
                self.entry(&child, &child_rel, &meta)?;
            }
        }
        Ok(())
    }

    fn header(&self, meta: &fs::Metadata) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_mode(meta.mode() & 0o7777);
        h.set_uid(u64::from(meta.uid()));
        h.set_gid(u64::from(meta.gid()));
        h.set_mtime(
            self.epoch
                .unwrap_or_else(|| u64::try_from(meta.mtime()).unwrap_or(0)),
        );
        h.set_size(0);
        h
    }

    fn empty_file(&mut self, rel: &Path, meta: &fs::Metadata) -> Result<()> {
        let mut h = self.header(meta);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        self.builder
            .append_data(&mut h, rel, io::empty())
            .map_err(layer_err(
                &self.root.join(rel),
                "cannot write the tar entry of",
            ))?;
        self.entries += 1;
        Ok(())
    }

    fn entry(&mut self, abs: &Path, rel: &Path, meta: &fs::Metadata) -> Result<()> {
        let write_err = || layer_err(abs, "cannot write the tar entry of");
        let xattrs = xattrs(abs)?;
        if !xattrs.is_empty() {
            let pax: Vec<(String, &[u8])> = xattrs
                .iter()
                .map(|(k, v)| (format!("SCHILY.xattr.{k}"), v.as_slice()))
                .collect();
            self.builder
                .append_pax_extensions(pax.iter().map(|(k, v)| (k.as_str(), *v)))
                .map_err(write_err())?;
        }
        let mut h = self.header(meta);
        let ft = meta.file_type();
        if ft.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            self.builder
                .append_data(&mut h, rel, io::empty())
                .map_err(write_err())?;
        } else if ft.is_symlink() {
            h.set_entry_type(tar::EntryType::Symlink);
            let target = fs::read_link(abs).map_err(layer_err(abs, "cannot read the link"))?;
            self.builder
                .append_link(&mut h, rel, &target)
                .map_err(write_err())?;
        } else if ft.is_file() {
            if meta.nlink() > 1 {
                let key = (meta.dev(), meta.ino());
                if let Some(first) = self.links.get(&key) {
                    h.set_entry_type(tar::EntryType::Link);
                    let first = first.clone();
                    self.builder
                        .append_link(&mut h, rel, &first)
                        .map_err(write_err())?;
                    self.entries += 1;
                    return Ok(());
                }
                self.links.insert(key, rel.to_path_buf());
            }
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(meta.len());
            let file = fs::File::open(abs).map_err(layer_err(abs, "cannot open"))?;
            // A file that changes size while read would make a corrupt tar: exactly its
            // recorded length is written, or the write fails.
            let mut body = file.take(meta.len());
            self.builder
                .append_data(&mut h, rel, &mut body)
                .map_err(write_err())?;
        } else if ft.is_fifo() || ft.is_char_device() || ft.is_block_device() {
            h.set_entry_type(if ft.is_fifo() {
                tar::EntryType::Fifo
            } else if ft.is_char_device() {
                tar::EntryType::Char
            } else {
                tar::EntryType::Block
            });
            let rdev = meta.rdev();
            h.set_device_major(nix::sys::stat::major(rdev) as u32)
                .map_err(write_err())?;
            h.set_device_minor(nix::sys::stat::minor(rdev) as u32)
                .map_err(write_err())?;
            self.builder
                .append_data(&mut h, rel, io::empty())
                .map_err(write_err())?;
        } else {
            // A socket: tar has no type for it (docker and podman skip them too).
            return Ok(());
        }
        self.entries += 1;
        Ok(())
    }
}

fn c_path(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::LayerWrite {
        action: "cannot name",
        path: path.to_path_buf(),
        source: io::Error::from(io::ErrorKind::InvalidInput),
    })
}

/// The xattr `name` of `path` (not following a final symlink); `None` if it has none.
fn xattr(path: &Path, name: &str) -> Result<Option<Vec<u8>>> {
    let p = c_path(path)?;
    let n = CString::new(name).map_err(|_| Error::LayerWrite {
        action: "cannot name an xattr of",
        path: path.to_path_buf(),
        source: io::Error::from(io::ErrorKind::InvalidInput),
    })?;
    let mut buf = vec![0u8; 4096];
    // nix has no xattr calls: raw libc.
    // SAFETY: `p` and `n` are NUL-terminated and `buf` is valid for `buf.len()` bytes.
    let rc = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENODATA | libc::ENOTSUP) => Ok(None),
            _ => Err(layer_err(path, "cannot read an xattr of")(e)),
        };
    }
    buf.truncate(rc.unsigned_abs());
    Ok(Some(buf))
}

/// Every xattr of `path` but overlayfs's own (`trusted.overlay.*`), sorted by name.
fn xattrs(path: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let p = c_path(path)?;
    let mut names = vec![0u8; 4096];
    // nix has no xattr calls: raw libc.
    // SAFETY: `p` is NUL-terminated and `names` is valid for `names.len()` bytes.
    let rc = unsafe { libc::llistxattr(p.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENOTSUP) => Ok(Vec::new()),
            _ => Err(layer_err(path, "cannot list the xattrs of")(e)),
        };
    }
    names.truncate(rc.unsigned_abs());
    let mut out = Vec::new();
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        if name.starts_with("trusted.overlay.") {
            continue;
        }
        if let Some(value) = xattr(path, &name)? {
            out.push((name, value));
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests;
