//! The guest kernel: Debian's `linux-image-amd64`, as installed on the host.
//!
//! - The version comes from `/boot/vmlinuz-<version>` (with its `/lib/modules/<version>`), never
//!   from `uname -r`: the host runs a kernel of its own.
//! - QEMU boots an uncompressed ELF `vmlinux` through PVH, which is about twice as fast as a
//!   bzImage through SeaBIOS. We take it out of the bzImage (its setup header says where the
//!   compressed payload lies) and keep it under the target directory.
//! - The modules the initramfs needs are resolved, dependencies first, from `modules.dep`.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail, ensure};

use crate::util::describe;

/// A Debian kernel installed on the host: its version, bzImage and modules directory.
#[derive(Debug)]
pub(crate) struct Kernel {
    pub(crate) version: String,
    pub(crate) bzimage: PathBuf,
    pub(crate) modules: PathBuf,
}

impl Kernel {
    /// The newest `/boot/vmlinuz-<version>` that has a `/lib/modules/<version>/modules.dep`.
    pub(crate) fn find() -> Result<Self> {
        let boot = Path::new("/boot");
        let mut versions: Vec<String> = fs::read_dir(boot)
            .with_context(|| format!("cannot list {}", boot.display()))?
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                name.strip_prefix("vmlinuz-").map(str::to_owned)
            })
            .filter(|version| modules_dir(version).join("modules.dep").is_file())
            .collect();
        versions.sort_by(|a, b| compare_versions(a, b));
        let Some(version) = versions.pop() else {
            bail!(
                "vm-test: no Debian kernel found (/boot/vmlinuz-* with /lib/modules/*/modules.dep); \
                 `cargo xtask deps` installs linux-image-amd64"
            );
        };
        Ok(Self {
            bzimage: boot.join(format!("vmlinuz-{version}")),
            modules: modules_dir(&version),
            version,
        })
    }

    /// The uncompressed `vmlinux`, extracted once into `cache_dir` (again when the bzImage is
    /// newer than the copy).
    pub(crate) fn vmlinux(&self, cache_dir: &Path) -> Result<PathBuf> {
        let out = cache_dir.join(format!("vmlinux-{}", self.version));
        let modified = |path: &Path| fs::metadata(path).and_then(|m| m.modified()).ok();
        let fresh = match (modified(&out), modified(&self.bzimage)) {
            (Some(cached), Some(source)) => cached >= source,
            _ => false,
        };
        if fresh {
            return Ok(out);
        }
        fs::create_dir_all(cache_dir)
            .with_context(|| format!("cannot create {}", cache_dir.display()))?;
        let bzimage = fs::read(&self.bzimage)
            .with_context(|| format!("cannot read {}", self.bzimage.display()))?;
        let payload = bzimage_payload(&bzimage)
            .with_context(|| format!("{} is not a bzImage we can read", self.bzimage.display()))?;
        // Per process: two runs may extract at once; the rename makes either result whole.
        let tmp = cache_dir.join(format!(
            "vmlinux-{}.tmp-{}",
            self.version,
            std::process::id()
        ));
        let extracted = decompress(payload, &tmp)
            .and_then(|()| check_vmlinux(&tmp, payload))
            .and_then(|()| {
                fs::rename(&tmp, &out).with_context(|| {
                    format!("cannot rename {} to {}", tmp.display(), out.display())
                })
            });
        if extracted.is_err() {
            fs::remove_file(&tmp).ok();
        }
        extracted?;
        eprintln!(
            "vm-test: extracted {} from {}",
            out.display(),
            self.bzimage.display()
        );
        Ok(out)
    }
}

fn modules_dir(version: &str) -> PathBuf {
    Path::new("/lib/modules").join(version)
}

/// Orders kernel versions like `6.1.0-9-amd64` < `6.1.0-56-amd64`: digit runs compare as
/// numbers, everything else as text.
fn compare_versions(a: &str, b: &str) -> Ordering {
    fn parts(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    for (x, y) in parts(a).into_iter().zip(parts(b)) {
        let order = match (x, y) {
            ((true, x), (true, y)) => x
                .trim_start_matches('0')
                .len()
                .cmp(&y.trim_start_matches('0').len())
                .then_with(|| x.trim_start_matches('0').cmp(y.trim_start_matches('0'))),
            ((_, x), (_, y)) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

/// The compressed kernel inside a bzImage, from the setup header (boot protocol 2.08+:
/// `setup_sects` at 0x1f1, `payload_offset`/`payload_length` at 0x248/0x24c, relative to the
/// protected-mode code that follows the `setup_sects + 1` sectors of real-mode setup).
fn bzimage_payload(bzimage: &[u8]) -> Result<&[u8]> {
    let u16_at = |at: usize| -> Option<u16> {
        Some(u16::from_le_bytes(
            bzimage.get(at..at + 2)?.try_into().ok()?,
        ))
    };
    let u32_at = |at: usize| -> Option<usize> {
        let word = u32::from_le_bytes(bzimage.get(at..at + 4)?.try_into().ok()?);
        usize::try_from(word).ok()
    };
    ensure!(
        bzimage.get(0x202..0x206) == Some(b"HdrS"),
        "no `HdrS` setup header"
    );
    let protocol = u16_at(0x206).unwrap_or(0);
    ensure!(
        protocol >= 0x208,
        "boot protocol {protocol:#x} predates payload_offset (2.08)"
    );
    let setup_sects = match bzimage.get(0x1f1) {
        Some(0) | None => 4,
        Some(&n) => usize::from(n),
    };
    let (Some(offset), Some(length)) = (u32_at(0x248), u32_at(0x24c)) else {
        bail!("truncated setup header");
    };
    let start = (setup_sects + 1) * 512 + offset;
    bzimage
        .get(start..start + length)
        .context("the payload lies outside the file")
}

/// The decompressed size the kernel build appends to its payload (little-endian u32).
fn appended_size(payload: &[u8]) -> Option<u64> {
    let tail = payload.get(payload.len().checked_sub(4)?..)?;
    Some(u64::from(u32::from_le_bytes(tail.try_into().ok()?)))
}

const XZ_MAGIC: &[u8] = b"\xfd7zXZ\x00";
const GZIP_MAGIC: &[u8] = b"\x1f\x8b";

/// Decompresses a kernel payload (xz, Debian's choice, or gzip) into `out`.
fn decompress(payload: &[u8], out: &Path) -> Result<()> {
    let file = File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    if payload.starts_with(XZ_MAGIC) {
        // `--single-stream`: the payload ends with the 4-byte size, which is not xz.
        let mut cmd = Command::new("xz");
        cmd.args(["--decompress", "--stdout", "--single-stream"]);
        pipe_through(&mut cmd, payload, file)
    } else if payload.starts_with(GZIP_MAGIC) {
        let mut file = file;
        std::io::copy(&mut flate2::read::GzDecoder::new(payload), &mut file)
            .with_context(|| format!("cannot gunzip the kernel into {}", out.display()))?;
        Ok(())
    } else {
        bail!("the kernel payload is neither xz nor gzip (only those are supported)")
    }
}

/// Runs `cmd` with `input` on its stdin and its stdout into `out`.
pub(super) fn pipe_through(cmd: &mut Command, input: &[u8], out: File) -> Result<()> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(out)
        .spawn()
        .with_context(|| format!("cannot start `{}` (xz-utils)", describe(cmd)))?;
    let written = child.stdin.take().map(|mut stdin| {
        use std::io::Write;
        stdin.write_all(input)
    });
    let status = child.wait()?;
    if let Some(Err(err)) = written {
        bail!("`{}` did not read its input: {err}", describe(cmd));
    }
    ensure!(status.success(), "`{}` failed: {status}", describe(cmd));
    Ok(())
}

/// Checks that `path` is an ELF image of the size the payload announced.
fn check_vmlinux(path: &Path, payload: &[u8]) -> Result<()> {
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .with_context(|| format!("cannot read {}", path.display()))?;
    ensure!(
        &magic == b"\x7fELF",
        "{} is not an ELF vmlinux",
        path.display()
    );
    let size = fs::metadata(path)?.len();
    if let Some(expected) = appended_size(payload) {
        ensure!(
            size == expected,
            "{} has {size} bytes; the bzImage announced {expected}",
            path.display()
        );
    }
    Ok(())
}

/// A module's name as the kernel knows it: the file name without `.ko[.xz|.gz|.zst]`, with
/// dashes as underscores.
fn module_name(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.split(".ko").next().unwrap_or(file);
    stem.replace('-', "_")
}

/// The module files (paths relative to the modules directory) to load, in a working order, for
/// the `wanted` modules: each one's dependencies before it, `wanted`'s order kept otherwise,
/// each file once. Modules built into the kernel (`modules.builtin`) are skipped.
pub(crate) fn load_order(modules_dep: &str, builtin: &str, wanted: &[&str]) -> Result<Vec<String>> {
    let builtin: BTreeSet<String> = builtin.lines().map(module_name).collect();
    let mut deps: Vec<(String, String, Vec<String>)> = Vec::new();
    for line in modules_dep.lines() {
        let Some((file, rest)) = line.split_once(':') else {
            continue;
        };
        let file = file.trim().to_owned();
        let needs = rest.split_whitespace().map(str::to_owned).collect();
        deps.push((module_name(&file), file, needs));
    }
    let by_file = |file: &str| deps.iter().find(|(_, f, _)| f == file);
    let mut order: Vec<String> = Vec::new();
    for name in wanted {
        let name = module_name(name);
        if builtin.contains(&name) {
            continue;
        }
        let Some((_, file, needs)) = deps.iter().find(|(n, _, _)| *n == name) else {
            bail!("kernel module {name} is neither in modules.dep nor built in");
        };
        // modules.dep lists every (transitive) dependency, the deepest last: load from the end.
        for need in needs.iter().rev() {
            ensure!(
                by_file(need).is_some(),
                "modules.dep: {file} needs {need}, which has no line of its own"
            );
            if !order.contains(need) {
                order.push(need.clone());
            }
        }
        if !order.contains(file) {
            order.push(file.clone());
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        let mut v = vec![
            "6.1.0-56-amd64",
            "6.1.0-9-amd64",
            "6.10.0-1-amd64",
            "5.10.0-30-amd64",
        ];
        v.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(
            v,
            [
                "5.10.0-30-amd64",
                "6.1.0-9-amd64",
                "6.1.0-56-amd64",
                "6.10.0-1-amd64"
            ]
        );
    }

    fn fake_bzimage(setup_sects: u8, offset: u32, payload: &[u8]) -> Vec<u8> {
        let mut image = vec![0u8; (usize::from(setup_sects) + 1) * 512];
        image[0x1f1] = setup_sects;
        image[0x202..0x206].copy_from_slice(b"HdrS");
        image[0x206..0x208].copy_from_slice(&0x20fu16.to_le_bytes());
        image[0x248..0x24c].copy_from_slice(&offset.to_le_bytes());
        let length = u32::try_from(payload.len()).unwrap();
        image[0x24c..0x250].copy_from_slice(&length.to_le_bytes());
        image.extend(std::iter::repeat_n(0xAA, offset as usize));
        image.extend_from_slice(payload);
        image.extend_from_slice(b"trailing");
        image
    }

    #[test]
    fn the_payload_is_found_from_the_setup_header() {
        let payload = b"\xfd7zXZ\x00compressed\x10\x00\x00\x00";
        let image = fake_bzimage(3, 100, payload);
        assert_eq!(bzimage_payload(&image).unwrap(), payload);
        assert_eq!(appended_size(payload), Some(16));
    }

    #[test]
    fn a_file_without_a_setup_header_is_refused() {
        assert!(bzimage_payload(b"not a kernel").is_err());
        let mut image = fake_bzimage(3, 0, b"x");
        image[0x24c..0x250].copy_from_slice(&1000u32.to_le_bytes());
        assert!(bzimage_payload(&image).is_err(), "payload past the end");
    }

    #[test]
    fn xz_payloads_decompress_with_their_appended_size() {
        let dir = tempfile::tempdir().unwrap();
        let plain = b"\x7fELF and then some kernel".repeat(100);
        let xz = Command::new("xz")
            .args(["--compress", "--stdout", "--check=crc32"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(&plain)?;
                child.wait_with_output()
            })
            .unwrap();
        let mut payload = xz.stdout;
        payload.extend_from_slice(&u32::try_from(plain.len()).unwrap().to_le_bytes());
        let out = dir.path().join("vmlinux");
        decompress(&payload, &out).unwrap();
        check_vmlinux(&out, &payload).unwrap();
        assert_eq!(fs::read(&out).unwrap(), plain);
    }

    const MODULES_DEP: &str = "\
kernel/fs/netfs/netfs.ko:
kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko
kernel/fs/overlayfs/overlay.ko:
kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko
kernel/net/9p/9pnet.ko:
kernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/arch/x86/crypto/crc32c-intel.ko:
";

    #[test]
    fn modules_load_after_their_dependencies_and_once() {
        let order = load_order(
            MODULES_DEP,
            "kernel/fs/ext4/ext4.ko\n",
            &["9pnet_virtio", "9p", "overlay", "ext4", "crc32c-intel"],
        )
        .unwrap();
        assert_eq!(
            order,
            [
                "kernel/drivers/virtio/virtio_ring.ko",
                "kernel/drivers/virtio/virtio.ko",
                "kernel/net/9p/9pnet.ko",
                "kernel/net/9p/9pnet_virtio.ko",
                "kernel/fs/netfs/netfs.ko",
                "kernel/fs/fscache/fscache.ko",
                "kernel/fs/9p/9p.ko",
                "kernel/fs/overlayfs/overlay.ko",
                "kernel/arch/x86/crypto/crc32c-intel.ko",
            ]
        );
    }

    #[test]
    fn an_unknown_module_is_an_error() {
        assert!(load_order(MODULES_DEP, "", &["no_such_module"]).is_err());
    }

    #[test]
    fn module_names_drop_the_suffix_and_use_underscores() {
        assert_eq!(module_name("kernel/a/crc32c-intel.ko.xz"), "crc32c_intel");
        assert_eq!(module_name("kernel/fs/9p/9p.ko"), "9p");
        assert_eq!(module_name("9pnet_virtio"), "9pnet_virtio");
    }
}
