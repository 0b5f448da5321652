//! Helpers for the unpack tests: a snapshot of a directory tree (everything the unpacker is
//! responsible for), the fixture images read straight from their OCI layout, and raw tar
//! building for hostile archives.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::ffi::CString;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use peapod_image::Digest;
use peapod_image::unpack::{
    Compression, UnpackError, UnpackMode, UnpackOptions, UnpackReport, decompress, unpack,
};
use std::os::unix::fs::PermissionsExt;
use tar::{EntryType, Header};

/// Fails (never skips) unless root.
pub fn assert_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this privileged test must run as root (cargo xtask test)"
    );
}

/// One object of a tree, as compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: i64,
    /// File contents' digest, symlink target, or device numbers.
    pub data: String,
    pub xattrs: BTreeMap<String, Vec<u8>>,
    /// The first path (in sorted order) with the same inode, for hard links.
    pub link_group: String,
}

/// Every path under `root` (relative, sorted), with what it is.
pub fn snapshot(root: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    let mut inodes: HashMap<(u64, u64), String> = HashMap::new();
    walk(root, root, &mut out, &mut inodes);
    out
}

fn walk(
    root: &Path,
    dir: &Path,
    out: &mut BTreeMap<String, Node>,
    inodes: &mut HashMap<(u64, u64), String>,
) {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for path in names {
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let md = std::fs::symlink_metadata(&path).unwrap();
        let ft = md.file_type();
        let (kind, data) = if ft.is_dir() {
            ("dir", String::new())
        } else if ft.is_symlink() {
            (
                "symlink",
                std::fs::read_link(&path)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            )
        } else if ft.is_file() {
            (
                "file",
                Digest::of(&std::fs::read(&path).unwrap()).to_string(),
            )
        } else if ft.is_char_device() {
            ("char", format!("{:x}", md.rdev()))
        } else if ft.is_block_device() {
            ("block", format!("{:x}", md.rdev()))
        } else {
            ("fifo", String::new())
        };
        let link_group = if !ft.is_dir() && md.nlink() > 1 {
            inodes
                .entry((md.dev(), md.ino()))
                .or_insert_with(|| rel.clone())
                .clone()
        } else {
            String::new()
        };
        out.insert(
            rel.clone(),
            Node {
                kind,
                mode: md.mode() & 0o7777,
                uid: md.uid(),
                gid: md.gid(),
                size: if ft.is_file() { md.size() } else { 0 },
                mtime: if ft.is_dir() { 0 } else { md.mtime() },
                data,
                xattrs: xattrs(&path),
                link_group,
            },
        );
        if ft.is_dir() {
            walk(root, &path, out, inodes);
        }
    }
}

/// Every xattr of `path` (not following a symlink).
pub fn xattrs(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    let mut names = vec![0u8; 64 * 1024];
    // SAFETY: `c` is NUL-terminated; the buffer is valid for its length.
    let n = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    assert!(n >= 0, "llistxattr {}", path.display());
    let mut out = BTreeMap::new();
    for name in names[..n as usize]
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
    {
        let cname = CString::new(name).unwrap();
        let mut value = vec![0u8; 64 * 1024];
        // SAFETY: both strings are NUL-terminated; the buffer is valid for its length.
        let len = unsafe {
            libc::lgetxattr(
                c.as_ptr(),
                cname.as_ptr(),
                value.as_mut_ptr().cast(),
                value.len(),
            )
        };
        assert!(len >= 0, "lgetxattr {}", path.display());
        value.truncate(len as usize);
        out.insert(String::from_utf8_lossy(name).into_owned(), value);
    }
    out
}

/// A fixture image read from `target/fixtures/<name>/oci`.
#[derive(Debug)]
pub struct Fixture {
    pub layout: PathBuf,
    /// (media type, blob path) per layer, bottom first.
    pub layers: Vec<(String, PathBuf)>,
    pub diff_ids: Vec<String>,
}

pub fn fixture(name: &str) -> Fixture {
    let layout = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/fixtures")
        .join(name)
        .join("oci");
    assert!(
        layout.join("index.json").exists(),
        "{} is missing: run `cargo xtask fixtures`",
        layout.display()
    );
    let blob = |digest: &str| {
        layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    let json = |p: PathBuf| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    let index = json(layout.join("index.json"));
    let manifest = json(blob(index["manifests"][0]["digest"].as_str().unwrap()));
    let config = json(blob(manifest["config"]["digest"].as_str().unwrap()));
    let layers = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["mediaType"].as_str().unwrap().to_owned(),
                blob(l["digest"].as_str().unwrap()),
            )
        })
        .collect();
    let diff_ids = config["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_owned())
        .collect();
    Fixture {
        layout,
        layers,
        diff_ids,
    }
}

/// Unpacks layer `i` of `f` into `dest`.
pub fn unpack_layer(f: &Fixture, i: usize, dest: &Path, opts: &UnpackOptions) -> UnpackReport {
    unpack(layer_tar(f, i).as_slice(), dest, opts).unwrap()
}

/// The uncompressed tar of layer `i` of `f`, decompressed (by media type, through
/// [`decompress`]) once per test process: a debug build decompresses slowly, ten times
/// more so in the emulated VM.
pub fn layer_tar(f: &Fixture, i: usize) -> std::sync::Arc<Vec<u8>> {
    static CACHE: std::sync::Mutex<BTreeMap<PathBuf, std::sync::Arc<Vec<u8>>>> =
        std::sync::Mutex::new(BTreeMap::new());
    let (media_type, blob) = &f.layers[i];
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry(blob.clone())
        .or_insert_with(|| {
            let compression = Compression::from_media_type(media_type).unwrap();
            let file = std::io::BufReader::new(std::fs::File::open(blob).unwrap());
            std::sync::Arc::new(read_all(decompress(file, compression).unwrap()))
        })
        .clone()
}

/// What `umoci raw unpack` makes of fixture `name`, in `dir/umoci`.
pub fn umoci_unpack(name: &str, dir: &Path) -> PathBuf {
    let f = fixture(name);
    let out = dir.join("umoci");
    let status = std::process::Command::new("umoci")
        .args(["raw", "unpack", "--image"])
        .arg(format!("{}:latest", f.layout.display()))
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "umoci raw unpack {name} failed");
    out
}

/// Compares two snapshots, listing every difference.
pub fn assert_same_tree(got: &BTreeMap<String, Node>, want: &BTreeMap<String, Node>) {
    assert!(
        want.len() > 10,
        "the reference tree is nearly empty: {want:?}"
    );
    let mut diffs = Vec::new();
    for (path, w) in want {
        match got.get(path) {
            None => diffs.push(format!("missing {path}: {w:?}")),
            Some(g) if g != w => diffs.push(format!("{path}:\n  got  {g:?}\n  want {w:?}")),
            _ => {}
        }
    }
    for path in got.keys().filter(|p| !want.contains_key(*p)) {
        diffs.push(format!("extra {path}: {:?}", got[path]));
    }
    assert!(diffs.is_empty(), "trees differ:\n{}", diffs.join("\n"));
}

/// Reads `r` to the end.
pub fn read_all(mut r: impl Read) -> Vec<u8> {
    let mut v = Vec::new();
    r.read_to_end(&mut v).unwrap();
    v
}

/// A header with `path` written raw into the name field (no sanitising), as a hostile tool
/// would.
pub fn header(path: &str, kind: EntryType, size: u64, mode: u32) -> Header {
    let mut h = Header::new_ustar();
    let name = &mut h.as_old_mut().name;
    assert!(path.len() <= name.len(), "{path}");
    name[..path.len()].copy_from_slice(path.as_bytes());
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(946_684_800);
    h.set_cksum();
    h
}

pub fn link(path: &str, kind: EntryType, target: &str) -> Header {
    let mut h = header(path, kind, 0, 0o777);
    let field = &mut h.as_old_mut().linkname;
    field[..target.len()].copy_from_slice(target.as_bytes());
    h.set_cksum();
    h
}

/// A tar of `(header, data)` pairs.
pub fn tar(entries: &[(Header, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (h, data) in entries {
        b.append(h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// A temporary directory with `dest/` (what is unpacked into) and `outside/` (a sentinel
/// tree: `passwd`, `etc/`, `target` mode 0600) beside it.
pub struct Scene {
    pub tmp: tempfile::TempDir,
    pub dest: PathBuf,
    pub before: BTreeMap<String, Node>,
}

impl Scene {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("dest");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&dest).unwrap();
        std::fs::create_dir_all(outside.join("etc")).unwrap();
        std::fs::write(outside.join("passwd"), "sentinel\n").unwrap();
        std::fs::write(outside.join("target"), "target\n").unwrap();
        std::fs::set_permissions(
            outside.join("target"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let before = outside_of(tmp.path());
        Self { tmp, dest, before }
    }

    pub fn outside(&self) -> PathBuf {
        self.tmp.path().join("outside")
    }

    pub fn unpack(&self, tar: &[u8], opts: &UnpackOptions) -> Result<UnpackReport, UnpackError> {
        unpack(tar, &self.dest, opts)
    }

    /// Nothing beside `dest` changed.
    pub fn assert_untouched(&self) {
        let now = outside_of(self.tmp.path());
        assert_eq!(now, self.before, "something was written outside dest");
        // Nor above the temporary directory.
        assert!(!self.tmp.path().parent().unwrap().join("evil").exists());
    }
}

pub fn outside_of(tmp: &Path) -> BTreeMap<String, Node> {
    snapshot(tmp)
        .into_iter()
        .filter(|(p, _)| p != "dest" && !p.starts_with("dest/"))
        .collect()
}

pub fn opts() -> UnpackOptions {
    UnpackOptions::rootless()
}

pub fn apply() -> UnpackOptions {
    UnpackOptions {
        mode: UnpackMode::Apply,
        ..UnpackOptions::rootless()
    }
}
