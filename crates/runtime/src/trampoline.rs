//! The container's program is exec'd by a tiny trampoline run from a sealed memfd, so that
//! no process of a container ever executes the host's runtime binary (CVE-2019-5736).
//!
//! The attack: a container whose program is `/proc/self/exe`, or a script whose interpreter
//! is, makes the runtime's last `execve` (resolved while the caller still *is* the runtime)
//! start the host's runtime binary inside the container, which can then open it for writing
//! through `/proc/<pid>/exe`. runc and youki defend by copying the whole runtime into a
//! sealed memfd and re-executing it on every invocation; crun re-executes itself through a
//! read-only bind mount. Both cost a full exec of the runtime (2–3 ms here for a copy).
//!
//! Here init (and `exec`'s process) instead `execveat`s a static program of under 400 bytes
//! held in a sealed memfd, and that program execs the container's: during that last exec
//! `/proc/self/exe` is the sealed trampoline, never the host binary. Until then the process
//! runs our own code only, and is non-dumpable so that no container process without
//! `CAP_SYS_PTRACE` can open its `/proc/<pid>/exe` (the same guarantee `runc init` gives).
//! Hooks that init runs in the container go through it too.
//!
//! Protocol: the trampoline receives the container's argv unchanged and the program's path
//! as `envp[0]`; it calls `execve(envp[0], argv, envp + 1)`, and if that fails writes one
//! line on stderr (`… errno N`) and exits 127. Started any other way (for instance as
//! `/proc/self/exe` from inside the container) it consumes one environment entry per exec,
//! so it always ends. A container whose seccomp profile does not let every `execveat`
//! through (runc and crun never call it, so profiles may kill or fail it) gets the
//! trampoline exec'd by its `/proc/self/fd` path with `execve` instead, chosen from the
//! profile when the bundle is loaded. The code is x86_64 machine code, written out below instruction by
//! instruction; other architectures fall back to a sealed copy of the whole binary (see
//! [`available`]).

use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::OnceLock;

use crate::{Error, Result};

/// The trampoline's code, one instruction per line; its entry point is the first byte.
#[cfg(target_arch = "x86_64")]
#[rustfmt::skip]
const CODE: &[u8] = &[
    0x48, 0x8b, 0x14, 0x24,                     // mov  rdx, [rsp]              ; argc
    0x48, 0x8d, 0x74, 0x24, 0x08,               // lea  rsi, [rsp + 8]          ; argv
    0x48, 0x8d, 0x54, 0xd4, 0x10,               // lea  rdx, [rsp + rdx*8 + 16] ; envp
    0x48, 0x8b, 0x3a,                           // mov  rdi, [rdx]              ; path = envp[0]
    0x48, 0x83, 0xc2, 0x08,                     // add  rdx, 8                  ; envp + 1
    0xb8, 0x3b, 0x00, 0x00, 0x00,               // mov  eax, 59                 ; execve
    0x0f, 0x05,                                 // syscall
    // It failed: eax is -errno. Say MESSAGE, then errno in decimal and a newline.
    0xf7, 0xd8,                                 // neg  eax
    0x41, 0x89, 0xc0,                           // mov  r8d, eax                ; errno, kept
    0xbf, 0x02, 0x00, 0x00, 0x00,               // mov  edi, 2                  ; stderr
    0x48, 0x8d, 0x35, MESSAGE_DISP, 0, 0, 0,    // lea  rsi, [rip + MESSAGE_DISP] ; MESSAGE
    0xba, MESSAGE.len() as u8, 0x00, 0x00, 0x00, // mov edx, MESSAGE.len()
    0xb8, 0x01, 0x00, 0x00, 0x00,               // mov  eax, 1                  ; write
    0x0f, 0x05,                                 // syscall
    0x48, 0x8d, 0x74, 0x24, 0xff,               // lea  rsi, [rsp - 1]          ; digits end here,
    0xc6, 0x06, 0x0a,                           // mov  byte [rsi], 10          ; below the stack
    0x44, 0x89, 0xc0,                           // mov  eax, r8d                ; top (argv is
    0xb9, 0x0a, 0x00, 0x00, 0x00,               // mov  ecx, 10                 ; no longer needed)
    0x31, 0xd2,                                 // next: xor edx, edx
    0xf7, 0xf1,                                 // div  ecx                     ; edx = eax % 10
    0x80, 0xc2, 0x30,                           // add  dl, '0'
    0x48, 0xff, 0xce,                           // dec  rsi
    0x88, 0x16,                                 // mov  [rsi], dl
    0x85, 0xc0,                                 // test eax, eax
    0x75, 0xf0,                                 // jnz  next                    ; 16 bytes back
    0x48, 0x89, 0xe2,                           // mov  rdx, rsp
    0x48, 0x29, 0xf2,                           // sub  rdx, rsi                ; digits + newline
    0xbf, 0x02, 0x00, 0x00, 0x00,               // mov  edi, 2
    0xb8, 0x01, 0x00, 0x00, 0x00,               // mov  eax, 1                  ; write
    0x0f, 0x05,                                 // syscall
    0xbf, 0x7f, 0x00, 0x00, 0x00,               // mov  edi, 127
    0xb8, 0xe7, 0x00, 0x00, 0x00,               // mov  eax, 231                ; exit_group
    0x0f, 0x05,                                 // syscall
];

/// From the end of the `lea rsi, [rip + …]` (byte 45 of CODE) to MESSAGE, right after CODE.
#[cfg(target_arch = "x86_64")]
const MESSAGE_DISP: u8 = 74;
#[cfg(target_arch = "x86_64")]
const _: () = assert!(CODE.len() == 45 + MESSAGE_DISP as usize);

/// What the trampoline says when the exec fails, before the errno.
const MESSAGE: &[u8] = b"peapod-oci: cannot exec in the container: errno ";
// Its length is an 8-bit immediate in CODE.
const _: () = assert!(MESSAGE.len() < 256);

/// Where the single loadable segment goes (the usual base of a static x86_64 executable).
const BASE: u64 = 0x40_0000;
const ELF_HEADER_LEN: u16 = 64;
const PROGRAM_HEADER_LEN: u16 = 56;

/// The whole executable: ELF header, a `PT_LOAD` program header (read + execute, the whole
/// file) and a `PT_GNU_STACK` one (a non-executable stack), code, message.
#[cfg(target_arch = "x86_64")]
fn image() -> Vec<u8> {
    let code_at = u64::from(ELF_HEADER_LEN + 2 * PROGRAM_HEADER_LEN);
    let len = code_at + (CODE.len() + MESSAGE.len()) as u64;
    let mut elf = Vec::with_capacity(len as usize);
    // e_ident: magic, 64-bit, little-endian, version 1, System V ABI, padding.
    elf.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    elf.extend_from_slice(&2u16.to_le_bytes()); // e_type: ET_EXEC
    elf.extend_from_slice(&62u16.to_le_bytes()); // e_machine: EM_X86_64
    elf.extend_from_slice(&1u32.to_le_bytes()); // e_version
    elf.extend_from_slice(&(BASE + code_at).to_le_bytes()); // e_entry
    elf.extend_from_slice(&u64::from(ELF_HEADER_LEN).to_le_bytes()); // e_phoff
    elf.extend_from_slice(&0u64.to_le_bytes()); // e_shoff: no sections
    elf.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    elf.extend_from_slice(&ELF_HEADER_LEN.to_le_bytes()); // e_ehsize
    elf.extend_from_slice(&PROGRAM_HEADER_LEN.to_le_bytes()); // e_phentsize
    elf.extend_from_slice(&2u16.to_le_bytes()); // e_phnum
    elf.extend_from_slice(&[0; 6]); // e_shentsize, e_shnum, e_shstrndx
    elf.extend_from_slice(&1u32.to_le_bytes()); // p_type: PT_LOAD
    elf.extend_from_slice(&5u32.to_le_bytes()); // p_flags: PF_R | PF_X
    elf.extend_from_slice(&0u64.to_le_bytes()); // p_offset
    elf.extend_from_slice(&BASE.to_le_bytes()); // p_vaddr
    elf.extend_from_slice(&BASE.to_le_bytes()); // p_paddr
    elf.extend_from_slice(&len.to_le_bytes()); // p_filesz
    elf.extend_from_slice(&len.to_le_bytes()); // p_memsz
    elf.extend_from_slice(&0x1000u64.to_le_bytes()); // p_align
    // PT_GNU_STACK, read + write: without it, kernels before 5.8 give the process
    // READ_IMPLIES_EXEC, which a 32-bit program exec'd next would inherit.
    elf.extend_from_slice(&0x6474_e551u32.to_le_bytes()); // p_type: PT_GNU_STACK
    elf.extend_from_slice(&6u32.to_le_bytes()); // p_flags: PF_R | PF_W
    elf.extend_from_slice(&[0; 48]); // offset, addresses, sizes, alignment: none
    elf.extend_from_slice(CODE);
    elf.extend_from_slice(MESSAGE);
    elf
}

/// The sealed trampoline of this process, made on first use.
#[derive(Debug)]
pub(crate) struct Trampoline(OwnedFd);

static TRAMPOLINE: OnceLock<Option<Trampoline>> = OnceLock::new();

/// Whether containers' programs are exec'd through the trampoline: a static program of
/// under 400 bytes in a sealed memfd that init execs and that execs the container's program, so
/// that `/proc/self/exe` during that last exec is never the runtime's binary
/// (CVE-2019-5736), without copying the whole runtime into memory on every call as runc
/// and youki do. When not (another architecture than x86_64, or a kernel that refuses
/// executable memfds), the caller must run the runtime from a sealed copy of itself
/// instead (`pentacle::ensure_sealed`, as `peapod-oci` does).
pub fn available() -> bool {
    get().is_some()
}

pub(crate) fn get() -> Option<&'static Trampoline> {
    TRAMPOLINE.get_or_init(|| Trampoline::new().ok()).as_ref()
}

impl Trampoline {
    #[cfg(target_arch = "x86_64")]
    fn new() -> Result<Self> {
        /// `MFD_EXEC` (Linux 6.3): asks for an executable memfd where `vm.memfd_noexec` would
        /// otherwise make it non-executable; older kernels reject it, so it is retried without.
        const MFD_EXEC: libc::c_uint = 0x10;
        let name = c"peapod-trampoline";
        let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
        // SAFETY: `name` is a valid NUL-terminated string; the call touches no other memory.
        let mut fd = unsafe { libc::memfd_create(name.as_ptr(), flags | MFD_EXEC) };
        if fd < 0 && nix::Error::last() == nix::Error::EINVAL {
            // SAFETY: as above.
            fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
        }
        if fd < 0 {
            return Err(Error::sys("create the exec trampoline's memfd")(
                nix::Error::last(),
            ));
        }
        // SAFETY: memfd_create just returned this fd, which nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let file = std::fs::File::from(fd);
        std::io::Write::write_all(&mut &file, &image()).map_err(|e| {
            Error::sys("write the exec trampoline")(nix::Error::from_raw(
                e.raw_os_error().unwrap_or(libc::EIO),
            ))
        })?;
        let fd = OwnedFd::from(file);
        let seal = |seals: libc::c_int| {
            nix::fcntl::fcntl(
                fd.as_fd(),
                nix::fcntl::FcntlArg::F_ADD_SEALS(nix::fcntl::SealFlag::from_bits_retain(seals)),
            )
        };
        seal(libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE)
            .map_err(Error::sys("seal the exec trampoline"))?;
        // Linux 6.3+: nor may its mode lose or gain exec bits.
        let _ = seal(libc::F_SEAL_EXEC);
        seal(libc::F_SEAL_SEAL).map_err(Error::sys("seal the exec trampoline"))?;
        Ok(Self(fd))
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn new() -> Result<Self> {
        Err(Error::sys("build an exec trampoline for this architecture")(nix::Error::ENOSYS))
    }

    /// Execs `program` with `args` and `env` through the trampoline; returns only on failure,
    /// with the failed exec's error.
    pub(crate) fn exec_errno(
        &self,
        program: &CStr,
        args: &[CString],
        env: &[CString],
    ) -> nix::Error {
        self.prepare(program, args.to_vec(), env, true).run()
    }

    /// Everything an exec of `program` through the trampoline needs, built now, so that
    /// [`PreparedExec::run`] makes no syscall but the exec (a seccomp filter may be loaded
    /// by then, and allow nothing else). `by_fd`: `execveat` the memfd first; otherwise,
    /// and when that fails with EPERM or ENOSYS, `execve` its `/proc/self/fd` path (which
    /// needs the container's /proc).
    pub(crate) fn prepare(
        &self,
        program: &CStr,
        args: Vec<CString>,
        env: &[CString],
        by_fd: bool,
    ) -> PreparedExec {
        let env: Vec<CString> = std::iter::once(program.to_owned())
            .chain(env.iter().cloned())
            .collect();
        let pointers = |list: &[CString]| {
            list.iter()
                .map(|s| s.as_ptr())
                .chain(std::iter::once(std::ptr::null()))
                .collect()
        };
        PreparedExec {
            fd: self.0.as_raw_fd(),
            by_fd,
            path: CString::new(format!("/proc/self/fd/{}", self.0.as_raw_fd())).unwrap_or_default(),
            argv: pointers(&args),
            envp: pointers(&env),
            _strings: (args, env),
        }
    }
}

/// An exec through the trampoline, ready to run (see [`Trampoline::prepare`]).
pub(crate) struct PreparedExec {
    /// The trampoline's memfd, owned by the process-wide [`Trampoline`].
    fd: std::os::fd::RawFd,
    by_fd: bool,
    /// `/proc/self/fd/<fd>`.
    path: CString,
    /// NULL-terminated pointers into `_strings`, whose heap buffers do not move.
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
    _strings: (Vec<CString>, Vec<CString>),
}

impl PreparedExec {
    /// Execs; returns only on failure, with the error of the last exec tried. Raw libc: nix's
    /// exec wrappers build their pointer arrays (allocate) at call time.
    pub(crate) fn run(&self) -> nix::Error {
        if self.by_fd {
            // SAFETY: fd is the live trampoline memfd; the path is an empty C string, and
            // argv and envp are NULL-terminated arrays of pointers to C strings that `self`
            // owns; execveat returns only on failure.
            unsafe {
                libc::syscall(
                    libc::SYS_execveat,
                    self.fd,
                    c"".as_ptr(),
                    self.argv.as_ptr(),
                    self.envp.as_ptr(),
                    libc::AT_EMPTY_PATH,
                )
            };
            let e = nix::Error::last();
            // A profile that answers execveat with EPERM or ENOSYS but allows execve.
            if !matches!(e, nix::Error::EPERM | nix::Error::ENOSYS) {
                return e;
            }
        }
        // SAFETY: as above, with a C string path owned by `self`.
        unsafe { libc::execve(self.path.as_ptr(), self.argv.as_ptr(), self.envp.as_ptr()) };
        nix::Error::last()
    }
}

#[cfg(test)]
#[cfg(target_arch = "x86_64")]
mod tests {
    use std::os::fd::AsRawFd;

    use nix::sys::wait::{WaitStatus, waitpid};
    use nix::unistd::{ForkResult, fork, pipe};

    use super::*;

    /// Runs the trampoline in a child with `program`, `args`, `env`; its stdout and stderr,
    /// and its exit code.
    fn run(program: &CStr, args: &[&str], env: &[&str]) -> (String, i32) {
        let trampoline = Trampoline::new().unwrap();
        let args: Vec<CString> = args.iter().map(|a| CString::new(*a).unwrap()).collect();
        let env: Vec<CString> = env.iter().map(|a| CString::new(*a).unwrap()).collect();
        let (rx, tx) = pipe().unwrap();
        // SAFETY: the child only dups an fd and execs (or _exits): no allocation or locks
        // after the fork, so forking from the multi-threaded test harness is sound.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                // SAFETY: dup2 only changes this child's fd table.
                unsafe {
                    libc::dup2(tx.as_raw_fd(), 1);
                    libc::dup2(tx.as_raw_fd(), 2);
                }
                let _ = trampoline.exec_errno(program, &args, &env);
                // SAFETY: _exit ends the child at once.
                unsafe { libc::_exit(99) }
            }
            ForkResult::Parent { child } => {
                drop(tx);
                let out = std::io::read_to_string(std::fs::File::from(rx)).unwrap();
                let code = match waitpid(child, None).unwrap() {
                    WaitStatus::Exited(_, code) => code,
                    other => panic!("{other:?}"),
                };
                (out, code)
            }
        }
    }

    #[test]
    fn the_program_gets_its_argv_and_env_unchanged() {
        let (out, code) = run(c"/bin/cat", &["my-cat", "/proc/self/cmdline"], &["A=1"]);
        assert_eq!((out.as_str(), code), ("my-cat\0/proc/self/cmdline\0", 0));
        let (out, code) = run(c"/usr/bin/env", &["env"], &["A=1", "B=two words"]);
        assert_eq!((out.as_str(), code), ("A=1\nB=two words\n", 0));
    }

    #[test]
    fn a_failed_exec_exits_127_and_says_so() {
        let (out, code) = run(c"/no/such/program", &["x"], &[]);
        assert_eq!(
            (out.as_str(), code),
            ("peapod-oci: cannot exec in the container: errno 2\n", 127)
        );
        // A directory: EACCES, two digits.
        let (out, code) = run(c"/etc", &["x"], &[]);
        assert_eq!(
            (out.as_str(), code),
            ("peapod-oci: cannot exec in the container: errno 13\n", 127)
        );
    }

    #[test]
    fn started_as_its_own_program_it_ends() {
        // The trampoline as /proc/self/exe: each round eats an environment entry, then
        // execve(NULL) fails and it exits 127.
        let (out, code) = run(c"/proc/self/exe", &["x"], &["/proc/self/exe", "A=1"]);
        assert_eq!(
            (out.as_str(), code),
            ("peapod-oci: cannot exec in the container: errno 2\n", 127)
        );
    }

    #[test]
    fn binutils_read_the_image_as_a_static_executable_with_a_non_executable_stack() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trampoline");
        std::fs::write(&path, image()).unwrap();
        let out = std::process::Command::new("readelf")
            .arg("-lhW")
            .arg(&path)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("EXEC (Executable file)"), "{text}");
        assert!(text.contains("Advanced Micro Devices X86-64"), "{text}");
        let load = text
            .lines()
            .find(|l| l.trim_start().starts_with("LOAD"))
            .unwrap();
        assert!(load.contains(" R E "), "{load}");
        let stack = text
            .lines()
            .find(|l| l.trim_start().starts_with("GNU_STACK"))
            .unwrap();
        assert!(stack.contains(" RW "), "{stack}");
        assert!(!text.contains("INTERP"), "{text}");
        // As small as the docs say.
        assert!(image().len() < 400, "{} bytes", image().len());
    }

    #[test]
    fn the_memfd_is_sealed() {
        let trampoline = Trampoline::new().unwrap();
        let seals =
            nix::fcntl::fcntl(trampoline.0.as_fd(), nix::fcntl::FcntlArg::F_GET_SEALS).unwrap();
        let want = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
        assert_eq!(seals & want, want);
        let write = nix::unistd::write(trampoline.0.as_fd(), b"x");
        assert_eq!(write, Err(nix::Error::EPERM));
    }
}
