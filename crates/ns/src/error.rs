//! The crate's error type: each variant names the namespace or file and the cause.

use std::path::PathBuf;

use crate::NamespaceKind;

/// What can go wrong with namespaces.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("namespace {0} is listed twice in linux.namespaces")]
    Duplicate(NamespaceKind),
    #[error("namespace {kind} path {path} must be absolute")]
    RelativePath { kind: NamespaceKind, path: PathBuf },
    #[error("cannot open {kind} namespace {path}: {source}")]
    Open {
        kind: NamespaceKind,
        path: PathBuf,
        source: nix::Error,
    },
    #[error("{path} is not a {expected} namespace ({found})")]
    WrongKind {
        path: PathBuf,
        expected: NamespaceKind,
        found: String,
    },
    #[error("cannot join {kind} namespace {path}: {source}")]
    Join {
        kind: NamespaceKind,
        path: PathBuf,
        source: nix::Error,
    },
    #[error("cannot unshare {what}: {source}")]
    Unshare { what: String, source: nix::Error },
    #[error("cannot create a process ({how}): {source}")]
    Spawn {
        how: &'static str,
        source: nix::Error,
    },
    #[error("invalid {which} mapping {map}: {why}")]
    BadMapping {
        which: &'static str,
        map: String,
        why: &'static str,
    },
    #[error("cannot write {path}: {source}")]
    WriteMap {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot pin {kind} namespace at {path}: {source}")]
    Pin {
        kind: NamespaceKind,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot unpin namespace at {path}: {source}")]
    Unpin {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
