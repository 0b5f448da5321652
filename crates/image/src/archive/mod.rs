//! Image archives and layouts: `load` (docker-archive and oci-archive, detected, gzip or
//! zstd or plain, from a file or a pipe), `save` (either format), an OCI layout directory
//! (`oci:DIR[:tag]`), and `import` of a root filesystem tar as a one-layer image.

mod docker;
mod files;
mod import;
mod oci;

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

pub use import::import;

use crate::digest::Digest;
use crate::error::{Error, Result, io_err};
use crate::manifest::Platform;
use crate::store::{ImageRecord, Store};
use files::{Files, open_archive};

/// An image that was loaded: its id and the names recorded for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedImage {
    /// The image id (config digest).
    pub id: Digest,
    /// Full names recorded (`docker.io/library/busybox:latest`); empty for an unnamed image.
    pub names: Vec<String>,
}

/// The two archive formats `save` writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// `docker save`'s format (layers uncompressed).
    #[default]
    DockerArchive,
    /// An OCI image layout in a tar (layers as stored).
    OciArchive,
}

impl std::str::FromStr for ArchiveFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "docker-archive" => Ok(Self::DockerArchive),
            "oci-archive" => Ok(Self::OciArchive),
            other => Err(format!(
                "unknown archive format {other:?}: expected docker-archive or oci-archive"
            )),
        }
    }
}

/// Loads every image in an archive: an oci-archive (it has `index.json` and `oci-layout`)
/// or a docker-archive (it has `manifest.json`), plain or gzip/zstd-compressed. `input` is
/// read once; a plain file is indexed in place, anything else is spooled (uncompressed)
/// under the store's `tmp/` first. `path` names the archive in errors (`-` for stdin).
/// `name` overrides the names the archive carries.
pub fn load(
    store: &Store,
    path: &Path,
    input: impl Read + Send,
    seekable: Option<File>,
    name: Option<&str>,
) -> Result<Vec<LoadedImage>> {
    let (files, _spool) = open_archive(path, input, seekable, &store.root().join("tmp"))?;
    load_files(store, &files, None, name)
}

/// Loads an archive file by path (see [`load`]).
pub fn load_file(store: &Store, path: &Path, name: Option<&str>) -> Result<Vec<LoadedImage>> {
    let file = File::open(path).map_err(io_err("cannot open", path))?;
    let again = file.try_clone().map_err(io_err("cannot reopen", path))?;
    load(store, path, file, Some(again), name)
}

/// Loads from an OCI layout directory (`oci:DIR[:tag]`); `tag` picks one image by its
/// `org.opencontainers.image.ref.name`, `name` names it in the store.
pub fn load_oci_dir(
    store: &Store,
    dir: &Path,
    tag: Option<&str>,
    name: Option<&str>,
) -> Result<Vec<LoadedImage>> {
    load_files(store, &Files::Dir(dir.to_path_buf()), tag, name)
}

fn load_files(
    store: &Store,
    files: &Files,
    tag: Option<&str>,
    name: Option<&str>,
) -> Result<Vec<LoadedImage>> {
    if files.exists("index.json") && files.exists("oci-layout") {
        oci::load(store, files, tag, name, &Platform::host())
    } else if files.exists("manifest.json") {
        docker::load(store, files, name)
    } else {
        Err(Error::Archive {
            path: files.path().to_path_buf(),
            reason: "no manifest.json (docker-archive) nor index.json and oci-layout (oci-archive): not an image archive".into(),
        })
    }
}

/// Writes `images`, each with the names to record for it, as one archive.
pub fn save(
    store: &Store,
    images: &[(ImageRecord, Vec<String>)],
    format: ArchiveFormat,
    out: impl Write,
) -> Result<()> {
    match format {
        ArchiveFormat::DockerArchive => docker::save(store, images, out),
        ArchiveFormat::OciArchive => oci::save(store, images, out),
    }
}

/// Appends one regular member of `size` bytes read from `data` (mode 0644, owner 0, mtime
/// 0, so that the same images always make the same archive).
pub(crate) fn tar_entry<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    size: u64,
    data: impl Read,
) -> Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, name, data)
        .map_err(io_err("cannot write archive member", Path::new(name)))
}

/// Ends an archive (the tar's end blocks) and flushes what it was written to.
pub(crate) fn finish<W: Write>(tar: tar::Builder<W>) -> Result<()> {
    tar.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(io_err("cannot write", Path::new("the archive")))
}
