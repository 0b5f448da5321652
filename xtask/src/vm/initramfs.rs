//! The guest's initramfs: static busybox, the few modules needed to reach the host's root, and
//! an `/init` that builds the guest's root and hands over to the run script.
//!
//! `/init` mounts the host's `/` read-only over virtio-9p, formats nothing (the host made the
//! scratch disk's ext4) and mounts the scratch disk, then stacks an overlay: host root below,
//! scratch disk above. So host-built, dynamically linked test binaries and host tools run
//! unchanged at their host paths, and tests may write anywhere. `/tmp` is a directory of the
//! scratch disk, not an overlay (overlayfs refuses an overlay directory as upperdir) and not a
//! tmpfs (the guest's 6.1 kernel has no `user.*` xattrs on tmpfs; ext4 has).
//! It then `switch_root`s (not chroot: a chrooted process may not create user namespaces).

use std::fs::{self, File};
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::cpio::Cpio;
use super::kernel::{Kernel, load_order, pipe_through};
use super::shell_quote;

/// The static busybox that runs `/init` (Debian's `busybox-static`).
const BUSYBOX: &str = "/bin/busybox";

/// The modules `/init` loads, in this order (dependencies are added from `modules.dep`):
/// virtio over PCI, the scratch disk, 9p over virtio, overlayfs, ext4 and the crc32c it
/// needs (a soft dependency modules.dep does not list).
const MODULES: &[&str] = &[
    "virtio_pci",
    "virtio_blk",
    "9pnet_virtio",
    "9p",
    "overlay",
    "crc32c_generic",
    "ext4",
];

/// 9p mount tags, shared with the QEMU command line.
pub(crate) const ROOT_TAG: &str = "peapod-root";
pub(crate) const SHARE_TAG: &str = "peapod-share";

/// The host root's 9p mount options. `cache=loose`: the guest keeps what it read (the host
/// root does not change under a test run; about 10% faster than no cache).
const ROOT_OPTIONS: &str = "trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro";
/// The shared directory's: no cache, every write reaches the host at once.
const SHARE_OPTIONS: &str = "trans=virtio,version=9p2000.L,msize=512000";

/// What `/init` needs to know about the host.
#[derive(Debug)]
pub(crate) struct Init<'a> {
    /// The host directory shared read-write, mounted at the same path in the guest.
    pub(crate) share: &'a Path,
    /// The script, in `share`, that `/init` executes once the root is ready.
    pub(crate) script: &'a Path,
    /// Directories under `/tmp` (a workspace or target dir checked out there) that the
    /// guest's fresh `/tmp` must still show, writable, at the same paths.
    pub(crate) keep: &'a [std::path::PathBuf],
}

/// Builds the initramfs for `kernel` into `out`.
pub(crate) fn build(kernel: &Kernel, init: &Init<'_>, out: &Path) -> Result<()> {
    let read = |path: &Path| {
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    };
    let modules_dep = read(&kernel.modules.join("modules.dep"))?;
    let builtin = read(&kernel.modules.join("modules.builtin")).unwrap_or_default();
    let order = load_order(&modules_dep, &builtin, MODULES)?;

    let mut cpio = Cpio::default();
    for dir in [
        "bin", "dev", "proc", "sys", "lower", "scratch", "newroot", "modules",
    ] {
        cpio.dir(dir, 0o755);
    }
    let busybox = fs::read(BUSYBOX).with_context(|| {
        format!("cannot read {BUSYBOX} (the busybox-static package, `cargo xtask deps`)")
    })?;
    cpio.file("bin/busybox", 0o755, &busybox);
    cpio.symlink("bin/sh", "busybox");
    let mut files = Vec::new();
    for (i, module) in order.iter().enumerate() {
        let name = format!("modules/{i:02}-{}.ko", module_file_stem(module));
        let data = module_bytes(&kernel.modules.join(module), out)?;
        cpio.file(&name, 0o644, &data);
        files.push(name);
    }
    cpio.file("init", 0o755, init_script(init, &files).as_bytes());
    fs::write(out, cpio.finish()).with_context(|| format!("cannot write {}", out.display()))
}

fn module_file_stem(path: &str) -> &str {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.split(".ko").next().unwrap_or(file)
}

/// A module's ELF bytes: busybox's insmod takes only uncompressed modules.
fn module_bytes(path: &Path, scratch: &Path) -> Result<Vec<u8>> {
    let data = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let name = path.to_string_lossy();
    if name.ends_with(".ko") {
        Ok(data)
    } else if name.ends_with(".ko.xz") {
        let tmp = scratch.with_extension("module.tmp");
        let file =
            File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        pipe_through(Command::new("xz").args(["-d", "-c"]), &data, file)?;
        let plain = fs::read(&tmp)?;
        fs::remove_file(&tmp).ok();
        Ok(plain)
    } else if name.ends_with(".ko.gz") {
        let mut plain = Vec::new();
        std::io::copy(&mut flate2::read::GzDecoder::new(&data[..]), &mut plain)
            .with_context(|| format!("cannot gunzip {}", path.display()))?;
        Ok(plain)
    } else {
        bail!("{}: unsupported module compression", path.display())
    }
}

/// The `/init` script: busybox sh, every command spelled `$B applet`.
fn init_script(init: &Init<'_>, modules: &[String]) -> String {
    let share = shell_quote(&init.share.to_string_lossy());
    let script = shell_quote(&init.script.to_string_lossy());
    let keep: String = init
        .keep
        .iter()
        .filter_map(|k| k.strip_prefix("/tmp").ok())
        .map(|rel| {
            let rel = shell_quote(&rel.to_string_lossy());
            format!(
                "$B mkdir -p /scratch/tmp/{rel} && $B mount --bind /newroot/tmp/{rel} /scratch/tmp/{rel} \\\n  || die \"cannot keep /tmp/\"{rel}\n"
            )
        })
        .collect();
    let modules: Vec<String> = modules.iter().map(|m| format!("/{m}")).collect();
    format!(
        r#"#!/bin/busybox sh
# peapod vm-test /init (generated by cargo xtask vm-test)
B=/bin/busybox
die() {{ echo "vm-test init: $*"; echo b > /proc/sysrq-trigger; $B sleep 60; }}
$B mount -t proc proc /proc
$B mount -t sysfs sysfs /sys
$B mount -t devtmpfs devtmpfs /dev
for m in {modules}; do $B insmod "$m" || die "insmod $m failed"; done
$B mount -t 9p -o {ROOT_OPTIONS} {ROOT_TAG} /lower \
  || die "cannot mount the host root (9p)"
i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do $B sleep 0.1; i=$((i+1)); done
$B mount -t ext4 -o noinit_itable /dev/vda /scratch || die "cannot mount the scratch disk"
$B mkdir -p /scratch/upper /scratch/work /scratch/tmp && $B chmod 1777 /scratch/tmp
$B mount -t overlay -o lowerdir=/lower,upperdir=/scratch/upper,workdir=/scratch/work overlay /newroot \
  || die "cannot mount the overlay root"
{keep}$B mount --rbind /scratch/tmp /newroot/tmp || die "cannot mount /tmp"
$B mount -t 9p -o {SHARE_OPTIONS} {SHARE_TAG} /newroot{share} \
  || die "cannot mount the shared directory"
for d in proc sys dev; do $B mount --move /$d /newroot/$d || die "cannot move /$d"; done
exec $B switch_root /newroot /bin/sh {script}
"#,
        modules = modules.join(" "),
    )
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn init_loads_modules_in_order_and_runs_the_script_at_its_host_path() {
        let share = PathBuf::from("/work/target/vm-test/run-1");
        let script = share.join("guest.sh");
        let text = init_script(
            &Init {
                share: &share,
                script: &script,
                keep: &[PathBuf::from("/tmp/ci")],
            },
            &[
                "modules/00-virtio_ring.ko".into(),
                "modules/01-virtio.ko".into(),
            ],
        );
        assert!(text.starts_with("#!/bin/busybox sh\n"));
        assert!(text.contains("for m in /modules/00-virtio_ring.ko /modules/01-virtio.ko; do"));
        assert!(text.contains("peapod-share /newroot'/work/target/vm-test/run-1'"));
        // A workspace under /tmp stays visible under the guest's fresh /tmp.
        let keep = text
            .find("mount --bind /newroot/tmp/'ci' /scratch/tmp/'ci'")
            .unwrap();
        assert!(
            keep < text
                .find("mount --rbind /scratch/tmp /newroot/tmp")
                .unwrap()
        );
        assert!(text.ends_with(
            "exec $B switch_root /newroot /bin/sh '/work/target/vm-test/run-1/guest.sh'\n"
        ));
    }

    #[test]
    fn module_stems_drop_directories_and_suffixes() {
        assert_eq!(module_file_stem("kernel/fs/9p/9p.ko"), "9p");
        assert_eq!(
            module_file_stem("kernel/a/crc32c-intel.ko.xz"),
            "crc32c-intel"
        );
    }
}
