//! The build context: lexically clean source paths, `.containerignore`/`.dockerignore`
//! patterns (Go `filepath.Match` patterns with `**`, matched with `glob`; the last
//! matching pattern decides, a pattern excluding a directory excludes what is below it,
//! `!` re-includes), resolution beneath a root with `openat2` (a `..` or a symlink that
//! leads out is refused, not clamped), and the digest of what a COPY reads.

use std::fs;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use nix::fcntl::{OFlag, ResolveFlag};
use nix::sys::stat::Mode;
use peapod_image::digest::Hasher;

use super::BuildError;

/// A source path made relative and lexically clean; `None` if it leaves its root.
pub(crate) fn clean(src: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in Path::new(src).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir if !out.pop() => return None,
            _ => {}
        }
    }
    Some(out)
}

/// `.containerignore` (else `.dockerignore`) patterns of a context: (pattern, excluded).
pub(crate) fn ignore_patterns(context: &Path) -> Result<Vec<(glob::Pattern, bool)>, BuildError> {
    let Some(path) = [".containerignore", ".dockerignore"]
        .iter()
        .map(|n| context.join(n))
        .find(|p| p.is_file())
    else {
        return Ok(Vec::new());
    };
    let text = fs::read_to_string(&path).map_err(BuildError::io("read", &path))?;
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (pattern, excluded) = match line.strip_prefix('!') {
            Some(p) => (p.trim(), false),
            None => (line, true),
        };
        let cleaned = clean(pattern).unwrap_or_default();
        let pattern =
            glob::Pattern::new(&cleaned.to_string_lossy()).map_err(|e| BuildError::Io {
                action: "parse the pattern in",
                path: path.clone(),
                source: std::io::Error::other(format!("{line:?}: {e}")),
            })?;
        out.push((pattern, excluded));
    }
    Ok(out)
}

pub(crate) const MATCH: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

/// Whether `rel` (relative to the context) is excluded: the last pattern matching it or
/// one of its parent directories decides (docker's rule).
pub(crate) fn ignored(patterns: &[(glob::Pattern, bool)], rel: &Path) -> bool {
    let mut excluded = false;
    for (p, ex) in patterns {
        if rel
            .ancestors()
            .filter(|a| !a.as_os_str().is_empty())
            .any(|a| p.matches_path_with(a, MATCH))
        {
            excluded = *ex;
        }
    }
    excluded
}

/// Every path below `dir` (relative to `base`), depth first, sorted.
pub(crate) fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), BuildError> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .map_err(BuildError::io("read", dir))?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    names.sort();
    for n in names {
        let p = dir.join(&n);
        let rel = p.strip_prefix(base).unwrap_or(&p).to_path_buf();
        out.push(rel);
        if fs::symlink_metadata(&p)
            .map(|m| m.is_dir())
            .unwrap_or(false)
        {
            walk(base, &p, out)?;
        }
    }
    Ok(())
}

/// Resolves `rel` beneath the directory `root` (`RESOLVE_BENEATH`: a `..` or a symlink
/// that leads out is refused with EXDEV rather than clamped); the real path of it.
pub(crate) fn beneath(root: &Path, rel: &Path, in_root: bool) -> Result<PathBuf, nix::Error> {
    let dir = nix::fcntl::open(
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let target = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let how = nix::fcntl::OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(if in_root {
            ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS
        } else {
            ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS
        });
    let fd = nix::fcntl::openat2(&dir, target, how)?;
    let real = fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map_err(|e| nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    Ok(real)
}

pub(crate) fn beneath_ok(ctx: &Path, rel: &Path) -> bool {
    beneath(ctx, rel, false).is_ok()
}

/// Hashes a source (and what is below it) as it will be copied: paths, types, modes,
/// owners, mtimes, contents and link targets.
pub(crate) fn hash_tree(
    ctx: &Path,
    rel: &Path,
    patterns: &[(glob::Pattern, bool)],
    h: &mut Hasher,
) -> Result<(), BuildError> {
    let abs = ctx.join(rel);
    let mut entries = vec![rel.to_path_buf()];
    if abs.is_dir() {
        let mut below = Vec::new();
        walk(ctx, &abs, &mut below)?;
        entries.extend(below.into_iter().filter(|p| !ignored(patterns, p)));
    }
    for e in entries {
        let p = ctx.join(&e);
        let m = fs::symlink_metadata(&p).map_err(BuildError::io("stat", &p))?;
        h.update(
            format!(
                "{}\0{:o}\0{}\0{}\0{}\0",
                e.display(),
                m.mode(),
                m.uid(),
                m.gid(),
                m.mtime()
            )
            .as_bytes(),
        );
        if m.is_file() {
            let mut f = fs::File::open(&p).map_err(BuildError::io("open", &p))?;
            let mut buf = vec![0u8; 64 << 10];
            loop {
                let n = f.read(&mut buf).map_err(BuildError::io("read", &p))?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
        } else if m.file_type().is_symlink() {
            let t = fs::read_link(&p).map_err(BuildError::io("read the link", &p))?;
            h.update(t.as_os_str().as_encoded_bytes());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
