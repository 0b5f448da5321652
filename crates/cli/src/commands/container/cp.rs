//! `peapod cp`: copies files or trees between a container (running or not) and the host,
//! or a tar stream (`-`) in or out, as `docker cp` does.

use std::path::{Component, Path, PathBuf};

use anyhow::{Result, bail};
use peapod_engine::container::ObserveError;
use peapod_engine::cp::CpError;

use crate::commands::Globals;

/// `cp [-a] [-L] SRC DEST`, one of them `CONTAINER:PATH`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// `CONTAINER:PATH`, a host path, or `-` (a tar stream from stdin).
    src: String,
    /// `CONTAINER:PATH`, a host path, or `-` (a tar stream to stdout).
    dest: String,
    /// Archive mode: copies into the container belong to its user (uid:gid).
    #[arg(short, long)]
    archive: bool,
    /// Follow a symlink given as SRC.
    #[arg(short = 'L', long)]
    follow_link: bool,
}

/// One side of the copy.
#[derive(Debug, PartialEq, Eq)]
enum Side<'a> {
    /// `-`.
    Stream,
    /// A host path.
    Host(&'a str),
    /// `CONTAINER:PATH`.
    Container(&'a str, &'a str),
}

/// docker's `splitCpArg`: an absolute or `.`-led path is the host's even with a `:`;
/// otherwise `NAME:PATH` names a container.
fn side(arg: &str) -> Side<'_> {
    if arg == "-" {
        return Side::Stream;
    }
    if arg.starts_with('/') || arg.starts_with('.') {
        return Side::Host(arg);
    }
    match arg.split_once(':') {
        Some((name, path)) if !name.is_empty() => Side::Container(name, path),
        _ => Side::Host(arg),
    }
}

/// A container path as the engine shows it: absolute, lexically cleaned.
fn clean(path: &str) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in Path::new(path).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// docker's message when a container path (or its parent) is missing.
fn explain(e: ObserveError, container: &str, path: &str) -> anyhow::Error {
    if let Some(CpError::NotFound(missing)) = e.as_copy()
        && clean(path).starts_with(missing)
    {
        return anyhow::anyhow!("Could not find the file {missing} in container {container}");
    }
    e.into()
}

/// Copies as the two sides say.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let (src, dest) = (side(&args.src), side(&args.dest));
    let engine = globals.engine()?;
    let containers = engine.containers();
    let follow = args.follow_link;
    match (src, dest) {
        (Side::Container(..), Side::Container(..)) => {
            bail!("copying between containers is not supported")
        }
        (Side::Container(c, path), Side::Stream) => containers
            .copy_out(c, path, follow, std::io::stdout().lock())
            .map_err(|e| explain(e, c, path)),
        (Side::Container(c, path), Side::Host(host)) => containers
            .copy_from(c, path, follow, Path::new(host))
            .map_err(|e| explain(e, c, path)),
        (Side::Stream, Side::Container(c, path)) => containers
            .copy_in(c, std::io::stdin(), path, args.archive)
            .map_err(|e| explain(e, c, path)),
        (Side::Host(host), Side::Container(c, path)) => {
            if std::fs::symlink_metadata(host).is_err() {
                bail!("could not find the file {host} on the host: no such file or directory");
            }
            containers
                .copy_to(c, Path::new(host), follow, path, args.archive)
                .map_err(|e| explain(e, c, path))
        }
        _ => bail!("must specify at least one container source (CONTAINER:PATH)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_split_as_docker_splits_them() {
        assert_eq!(side("-"), Side::Stream);
        assert_eq!(side("web:/etc"), Side::Container("web", "/etc"));
        assert_eq!(side("web:"), Side::Container("web", ""));
        assert_eq!(side("/tmp/a:b"), Side::Host("/tmp/a:b"));
        assert_eq!(side("./a:b"), Side::Host("./a:b"));
        assert_eq!(side("file"), Side::Host("file"));
        assert_eq!(side(":x"), Side::Host(":x"));
        assert_eq!(clean("a/../b/./c"), PathBuf::from("/b/c"));
    }
}
