//! cgroup v2 device control: an eBPF program of type `BPF_PROG_TYPE_CGROUP_DEVICE`, generated
//! from the effective device rules, loaded with bpf(2) and attached to the cgroup directory,
//! replacing the programs attached there before. nix has no bpf(2) wrapper, so this module
//! calls it through `libc::syscall`.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::resources::devices::{ACC_MKNOD, ACC_READ, ACC_WRITE, Kind, Rule};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;
/// `bpf_cgroup_dev_ctx.access_type` low half: `BPF_DEVCG_DEV_BLOCK`, `BPF_DEVCG_DEV_CHAR`.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

/// One eBPF instruction (`struct bpf_insn`; registers packed dst low, src high).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Insn {
    pub(crate) code: u8,
    pub(crate) regs: u8,
    pub(crate) off: i16,
    pub(crate) imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

pub(crate) const LDX_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
pub(crate) const AND_K: u8 = 0x57; // BPF_ALU64 | BPF_AND | BPF_K
pub(crate) const RSH_K: u8 = 0x77; // BPF_ALU64 | BPF_RSH | BPF_K
pub(crate) const MOV_X: u8 = 0xbf; // BPF_ALU64 | BPF_MOV | BPF_X
pub(crate) const MOV_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
pub(crate) const JNE32_K: u8 = 0x56; // BPF_JMP32 | BPF_JNE | BPF_K
pub(crate) const JEQ32_K: u8 = 0x16; // BPF_JMP32 | BPF_JEQ | BPF_K
pub(crate) const JA: u8 = 0x05; // BPF_JMP | BPF_JA
pub(crate) const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

/// The program. r2 = device type, r3 = requested access bits, r4 = major, r5 = minor.
/// Each requested access bit (mknod, read, write) is decided on its own: by the last rule
/// that matches the device and includes that bit, else by the default; the request is
/// allowed only if every bit is. This is how the v1 kernel reads a rule list too (`allow c
/// 1:3 rwm` then `deny c 1:3 w` leaves read and mknod allowed).
pub(crate) fn program(default_allow: bool, rules: &[Rule]) -> Vec<Insn> {
    const NEXT_RULE: i16 = -1;
    const BIT_ALLOWED: i16 = -2;
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(AND_K, 2, 0, 0, 0xffff),
        insn(LDX_W, 3, 1, 0, 0),
        insn(RSH_K, 3, 0, 0, 16),
        insn(LDX_W, 4, 1, 4, 0),
        insn(LDX_W, 5, 1, 8, 0),
    ];
    for bit in [ACC_MKNOD, ACC_READ, ACC_WRITE] {
        // Jumps are emitted with a marker offset and patched once their target is known.
        let mut section = vec![
            insn(MOV_X, 1, 3, 0, 0),
            insn(AND_K, 1, 0, 0, bit as i32),
            insn(JEQ32_K, 1, 0, BIT_ALLOWED, 0),
        ];
        for r in rules.iter().rev().filter(|r| r.access & bit != 0) {
            let mut block = Vec::new();
            match r.kind {
                Kind::All => {}
                Kind::Char => block.push(insn(JNE32_K, 2, 0, NEXT_RULE, DEV_CHAR)),
                Kind::Block => block.push(insn(JNE32_K, 2, 0, NEXT_RULE, DEV_BLOCK)),
            }
            if let Some(m) = r.major {
                block.push(insn(JNE32_K, 4, 0, NEXT_RULE, m as i32));
            }
            if let Some(m) = r.minor {
                block.push(insn(JNE32_K, 5, 0, NEXT_RULE, m as i32));
            }
            if r.allow {
                block.push(insn(JA, 0, 0, BIT_ALLOWED, 0));
            } else {
                block.push(insn(MOV_K, 0, 0, 0, 0));
                block.push(insn(EXIT, 0, 0, 0, 0));
            }
            let len = block.len();
            for (i, ins) in block.iter_mut().enumerate() {
                if ins.off == NEXT_RULE {
                    ins.off = (len - i - 1) as i16;
                }
            }
            section.extend(block);
        }
        if !default_allow {
            section.push(insn(MOV_K, 0, 0, 0, 0));
            section.push(insn(EXIT, 0, 0, 0, 0));
        }
        let len = section.len();
        for (i, ins) in section.iter_mut().enumerate() {
            if ins.off == BIT_ALLOWED {
                ins.off = (len - i - 1) as i16;
            }
        }
        p.extend(section);
    }
    p.push(insn(MOV_K, 0, 0, 0, 1));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// bpf(2) with `attr` of type `T`; returns the syscall's non-negative result.
fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<i64> {
    // SAFETY: `attr` is a live, exclusively borrowed #[repr(C)] value laid out as the
    // kernel's `union bpf_attr` member for `cmd`, and its size is passed with it; any
    // pointers inside it point to buffers the caller keeps alive across the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn fd_from(r: i64) -> io::Result<OwnedFd> {
    let fd = RawFd::try_from(r).map_err(|_| io::Error::other("bpf(2) returned a bad fd"))?;
    // SAFETY: bpf(2) just returned this new file descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn load(insns: &[Insn], log: Option<&mut Vec<u8>>) -> io::Result<OwnedFd> {
    let license = b"Apache-2.0\0";
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..Default::default()
    };
    attr.prog_name[..6].copy_from_slice(b"peapod");
    if let Some(buf) = log {
        attr.log_level = 1;
        attr.log_size = buf.len() as u32;
        attr.log_buf = buf.as_mut_ptr() as u64;
    }
    fd_from(bpf(BPF_PROG_LOAD, &mut attr)?)
}

fn query(cg: RawFd) -> io::Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    let mut attr = QueryAttr {
        target_fd: cg as u32,
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..Default::default()
    };
    bpf(BPF_PROG_QUERY, &mut attr)?;
    ids.truncate(attr.prog_cnt as usize);
    Ok(ids)
}

fn attach_detach(cmd: libc::c_long, cg: RawFd, prog: RawFd, flags: u32) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: cg as u32,
        attach_bpf_fd: prog as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: flags,
        ..Default::default()
    };
    bpf(cmd, &mut attr).map(|_| ())
}

fn prog_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut attr = GetFdAttr {
        prog_id: id,
        ..Default::default()
    };
    fd_from(bpf(BPF_PROG_GET_FD_BY_ID, &mut attr)?)
}

fn open_dir(dir: &Path) -> Result<fs::File> {
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(dir)
        .map_err(|err| fail(dir, "open the cgroup directory", err))
}

fn fail(dir: &Path, what: &str, err: io::Error) -> Error {
    Error::DeviceFilter {
        path: dir.to_path_buf(),
        what: what.to_owned(),
        err,
    }
}

/// Loads the program for these rules and makes it the cgroup's only device program.
pub(crate) fn install(dir: &Path, default_allow: bool, rules: &[Rule]) -> Result<()> {
    let insns = program(default_allow, rules);
    let cg = open_dir(dir)?;
    let old = query(cg.as_raw_fd())
        .map_err(|err| fail(dir, "query the attached device programs", err))?;
    let prog = match load(&insns, None) {
        Ok(fd) => fd,
        Err(err)
            if err.raw_os_error() == Some(libc::EINVAL)
                || err.raw_os_error() == Some(libc::EACCES) =>
        {
            // Load again with the verifier's log, to say why.
            let mut log = vec![0u8; 1 << 16];
            let _ = load(&insns, Some(&mut log));
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end])
                .trim()
                .replace('\n', "; ");
            return Err(fail(
                dir,
                &format!("load the eBPF device program (verifier: {text})"),
                err,
            ));
        }
        Err(err) => return Err(fail(dir, "load the eBPF device program", err)),
    };
    attach_detach(
        BPF_PROG_ATTACH,
        cg.as_raw_fd(),
        prog.as_raw_fd(),
        BPF_F_ALLOW_MULTI,
    )
    .map_err(|err| fail(dir, "attach the eBPF device program", err))?;
    for id in old {
        let fd = prog_fd_by_id(id)
            .map_err(|err| fail(dir, &format!("open old device program {id}"), err))?;
        match attach_detach(BPF_PROG_DETACH, cg.as_raw_fd(), fd.as_raw_fd(), 0) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(err) => return Err(fail(dir, &format!("detach old device program {id}"), err)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
