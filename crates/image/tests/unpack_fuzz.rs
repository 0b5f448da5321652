//! A bounded, seeded mutation fuzz of the unpacker: a small valid layer with every kind of
//! entry, its headers mutated (checksums mostly recomputed, so that the mutations reach past
//! them), sometimes truncated; 400 cases, the same on every run. Each must end in a report
//! or an error, never a panic, and nothing may be written beside `dest`.

// Test helpers: a failed step should fail the test loudly, so unwrap is the point here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod unpack_util;

use tar::EntryType;
use unpack_util::{Scene, apply, header, link, opts};

/// A small valid layer with every kind of entry the fuzz should reach.
fn base_layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.append(&header("a/", EntryType::Directory, 0, 0o755), &[][..])
        .unwrap();
    b.append_pax_extensions([("SCHILY.xattr.user.k", &b"v"[..])])
        .unwrap();
    b.append(&header("a/f", EntryType::Regular, 5, 0o644), &b"hello"[..])
        .unwrap();
    b.append(&link("a/s", EntryType::Symlink, "../b"), &[][..])
        .unwrap();
    b.append(&link("a/h", EntryType::Link, "a/f"), &[][..])
        .unwrap();
    b.append(&header("b/c/d", EntryType::Regular, 3, 0o4755), &b"abc"[..])
        .unwrap();
    b.append(&header("a/.wh.gone", EntryType::Regular, 0, 0o644), &[][..])
        .unwrap();
    b.append(
        &header("b/.wh..wh..opq", EntryType::Regular, 0, 0o644),
        &[][..],
    )
    .unwrap();
    b.append(&header("/p", EntryType::Fifo, 0, 0o600), &[][..])
        .unwrap();
    b.append(&link("up", EntryType::Symlink, "../../.."), &[][..])
        .unwrap();
    b.into_inner().unwrap()
}

/// Recomputes the checksum of the 512-byte header at `block`, so that mutations reach past
/// the checksum test.
fn fix_cksum(bytes: &mut [u8], block: usize) {
    let h = &mut bytes[block..block + 512];
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
}

/// xorshift64*: a fixed-seed generator, so every run tries the same cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn mutated_layers_never_panic_nor_write_outside() {
    let base = base_layer();
    // Header blocks of the base layer (where mutations matter most).
    let mut headers = Vec::new();
    {
        let mut archive = tar::Archive::new(base.as_slice());
        for e in archive.entries().unwrap().raw(true) {
            headers.push(e.unwrap().raw_header_position() as usize);
        }
    }
    let interesting: &[u8] = b"/.\0\x7f0127x5Lg/../..wh.";
    let mut rng = Rng(0x5eed_0f00_0009);
    let (mut ok, mut failed) = (0, 0);
    for case in 0..400 {
        let mut bytes = base.clone();
        let block = headers[rng.below(headers.len())];
        for _ in 0..1 + rng.below(6) {
            let at = if rng.below(4) == 0 {
                rng.below(bytes.len())
            } else {
                block + rng.below(512)
            };
            bytes[at] = if rng.below(2) == 0 {
                interesting[rng.below(interesting.len())]
            } else {
                rng.next() as u8
            };
        }
        if rng.below(3) != 0 {
            fix_cksum(&mut bytes, block);
        }
        if rng.below(10) == 0 {
            let cut = rng.below(bytes.len());
            bytes.truncate(cut);
        }
        let s = Scene::new();
        let o = if case % 2 == 0 { opts() } else { apply() };
        match s.unpack(&bytes, &o) {
            Ok(_) => ok += 1,
            Err(e) => {
                failed += 1;
                assert!(!e.to_string().is_empty());
            }
        }
        s.assert_untouched();
    }
    // The fuzz reached both outcomes.
    assert!(ok > 20 && failed > 20, "ok {ok}, failed {failed}");
}
