//! A container's namespaces: which are new, which are joined by path, and entering them.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{OFlag, open};
use nix::sched::{CloneFlags, setns, unshare};
use nix::sys::stat::Mode;
use oci_spec::runtime::LinuxNamespace;

use crate::{Error, NamespaceKind, Result, sys};

/// The namespaces of one container, validated: each kind at most once, paths absolute.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespaces {
    entries: Vec<(NamespaceKind, Option<PathBuf>)>,
}

impl Namespaces {
    /// Reads `linux.namespaces`: an entry with a `path` is joined, one without is new.
    pub fn from_oci(config: &[LinuxNamespace]) -> Result<Self> {
        let mut entries: Vec<(NamespaceKind, Option<PathBuf>)> = Vec::with_capacity(config.len());
        for ns in config {
            let kind = NamespaceKind::from(ns.typ());
            if entries.iter().any(|(k, _)| *k == kind) {
                return Err(Error::Duplicate(kind));
            }
            if let Some(path) = ns.path() {
                if !path.is_absolute() {
                    return Err(Error::RelativePath {
                        kind,
                        path: path.clone(),
                    });
                }
            }
            entries.push((kind, ns.path().clone()));
        }
        Ok(Self { entries })
    }

    /// Whether the container has a namespace of `kind`, new or joined.
    pub fn contains(&self, kind: NamespaceKind) -> bool {
        self.entries.iter().any(|(k, _)| *k == kind)
    }

    /// Whether the container gets a new namespace of `kind`.
    pub fn is_new(&self, kind: NamespaceKind) -> bool {
        self.entries
            .iter()
            .any(|(k, path)| *k == kind && path.is_none())
    }

    /// The path of the namespace of `kind` the container joins, if it joins one.
    pub fn joined_path(&self, kind: NamespaceKind) -> Option<&Path> {
        self.entries
            .iter()
            .find(|(k, _)| *k == kind)
            .and_then(|(_, path)| path.as_deref())
    }

    /// The `CLONE_NEW*` flags of the new namespaces, optionally leaving out the user namespace
    /// (which must be unshared, and mapped, before the others).
    pub fn new_flags(&self, include_user: bool) -> CloneFlags {
        self.entries
            .iter()
            .filter(|(kind, path)| path.is_none() && (include_user || *kind != NamespaceKind::User))
            .fold(CloneFlags::empty(), |flags, (kind, _)| {
                flags | kind.clone_flag()
            })
    }

    /// Opens every joined namespace now, while its path is reachable, checking that each
    /// path really is a namespace of the kind the config says.
    pub fn open_joined(&self) -> Result<JoinedNamespaces> {
        let mut fds = Vec::new();
        for kind in NamespaceKind::ENTER_ORDER {
            let Some(path) = self.joined_path(kind) else {
                continue;
            };
            let fd = open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()).map_err(
                |source| Error::Open {
                    kind,
                    path: path.to_path_buf(),
                    source,
                },
            )?;
            match sys::namespace_type(fd.as_fd()) {
                Ok(found) if found == kind.clone_flag() => {}
                Ok(found) => {
                    return Err(Error::WrongKind {
                        path: path.to_path_buf(),
                        expected: kind,
                        found: kind_name(found),
                    });
                }
                Err(errno) => {
                    return Err(Error::WrongKind {
                        path: path.to_path_buf(),
                        expected: kind,
                        found: format!("not a namespace file: {errno}"),
                    });
                }
            }
            fds.push((kind, path.to_path_buf(), fd));
        }
        Ok(JoinedNamespaces { fds })
    }
}

/// Open descriptors of the namespaces a container joins, in entering order.
#[derive(Debug)]
pub struct JoinedNamespaces {
    fds: Vec<(NamespaceKind, PathBuf, OwnedFd)>,
}

impl JoinedNamespaces {
    /// Joins every namespace, user first and mount last. Pid and time namespaces take effect
    /// for the caller's children only.
    pub fn enter(&self) -> Result<()> {
        self.fds.iter().try_for_each(|(kind, path, fd)| {
            setns(fd, kind.clone_flag()).map_err(|source| Error::Join {
                kind: *kind,
                path: path.clone(),
                source,
            })
        })
    }

    /// Whether nothing is joined.
    pub fn is_empty(&self) -> bool {
        self.fds.is_empty()
    }
}

/// `unshare(2)` with an error naming the namespaces.
pub fn unshare_namespaces(flags: CloneFlags) -> Result<()> {
    if flags.is_empty() {
        return Ok(());
    }
    unshare(flags).map_err(|source| Error::Unshare {
        what: format!("{flags:?}"),
        source,
    })
}

fn kind_name(flags: CloneFlags) -> String {
    NamespaceKind::ENTER_ORDER
        .iter()
        .find(|kind| kind.clone_flag() == flags)
        .map_or_else(
            || format!("namespace type {:#x}", flags.bits()),
            |kind| format!("a {kind} namespace"),
        )
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::{LinuxNamespaceBuilder, LinuxNamespaceType};

    use super::*;

    fn ns(typ: LinuxNamespaceType, path: Option<&str>) -> LinuxNamespace {
        let mut b = LinuxNamespaceBuilder::default().typ(typ);
        if let Some(p) = path {
            b = b.path(p);
        }
        b.build().unwrap()
    }

    #[test]
    fn new_and_joined_namespaces_are_told_apart() {
        let n = Namespaces::from_oci(&[
            ns(LinuxNamespaceType::Pid, None),
            ns(LinuxNamespaceType::User, None),
            ns(LinuxNamespaceType::Network, Some("/run/netns/x")),
        ])
        .unwrap();
        assert!(n.is_new(NamespaceKind::Pid));
        assert!(!n.is_new(NamespaceKind::Net));
        assert!(n.contains(NamespaceKind::Net));
        assert!(!n.contains(NamespaceKind::Ipc));
        assert_eq!(
            n.joined_path(NamespaceKind::Net),
            Some(Path::new("/run/netns/x"))
        );
        assert_eq!(n.new_flags(false), CloneFlags::CLONE_NEWPID);
        assert_eq!(
            n.new_flags(true),
            CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWUSER
        );
    }

    #[test]
    fn a_kind_listed_twice_is_refused() {
        let err = Namespaces::from_oci(&[
            ns(LinuxNamespaceType::Ipc, None),
            ns(LinuxNamespaceType::Ipc, None),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "namespace ipc is listed twice in linux.namespaces"
        );
    }

    #[test]
    fn a_relative_path_is_refused() {
        let err =
            Namespaces::from_oci(&[ns(LinuxNamespaceType::Network, Some("netns/x"))]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "namespace network path netns/x must be absolute"
        );
    }

    #[test]
    fn a_missing_path_fails_on_open_naming_it() {
        let n =
            Namespaces::from_oci(&[ns(LinuxNamespaceType::Uts, Some("/nonexistent/uts"))]).unwrap();
        let err = n.open_joined().unwrap_err().to_string();
        assert!(
            err.starts_with("cannot open uts namespace /nonexistent/uts:"),
            "{err}"
        );
    }

    #[test]
    fn a_file_that_is_not_a_namespace_is_refused() {
        let n =
            Namespaces::from_oci(&[ns(LinuxNamespaceType::Uts, Some("/etc/hostname"))]).unwrap();
        let err = n.open_joined().unwrap_err().to_string();
        assert!(
            err.starts_with("/etc/hostname is not a uts namespace"),
            "{err}"
        );
    }

    #[test]
    fn a_namespace_of_another_kind_is_refused() {
        let n = Namespaces::from_oci(&[ns(LinuxNamespaceType::Network, Some("/proc/self/ns/uts"))])
            .unwrap();
        let err = n.open_joined().unwrap_err().to_string();
        assert_eq!(
            err,
            "/proc/self/ns/uts is not a network namespace (a uts namespace)"
        );
    }
}
