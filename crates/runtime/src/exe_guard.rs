//! CVE-2019-5736 for the runtime's own processes. `exec`, and `create` of a container that
//! joins another's pid namespace (a pod sharing one), put a process that *is* the runtime
//! (forked, not yet exec'd) into a pid namespace whose processes already run: one holding
//! `CAP_SYS_PTRACE` could open its `/proc/<pid>/exe` despite non-dumpability, wait for the
//! runtime to exit and reopen the binary for writing. Those paths therefore run the runtime
//! from a read-only, detached bind of its binary (as runc 1.2 and crun do): the exe of every
//! process then reopens read-only (EROFS), and the binary on disk is out of reach. Paths with
//! a new pid namespace (the common `run`) pay nothing: nothing in a fresh namespace runs
//! before init's exec of the sealed trampoline.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use crate::{Error, Result};

/// Whether the calling process runs from a binary it cannot write through `/proc/self/exe`:
/// a read-only mount (such as the bind [`reexec_read_only`] makes), or a sealed memfd copy.
pub fn exe_is_protected() -> bool {
    let read_only = nix::sys::statvfs::statvfs("/proc/self/exe")
        .is_ok_and(|fs| fs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY));
    read_only || exe_is_sealed()
}

/// A memfd copy sealed against writes (pentacle's, or any other).
fn exe_is_sealed() -> bool {
    let Ok(exe) = std::fs::File::open("/proc/self/exe") else {
        return false;
    };
    nix::fcntl::fcntl(&exe, nix::fcntl::FcntlArg::F_GET_SEALS)
        .is_ok_and(|seals| seals & libc::F_SEAL_WRITE != 0)
}

/// Re-executes the calling program, with the same arguments and environment, from a
/// read-only detached bind of its binary; returns only on failure. The caller must hold no
/// fd without close-on-exec that the new program should not inherit.
pub fn reexec_read_only() -> Result<Infallible> {
    let exe = peapod_rootfs::read_only_bind(Path::new("/proc/self/exe"))?;
    let to_c = |bytes: Vec<u8>| CString::new(bytes).map_err(|_| nix::Error::EINVAL);
    let args = std::env::args_os()
        .map(|a| to_c(a.into_vec()))
        .collect::<nix::Result<Vec<_>>>();
    let env = std::env::vars_os()
        .map(|(k, v)| {
            let mut pair = k.into_vec();
            pair.push(b'=');
            pair.extend(v.into_vec());
            to_c(pair)
        })
        .collect::<nix::Result<Vec<_>>>();
    let what = "re-execute the runtime from a read-only bind of its binary";
    let (args, env) = (
        args.map_err(Error::sys(what))?,
        env.map_err(Error::sys(what))?,
    );
    match nix::unistd::execveat(&exe, c"", &args, &env, nix::fcntl::AtFlags::AT_EMPTY_PATH) {
        Err(e) => Err(Error::sys(what)(e)),
        Ok(never) => match never {},
    }
}

/// Refuses to go on when the runtime's binary is writable through `/proc/self/exe`: called
/// where a runtime process is about to enter a pid namespace that others live in.
pub(crate) fn require_protected(id: &str, why: &str) -> Result<()> {
    if exe_is_protected() {
        return Ok(());
    }
    Err(Error::Init {
        id: id.to_owned(),
        message: format!(
            "{why} puts a runtime process in a pid namespace others live in, and the runtime's \
             binary is writable through /proc/self/exe: run it from a read-only bind or a \
             sealed copy of itself first (peapod_runtime::reexec_read_only)"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_binary_on_a_writable_disk_is_not_protected() {
        // Tests run from target/, which is writable here.
        let writable = !nix::sys::statvfs::statvfs("/proc/self/exe")
            .unwrap()
            .flags()
            .contains(nix::sys::statvfs::FsFlags::ST_RDONLY);
        assert_eq!(exe_is_protected(), !writable);
        assert!(require_protected("c", "exec").is_err() || !writable);
    }
}
