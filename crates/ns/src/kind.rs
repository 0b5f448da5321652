//! The namespace kinds and their names in the kernel and in the OCI spec.

use std::fmt;

use nix::sched::CloneFlags;
use oci_spec::runtime::LinuxNamespaceType;

/// A kind of Linux namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NamespaceKind {
    User,
    Pid,
    Uts,
    Ipc,
    Net,
    Cgroup,
    Time,
    Mount,
}

impl NamespaceKind {
    /// Every kind, in the order they are entered: user first (it grants the capabilities the
    /// others need), mount last (after it, host paths may no longer resolve).
    pub const ENTER_ORDER: [NamespaceKind; 8] = [
        Self::User,
        Self::Pid,
        Self::Uts,
        Self::Ipc,
        Self::Net,
        Self::Cgroup,
        Self::Time,
        Self::Mount,
    ];

    /// The `CLONE_NEW*` flag for this kind.
    pub fn clone_flag(self) -> CloneFlags {
        match self {
            Self::User => CloneFlags::CLONE_NEWUSER,
            Self::Pid => CloneFlags::CLONE_NEWPID,
            Self::Uts => CloneFlags::CLONE_NEWUTS,
            Self::Ipc => CloneFlags::CLONE_NEWIPC,
            Self::Net => CloneFlags::CLONE_NEWNET,
            Self::Cgroup => CloneFlags::CLONE_NEWCGROUP,
            // nix has no CLONE_NEWTIME flag; the value is the kernel's.
            Self::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
            Self::Mount => CloneFlags::CLONE_NEWNS,
        }
    }

    /// The file name under `/proc/<pid>/ns/`.
    pub fn proc_name(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Pid => "pid",
            Self::Uts => "uts",
            Self::Ipc => "ipc",
            Self::Net => "net",
            Self::Cgroup => "cgroup",
            Self::Time => "time",
            Self::Mount => "mnt",
        }
    }

    /// Whether joining or creating this kind affects only the children of the caller.
    pub fn applies_to_children(self) -> bool {
        matches!(self, Self::Pid | Self::Time)
    }
}

impl From<LinuxNamespaceType> for NamespaceKind {
    fn from(typ: LinuxNamespaceType) -> Self {
        match typ {
            LinuxNamespaceType::User => Self::User,
            LinuxNamespaceType::Pid => Self::Pid,
            LinuxNamespaceType::Uts => Self::Uts,
            LinuxNamespaceType::Ipc => Self::Ipc,
            LinuxNamespaceType::Network => Self::Net,
            LinuxNamespaceType::Cgroup => Self::Cgroup,
            LinuxNamespaceType::Time => Self::Time,
            LinuxNamespaceType::Mount => Self::Mount,
        }
    }
}

impl fmt::Display for NamespaceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Mount => "mount",
            Self::Net => "network",
            other => other.proc_name(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_is_entered_first_and_mount_last() {
        assert_eq!(
            NamespaceKind::ENTER_ORDER.first(),
            Some(&NamespaceKind::User)
        );
        assert_eq!(
            NamespaceKind::ENTER_ORDER.last(),
            Some(&NamespaceKind::Mount)
        );
    }

    #[test]
    fn every_kind_has_a_distinct_flag_and_proc_name() {
        let kinds = NamespaceKind::ENTER_ORDER;
        for (i, a) in kinds.iter().enumerate() {
            for b in &kinds[i + 1..] {
                assert_ne!(a.clone_flag(), b.clone_flag());
                assert_ne!(a.proc_name(), b.proc_name());
            }
        }
        assert_eq!(NamespaceKind::Time.clone_flag().bits(), 0x80);
    }
}
