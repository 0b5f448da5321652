//! The container process's identity and privileges, applied by init just before exec:
//! rlimits, user and groups, capabilities, no_new_privileges, umask.

use std::str::FromStr;

use caps::{CapSet, Capability as Cap, CapsHashSet};
use nix::sys::resource::{Resource, setrlimit};
use nix::unistd::{Gid, Uid, setgroups, setresgid, setresuid};
use oci_spec::runtime::{Capabilities, LinuxCapabilities, PosixRlimit, PosixRlimitType, User};

use crate::{Error, Result};

/// `setrlimit` for each of `process.rlimits`.
pub(crate) fn set_rlimits(rlimits: &[PosixRlimit]) -> Result<()> {
    for rlimit in rlimits {
        setrlimit(resource(rlimit.typ()), rlimit.soft(), rlimit.hard()).map_err(Error::sys(
            format!(
                "set rlimit {:?} to {}:{}",
                rlimit.typ(),
                rlimit.soft(),
                rlimit.hard()
            ),
        ))?;
    }
    Ok(())
}

fn resource(typ: PosixRlimitType) -> Resource {
    match typ {
        PosixRlimitType::RlimitCpu => Resource::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => Resource::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => Resource::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => Resource::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => Resource::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => Resource::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => Resource::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => Resource::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => Resource::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => Resource::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => Resource::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => Resource::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

/// Becomes `user` (groups first, then gid, then uid), keeping the permitted capabilities
/// across the uid change so that [`set_capabilities`] can then set exactly the configured
/// sets. `may_setgroups` is false in a user namespace whose setgroups was denied.
pub(crate) fn set_user(user: &User, may_setgroups: bool) -> Result<()> {
    let uid = Uid::from_raw(user.uid());
    let gid = Gid::from_raw(user.gid());
    if may_setgroups {
        let groups: Vec<Gid> = user
            .additional_gids()
            .iter()
            .flatten()
            .map(|g| Gid::from_raw(*g))
            .collect();
        setgroups(&groups).map_err(Error::sys(format!("set additional groups {groups:?}")))?;
    }
    nix::sys::prctl::set_keepcaps(true).map_err(Error::sys("keep capabilities across setuid"))?;
    setresgid(gid, gid, gid).map_err(Error::sys(format!("set gid {gid}")))?;
    setresuid(uid, uid, uid).map_err(Error::sys(format!("set uid {uid}")))?;
    nix::sys::prctl::set_keepcaps(false).map_err(Error::sys("reset keepcaps"))
}

fn caps_error(what: &'static str) -> impl Fn(caps::errors::CapsError) -> Error {
    move |e| Error::Sys {
        what: format!("set the {what} capabilities: {e}"),
        source: nix::Error::EPERM,
    }
}

/// Reduces the bounding set. It needs CAP_SETPCAP in the effective set, so it runs before
/// the uid change clears that set.
pub(crate) fn drop_bounding(capabilities: Option<&LinuxCapabilities>) -> Result<()> {
    let Some(c) = capabilities else { return Ok(()) };
    let bounding = to_caps(c.bounding().as_ref());
    for cap in caps::all() {
        if bounding.contains(&cap) {
            continue;
        }
        // Drop first, ask only on failure: one prctl per capability instead of two.
        // Dropping an absent capability succeeds; one this kernel does not know is absent.
        if caps::drop(None, CapSet::Bounding, cap).is_err()
            && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false)
        {
            caps::drop(None, CapSet::Bounding, cap).map_err(caps_error("bounding"))?;
        }
    }
    Ok(())
}

/// Whether the configured effective set holds CAP_SYS_ADMIN (which loading a seccomp filter
/// without no_new_privileges needs).
pub(crate) fn has_effective_sys_admin(c: &LinuxCapabilities) -> bool {
    to_caps(c.effective().as_ref()).contains(&Cap::CAP_SYS_ADMIN)
}

/// Sets the effective, permitted, inheritable and ambient sets (after [`drop_bounding`] and
/// the uid change). An absent `capabilities` leaves the process's capabilities unchanged.
/// `keep_sys_admin`: CAP_SYS_ADMIN stays in the effective and permitted sets (to load a
/// seccomp filter), until [`set_capabilities_only`] drops it.
pub(crate) fn set_capabilities(
    capabilities: Option<&LinuxCapabilities>,
    keep_sys_admin: bool,
) -> Result<()> {
    let Some(c) = capabilities else { return Ok(()) };
    let fail = caps_error;
    let extra = if keep_sys_admin {
        1u64 << Cap::CAP_SYS_ADMIN.index()
    } else {
        0
    };
    let FinalSets(effective, permitted, inheritable) = FinalSets::of(c);
    // The three sets change together in one capset(2): set one at a time, the kernel would
    // see an effective set larger than the new permitted one and refuse.
    capset(effective | extra, permitted | extra, inheritable)?;
    // Ambient raising fails for a capability missing from permitted or inheritable; runc
    // ignores those, and so do we (the kernel's rule, not a config error).
    caps::clear(None, CapSet::Ambient).map_err(fail("ambient"))?;
    for cap in to_caps(c.ambient().as_ref()) {
        let _ = caps::raise(None, CapSet::Ambient, cap);
    }
    Ok(())
}

/// The configured effective, permitted and inheritable sets as capset(2) masks, computed
/// beforehand for [`FinalSets::apply`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct FinalSets(u64, u64, u64);

impl FinalSets {
    pub(crate) fn of(c: &LinuxCapabilities) -> Self {
        Self(
            mask(&to_caps(c.effective().as_ref())),
            mask(&to_caps(c.permitted().as_ref())),
            mask(&to_caps(c.inheritable().as_ref())),
        )
    }

    /// One capset(2) and nothing else: what is left to do after a seccomp filter loaded
    /// under [`set_capabilities`]'s `keep_sys_admin` (the ambient set already holds only
    /// capabilities these sets keep).
    pub(crate) fn apply(self) -> Result<()> {
        capset(self.0, self.1, self.2)
    }
}

fn mask(set: &CapsHashSet) -> u64 {
    set.iter().fold(0, |m, cap| m | (1u64 << cap.index()))
}

/// capset(2) with version 3 (64-bit) sets; nix has no wrapper.
fn capset(effective: u64, permitted: u64, inheritable: u64) -> Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let half = |m: u64, hi: bool| if hi { (m >> 32) as u32 } else { m as u32 };
    let data = [false, true].map(|hi| Data {
        effective: half(effective, hi),
        permitted: half(permitted, hi),
        inheritable: half(inheritable, hi),
    });
    // SAFETY: capset reads one header and two data structs (version 3), both live and
    // correctly laid out (#[repr(C)]) for the duration of the call.
    let ret = unsafe { libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) };
    nix::errno::Errno::result(ret).map(drop).map_err(Error::sys(format!(
        "set capabilities (effective {effective:#x}, permitted {permitted:#x}, inheritable {inheritable:#x})"
    )))
}

/// OCI capability names to the caps crate's; every OCI name the kernel knows has a twin.
fn to_caps(set: Option<&Capabilities>) -> CapsHashSet {
    set.map(|s| {
        s.iter()
            .filter_map(|c| Cap::from_str(&format!("CAP_{c}")).ok())
            .collect()
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::Capability;

    use super::*;

    #[test]
    fn every_oci_capability_maps_to_a_kernel_one() {
        let all: Capabilities = [
            Capability::Chown,
            Capability::SysAdmin,
            Capability::NetBindService,
            Capability::AuditWrite,
            Capability::Bpf,
            Capability::CheckpointRestore,
            Capability::Perfmon,
        ]
        .into_iter()
        .collect();
        let mapped = to_caps(Some(&all));
        assert_eq!(mapped.len(), all.len());
        assert!(mapped.contains(&Cap::CAP_NET_BIND_SERVICE));
        assert!(to_caps(None).is_empty());
    }
}
