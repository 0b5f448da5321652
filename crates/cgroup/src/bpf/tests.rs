use super::*;
use crate::resources::devices::{ACC_ALL, ACC_MKNOD, ACC_READ, ACC_WRITE};

/// Runs the few instructions `program` emits, for a device access: the kernel's verdict
/// without the kernel.
fn run(p: &[Insn], dev_type: u32, access: u32, major: u32, minor: u32) -> u64 {
    let ctx = [(access << 16) | dev_type, major, minor];
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    for _ in 0..10_000 {
        let i = p[pc];
        let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
        pc += 1;
        match i.code {
            LDX_W => {
                assert_eq!(src, 1, "loads only from the context");
                r[dst] = u64::from(ctx[i.off as usize / 4]);
            }
            AND_K => r[dst] &= i.imm as i64 as u64,
            RSH_K => r[dst] >>= i.imm,
            MOV_X => r[dst] = r[src],
            MOV_K => r[dst] = i.imm as i64 as u64,
            JNE32_K => {
                if r[dst] as u32 != i.imm as u32 {
                    pc += i.off as usize;
                }
            }
            JEQ32_K => {
                if r[dst] as u32 == i.imm as u32 {
                    pc += i.off as usize;
                }
            }
            JA => pc += i.off as usize,
            EXIT => return r[0],
            c => panic!("unexpected opcode {c:#x}"),
        }
    }
    panic!("program did not exit");
}

fn rule(allow: bool, kind: Kind, major: Option<u32>, minor: Option<u32>, access: u32) -> Rule {
    Rule {
        allow,
        kind,
        major,
        minor,
        access,
    }
}

const C: u32 = DEV_CHAR as u32;
const B: u32 = DEV_BLOCK as u32;
const RW: u32 = ACC_READ | ACC_WRITE;

#[test]
fn default_deny_with_exceptions() {
    let rules = [
        rule(true, Kind::Char, Some(1), Some(3), ACC_ALL), // /dev/null
        rule(true, Kind::Char, Some(136), None, RW),       // ptys, no mknod
        rule(true, Kind::All, None, None, ACC_MKNOD),      // mknod anything
        rule(false, Kind::Char, Some(1), Some(3), ACC_WRITE),
    ];
    let p = program(false, &rules);
    assert_eq!(run(&p, C, ACC_READ, 1, 3), 1, "read /dev/null");
    assert_eq!(
        run(&p, C, ACC_WRITE, 1, 3),
        0,
        "the last rule denies writes"
    );
    assert_eq!(run(&p, C, RW, 1, 3), 0, "a request partly denied is denied");
    assert_eq!(run(&p, C, ACC_READ, 1, 5), 0, "/dev/zero is not allowed");
    assert_eq!(run(&p, C, RW, 136, 7), 1);
    assert_eq!(
        run(&p, C, ACC_ALL, 136, 7),
        1,
        "rw from the pty rule, m from the mknod rule"
    );
    assert_eq!(
        run(&p, C, ACC_MKNOD | ACC_READ, 1, 5),
        0,
        "mknod alone is not enough"
    );
    assert_eq!(
        run(&p, C, ACC_MKNOD, 136, 7),
        1,
        "mknod alone by the catch-all mknod rule"
    );
    assert_eq!(run(&p, B, ACC_MKNOD, 8, 0), 1);
    assert_eq!(run(&p, B, ACC_READ, 8, 0), 0);
}

#[test]
fn access_bits_are_decided_one_by_one() {
    // Two allow rules for one device add up, as the v1 kernel merges them.
    let p = program(
        false,
        &[
            rule(true, Kind::Char, Some(1), Some(5), ACC_READ),
            rule(true, Kind::Char, Some(1), Some(5), ACC_WRITE),
        ],
    );
    assert_eq!(run(&p, C, RW, 1, 5), 1);
    assert_eq!(run(&p, C, ACC_MKNOD, 1, 5), 0);
    // A deny of one bit in a default-allow list leaves the other bits allowed.
    let p = program(true, &[rule(false, Kind::All, None, None, ACC_MKNOD)]);
    assert_eq!(run(&p, C, RW, 1, 5), 1);
    assert_eq!(run(&p, B, ACC_MKNOD | ACC_READ, 8, 0), 0);
}

#[test]
fn default_allow_with_a_deny() {
    let p = program(true, &[rule(false, Kind::Block, Some(8), None, ACC_ALL)]);
    assert_eq!(run(&p, B, ACC_READ, 8, 1), 0);
    assert_eq!(run(&p, B, ACC_READ, 9, 1), 1);
    assert_eq!(run(&p, C, ACC_READ, 8, 1), 1, "type matters");
}

#[test]
fn empty_program_returns_the_default() {
    assert_eq!(run(&program(true, &[]), C, ACC_READ, 1, 1), 1);
    assert_eq!(run(&program(false, &[]), C, ACC_READ, 1, 1), 0);
}

#[test]
fn large_device_numbers_compare_as_u32() {
    let p = program(
        false,
        &[rule(
            true,
            Kind::Char,
            Some(u32::MAX),
            Some(0x8000_0000),
            ACC_ALL,
        )],
    );
    assert_eq!(run(&p, C, ACC_READ, u32::MAX, 0x8000_0000), 1);
    assert_eq!(run(&p, C, ACC_READ, 1, 0x8000_0000), 0);
}
