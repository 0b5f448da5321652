//! COPY and ADD: sources from the context (never outside it: `../x` and symlinks leading
//! out are refused, `.containerignore`/`.dockerignore` honoured), from another stage or
//! an image (`--from`), wildcards, `--chown`, `--chmod`; ADD extracts local tar archives
//! (plain, gzip or zstd). The files are written into the stage's overlay through fds
//! resolved inside its root, so an image's symlinks cannot send them out either.

use std::fs;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use peapod_image::Digest;
use peapod_image::digest::Hasher;
use peapod_image::store::ImageLayer;

use super::BuildError;
use super::context::{
    MATCH, beneath, beneath_ok, clean, hash_tree, ignore_patterns, ignored, walk,
};
use super::parse::Instruction;
use super::stage::{Builder, Current};
use super::workspace::{Workspace, mkdir_in_root};

/// Where a COPY's sources are read from.
pub(crate) enum Origin {
    /// The context directory (canonical).
    Context(PathBuf),
    /// Another stage's or an image's layers.
    Layers(Vec<ImageLayer>),
}

/// A COPY/ADD ready to run: what it copies and the digest of it (for the cache key).
pub(crate) struct Plan {
    pub(crate) digest: Digest,
    origin: Origin,
    /// Sources relative to the origin's root, as resolved (wildcards expanded).
    sources: Vec<PathBuf>,
    dest: String,
    dest_is_dir: bool,
}

fn context_err(ins: &Instruction, src: &str, message: impl Into<String>) -> BuildError {
    BuildError::Context {
        line: ins.line,
        keyword: ins.keyword.clone(),
        source_path: src.to_owned(),
        message: message.into(),
    }
}

/// Works out a COPY/ADD's sources and their digest, before anything is copied.
pub(crate) fn plan(
    b: &Builder<'_>,
    ins: &Instruction,
    cur: &Current,
    stage: usize,
) -> Result<Plan, BuildError> {
    let mut words = Vec::new();
    for w in ins.args.words() {
        words.push(cur.expand(&w, ins.line)?);
    }
    if words.len() < 2 {
        return Err(BuildError::at(
            ins.line,
            &ins.keyword,
            "expected at least one source and a destination",
        ));
    }
    let dest_word = words.pop().unwrap_or_default();
    let workdir = cur.state.workdir();
    let dest = if dest_word.starts_with('/') {
        dest_word.clone()
    } else {
        format!("{}/{dest_word}", workdir.trim_end_matches('/'))
    };
    let mut hasher = Hasher::new();
    let origin = match ins.flag("from") {
        Some(from) => {
            let from = cur.expand(from, ins.line)?;
            let state = match b.stage_index(&from, stage) {
                Some(i) => b.stage_state(i).cloned(),
                None => None,
            };
            let layers = match state {
                Some(s) => s.image_layers(),
                None => {
                    let flag = format!("{} --from", ins.keyword);
                    b.base_image(&from, ins.line, &flag)?.0.image_layers()
                }
            };
            for l in &layers {
                hasher.update(l.chain_id.to_string().as_bytes());
            }
            Origin::Layers(layers)
        }
        None => match &b.context {
            Some(c) => Origin::Context(c.clone()),
            None => {
                return Err(context_err(
                    ins,
                    &words[0],
                    "there is no build context (the Containerfile came from stdin)",
                ));
            }
        },
    };
    let mut sources = Vec::new();
    let wildcard = words.iter().any(|w| w.contains(['*', '?', '[']));
    match &origin {
        Origin::Context(ctx) => {
            let patterns = ignore_patterns(ctx)?;
            let mut all: Option<Vec<PathBuf>> = None;
            for w in &words {
                if w.starts_with("http://") || w.starts_with("https://") || w.starts_with("git@") {
                    return Err(context_err(
                        ins,
                        w,
                        "remote sources are not supported (only files of the build context)",
                    ));
                }
                let rel = clean(w)
                    .ok_or_else(|| context_err(ins, w, "it is outside the build context"))?;
                if Path::new(w).components().any(|c| c == Component::ParentDir)
                    && !beneath_ok(ctx, &rel)
                {
                    return Err(context_err(ins, w, "it is outside the build context"));
                }
                if w.contains(['*', '?', '[']) {
                    let pattern = glob::Pattern::new(&rel.to_string_lossy())
                        .map_err(|e| context_err(ins, w, e.to_string()))?;
                    if all.is_none() {
                        let mut v = Vec::new();
                        walk(ctx, ctx, &mut v)?;
                        all = Some(v);
                    }
                    let matched: Vec<PathBuf> = all
                        .iter()
                        .flatten()
                        .filter(|p| pattern.matches_path_with(p, MATCH) && !ignored(&patterns, p))
                        .cloned()
                        .collect();
                    if matched.is_empty() {
                        return Err(context_err(
                            ins,
                            w,
                            "no file in the build context matches it",
                        ));
                    }
                    sources.extend(matched);
                    continue;
                }
                let real = beneath(ctx, &rel, false).map_err(|e| match e {
                    nix::Error::EXDEV | nix::Error::ELOOP => context_err(
                        ins,
                        w,
                        "it leads outside the build context (through a symlink or ..)",
                    ),
                    nix::Error::ENOENT => {
                        context_err(ins, w, "no such file or directory in the build context")
                    }
                    e => context_err(ins, w, e.desc()),
                })?;
                let rel = real
                    .strip_prefix(ctx)
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                if ignored(&patterns, &rel) && !rel.as_os_str().is_empty() {
                    return Err(context_err(
                        ins,
                        w,
                        "it is excluded by .containerignore/.dockerignore",
                    ));
                }
                sources.push(rel);
            }
            for s in &sources {
                hash_tree(ctx, s, &patterns, &mut hasher)?;
            }
        }
        Origin::Layers(_) => {
            for w in &words {
                sources.push(clean(w).unwrap_or_default());
                hasher.update(w.as_bytes());
                hasher.update(b"\0");
            }
        }
    }
    let dest_is_dir = dest_word.ends_with('/') || sources.len() > 1 || wildcard;
    hasher.update(
        format!(
            "{dest}\0{dest_is_dir}\0{:?}\0{:?}",
            ins.flag("chown"),
            ins.flag("chmod")
        )
        .as_bytes(),
    );
    Ok(Plan {
        digest: hasher.finish(),
        origin,
        sources,
        dest,
        dest_is_dir,
    })
}

/// Copies what `plan` names into an overlay of the stage; the layer it makes.
pub(crate) fn execute(
    b: &Builder<'_>,
    ins: &Instruction,
    cur: &Current,
    plan: Plan,
) -> Result<ImageLayer, BuildError> {
    let store = b.engine.images.store();
    let layers = cur.state.image_layers();
    let ws = Workspace::mount(store, &layers)?;
    let root = ws.root_fd()?;
    let owner = match ins.flag("chown") {
        Some(spec) => {
            let spec = cur.expand(spec, ins.line)?;
            let read = |p: &str| -> String {
                peapod_rootfs::open_in_root(root.as_fd(), Path::new(p), OFlag::O_RDONLY)
                    .ok()
                    .and_then(|fd| {
                        let mut s = String::new();
                        fs::File::from(fd)
                            .take(1 << 20)
                            .read_to_string(&mut s)
                            .ok()
                            .map(|_| s)
                    })
                    .unwrap_or_default()
            };
            let u = crate::spec::resolve_user(&spec, &read("/etc/passwd"), &read("/etc/group"))
                .map_err(|e| {
                    BuildError::at(ins.line, &ins.keyword, format!("--chown={spec}: {e}"))
                })?;
            Some((u.uid, u.gid))
        }
        None => None,
    };
    let chmod = match ins.flag("chmod") {
        Some(m) => Some(
            u32::from_str_radix(m, 8)
                .ok()
                .filter(|m| *m <= 0o7777)
                .ok_or_else(|| {
                    BuildError::at(
                        ins.line,
                        &ins.keyword,
                        format!("--chmod={m}: expected an octal mode like 0644"),
                    )
                })?,
        ),
        None => None,
    };
    // The origin's root on the host: the context, or a mounted overlay of the other image.
    let from_ws;
    let (origin_root, in_root) = match &plan.origin {
        Origin::Context(c) => (c.clone(), false),
        Origin::Layers(l) => {
            from_ws = Workspace::mount(store, l)?;
            (from_ws.merged(), true)
        }
    };
    let copier = Copier {
        owner,
        chmod,
        add: ins.keyword == "ADD",
    };
    let patterns = match &plan.origin {
        Origin::Context(c) => ignore_patterns(c)?,
        Origin::Layers(_) => Vec::new(),
    };
    for src in &plan.sources {
        let real = beneath(&origin_root, src, in_root)
            .map_err(|e| context_err(ins, &src.to_string_lossy(), e.desc()))?;
        let meta = fs::metadata(&real).map_err(BuildError::io("stat", &real))?;
        let name = real.file_name().map(PathBuf::from).unwrap_or_default();
        if meta.is_dir() {
            let dir = mkdir_in_root(&root, Path::new(&plan.dest), owner)?;
            copier.fix(&dir, &meta, true)?;
            copier.tree(&real, &dir, &origin_root, &patterns, in_root)?;
        } else if copier.add && is_archive(&real) {
            let dir = mkdir_in_root(&root, Path::new(&plan.dest), owner)?;
            let file = fs::File::open(&real).map_err(BuildError::io("open", &real))?;
            let opts = peapod_image::unpack::UnpackOptions {
                mode: peapod_image::unpack::UnpackMode::Apply,
                ..Default::default()
            };
            let stream = peapod_image::unpack::decompress(
                file,
                peapod_image::unpack::Compression::from_magic(&magic(&real)),
            )
            .map_err(BuildError::io("read", &real))?;
            peapod_image::unpack::unpack(
                stream,
                Path::new(&format!("/proc/self/fd/{}", dir.as_raw_fd())),
                &opts,
            )
            .map_err(peapod_image::Error::from)?;
        } else {
            let into_dir = plan.dest_is_dir
                || peapod_rootfs::open_in_root(
                    root.as_fd(),
                    Path::new(&plan.dest),
                    OFlag::O_DIRECTORY | OFlag::O_RDONLY,
                )
                .is_ok();
            let target = if into_dir {
                Path::new(&plan.dest).join(&name)
            } else {
                PathBuf::from(&plan.dest)
            };
            let parent = target.parent().unwrap_or(Path::new("/"));
            let dir = mkdir_in_root(&root, parent, owner)?;
            let fname = target.file_name().map(PathBuf::from).unwrap_or(name);
            copier.entry(&real, &meta, &dir, &fname)?;
        }
    }
    drop(root);
    let parent = layers.last().map(|l| l.chain_id.clone());
    ws.commit(store, parent.as_ref(), b.opts.source_date_epoch, None)
}

fn magic(path: &Path) -> Vec<u8> {
    let mut head = vec![0u8; 512];
    let n = fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    head.truncate(n);
    head
}

/// Whether ADD extracts the file: a tar, or a gzip or zstd stream (of a tar).
fn is_archive(path: &Path) -> bool {
    let head = magic(path);
    head.starts_with(&[0x1f, 0x8b])
        || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || head.get(257..262) == Some(b"ustar")
}

struct Copier {
    owner: Option<(u32, u32)>,
    chmod: Option<u32>,
    add: bool,
}

impl Copier {
    /// Owner, mode and mtime of a made entry.
    fn fix(&self, fd: &OwnedFd, meta: &fs::Metadata, dir: bool) -> Result<(), BuildError> {
        let (uid, gid) = self.owner.unwrap_or((0, 0));
        let io = |e: nix::Error| {
            BuildError::io("set the owner and mode of", Path::new("a copied file"))(e.into())
        };
        nix::unistd::fchown(fd, Some(uid.into()), Some(gid.into())).map_err(io)?;
        let mode = self.chmod.unwrap_or(meta.permissions().mode() & 0o7777);
        nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(mode)).map_err(io)?;
        if !dir {
            let t = nix::sys::time::TimeSpec::new(meta.mtime(), meta.mtime_nsec());
            nix::sys::stat::futimens(fd, &t, &t).map_err(io)?;
        }
        Ok(())
    }

    /// Copies the children of `src` into the directory `dir`.
    fn tree(
        &self,
        src: &Path,
        dir: &OwnedFd,
        origin: &Path,
        patterns: &[(glob::Pattern, bool)],
        in_root: bool,
    ) -> Result<(), BuildError> {
        let mut names: Vec<_> = fs::read_dir(src)
            .map_err(BuildError::io("read", src))?
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        names.sort();
        for n in names {
            let p = src.join(&n);
            if !in_root && ignored(patterns, p.strip_prefix(origin).unwrap_or(&p)) {
                continue;
            }
            let meta = fs::symlink_metadata(&p).map_err(BuildError::io("stat", &p))?;
            self.entry(&p, &meta, dir, Path::new(&n))?;
            if meta.is_dir() {
                let child = nix::fcntl::openat(
                    dir,
                    Path::new(&n),
                    OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| BuildError::io("open", &p)(e.into()))?;
                self.tree(&p, &child, origin, patterns, in_root)?;
            }
        }
        Ok(())
    }

    /// Makes `name` in `dir` like `src` (a file, directory or symlink).
    fn entry(
        &self,
        src: &Path,
        meta: &fs::Metadata,
        dir: &OwnedFd,
        name: &Path,
    ) -> Result<(), BuildError> {
        let err = |e: nix::Error| BuildError::io("write", src)(e.into());
        let ft = meta.file_type();
        if ft.is_dir() {
            match nix::sys::stat::mkdirat(dir, name, Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(nix::Error::EEXIST) => {}
                Err(e) => return Err(err(e)),
            }
            let fd = nix::fcntl::openat(
                dir,
                name,
                OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(err)?;
            return self.fix(&fd, meta, true);
        }
        let _ = nix::unistd::unlinkat(dir, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
        if ft.is_symlink() {
            let target = fs::read_link(src).map_err(BuildError::io("read the link", src))?;
            nix::unistd::symlinkat(target.as_path(), dir, name).map_err(err)?;
            let (uid, gid) = self.owner.unwrap_or((0, 0));
            nix::unistd::fchownat(
                dir,
                name,
                Some(uid.into()),
                Some(gid.into()),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(err)?;
            return Ok(());
        }
        if !ft.is_file() {
            // Devices, fifos and sockets of a context are not copied (docker copies none).
            return Ok(());
        }
        let fd = nix::fcntl::openat(
            dir,
            name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(err)?;
        let mut out = fs::File::from(fd);
        let mut input = fs::File::open(src).map_err(BuildError::io("open", src))?;
        std::io::copy(&mut input, &mut out).map_err(BuildError::io("copy", src))?;
        self.fix(&OwnedFd::from(out), meta, false)
    }
}
