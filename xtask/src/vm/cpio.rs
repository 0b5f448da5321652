//! A deterministic writer for the `newc` cpio format, the one the kernel unpacks an initramfs
//! from (`Documentation/driver-api/early-userspace/buffer-format.rst`).
//!
//! Every entry is owned by root, dated 0 and numbered in the order it was added, so the same
//! entries give the same bytes.

/// An in-memory newc archive; [`Cpio::finish`] appends the trailer and returns the bytes.
#[derive(Debug, Default)]
pub(crate) struct Cpio {
    out: Vec<u8>,
    next_ino: u32,
}

const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;

impl Cpio {
    /// Adds a directory (its parents must have been added first).
    pub(crate) fn dir(&mut self, path: &str, mode: u32) {
        self.entry(path, S_IFDIR | (mode & 0o7777), 2, &[]);
    }

    /// Adds a regular file.
    pub(crate) fn file(&mut self, path: &str, mode: u32, data: &[u8]) {
        self.entry(path, S_IFREG | (mode & 0o7777), 1, data);
    }

    /// Adds a symbolic link to `target`.
    pub(crate) fn symlink(&mut self, path: &str, target: &str) {
        self.entry(path, S_IFLNK | 0o777, 1, target.as_bytes());
    }

    /// Appends the `TRAILER!!!` entry and returns the archive.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.header("TRAILER!!!", 0, 0, 1, 0);
        self.name("TRAILER!!!");
        self.out
    }

    fn entry(&mut self, path: &str, mode: u32, nlink: u32, data: &[u8]) {
        self.next_ino += 1;
        let ino = self.next_ino;
        // A cpio member cannot exceed 4 GiB; an initramfs member never comes close.
        let size = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let path = path.trim_start_matches('/');
        self.header(path, ino, mode, nlink, size);
        self.name(path);
        self.out.extend_from_slice(data);
        self.pad();
    }

    /// The 110-byte header: magic, then 13 eight-digit hex fields.
    fn header(&mut self, path: &str, ino: u32, mode: u32, nlink: u32, size: u32) {
        // The name size counts the terminating NUL.
        let name_size = u32::try_from(path.len() + 1).unwrap_or(u32::MAX);
        // ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
        // rdevminor, namesize, check
        let fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, name_size, 0];
        self.out.extend_from_slice(b"070701");
        for field in fields {
            self.out
                .extend_from_slice(format!("{field:08x}").as_bytes());
        }
    }

    /// The NUL-terminated name, padded so that the data starts on a 4-byte boundary.
    fn name(&mut self, path: &str) {
        self.out.extend_from_slice(path.as_bytes());
        self.out.push(0);
        self.pad();
    }

    fn pad(&mut self) {
        while self.out.len() % 4 != 0 {
            self.out.push(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the archive back: (name, mode, nlink, data) per entry, trailer included.
    fn parse(mut bytes: &[u8]) -> Vec<(String, u32, u32, Vec<u8>)> {
        let mut entries = Vec::new();
        let mut offset = 0;
        loop {
            assert_eq!(offset % 4, 0, "every header starts 4-byte aligned");
            assert_eq!(&bytes[..6], b"070701");
            let field = |i: usize| {
                let start = 6 + i * 8;
                u32::from_str_radix(std::str::from_utf8(&bytes[start..start + 8]).unwrap(), 16)
                    .unwrap()
            };
            let (mode, nlink, size, name_size) = (field(1), field(4), field(6), field(11));
            assert_eq!(field(2), 0, "uid");
            assert_eq!(field(5), 0, "mtime");
            let name_end = 110 + name_size as usize;
            let name = std::str::from_utf8(&bytes[110..name_end - 1])
                .unwrap()
                .to_owned();
            assert_eq!(bytes[name_end - 1], 0, "the name is NUL-terminated");
            let data_start = name_end.next_multiple_of(4);
            let data_end = data_start + size as usize;
            let data = bytes[data_start..data_end].to_vec();
            let next = data_end.next_multiple_of(4);
            let done = name == "TRAILER!!!";
            entries.push((name, mode, nlink, data));
            if done {
                assert_eq!(next, bytes.len(), "nothing follows the trailer");
                return entries;
            }
            bytes = &bytes[next..];
            offset += next;
        }
    }

    #[test]
    fn entries_read_back_with_types_modes_and_data() {
        let mut cpio = Cpio::default();
        cpio.dir("/bin", 0o755);
        cpio.file("bin/busybox", 0o755, b"ELF...");
        cpio.symlink("bin/sh", "busybox");
        cpio.file("init", 0o755, b"#!/bin/busybox sh\n");
        let entries = parse(&cpio.finish());
        let summary: Vec<(&str, u32, u32, &[u8])> = entries
            .iter()
            .map(|(n, m, l, d)| (n.as_str(), *m, *l, d.as_slice()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("bin", 0o040_755, 2, &b""[..]),
                ("bin/busybox", 0o100_755, 1, &b"ELF..."[..]),
                ("bin/sh", 0o120_777, 1, &b"busybox"[..]),
                ("init", 0o100_755, 1, &b"#!/bin/busybox sh\n"[..]),
                ("TRAILER!!!", 0, 1, &b""[..]),
            ]
        );
    }

    #[test]
    fn the_same_entries_give_the_same_bytes() {
        let build = || {
            let mut cpio = Cpio::default();
            cpio.dir("lib", 0o755);
            cpio.file("lib/a.ko", 0o644, &[1, 2, 3]);
            cpio.finish()
        };
        assert_eq!(build(), build());
    }

    #[test]
    fn the_header_has_the_documented_layout() {
        let mut cpio = Cpio::default();
        cpio.file("ab", 0o644, b"xyz");
        let bytes = cpio.finish();
        // magic, ino 1, mode 0100644, uid, gid, nlink 1, mtime, size 3, 4 x dev, namesize 3, check
        let header = "070701\
                      00000001000081a4000000000000000000000001000000000000000300000000\
                      0000000000000000000000000000000300000000";
        assert_eq!(&bytes[..110], header.as_bytes());
        // name "ab\0" ends at 113, padded to 116; data "xyz" padded to 120.
        assert_eq!(&bytes[110..120], b"ab\0\0\0\0xyz\0");
    }
}
