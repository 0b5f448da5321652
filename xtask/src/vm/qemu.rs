//! QEMU: choosing KVM or TCG, the command line, and running a guest under a time bound while
//! streaming its console.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::guest::clean_line;
use super::initramfs::{ROOT_TAG, SHARE_TAG};
use crate::util::describe;

/// The firmware: qboot (Debian's `qemu-system-data`) boots an ELF vmlinux through PVH and
/// prints nothing, where SeaBIOS with a bzImage takes about twice as long.
const QBOOT: &str = "/usr/share/qemu/qboot.rom";

/// `-accel` as asked on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum AccelChoice {
    /// KVM if a probe boot under KVM succeeds, TCG otherwise.
    Auto,
    Kvm,
    Tcg,
}

/// The accelerator a guest runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Kvm => "KVM",
            Self::Tcg => "TCG",
        }
    }
}

/// What to do about KVM, from what the host shows.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    Use(Accel),
    /// KVM looks usable: boot a trivial guest under it to be sure.
    ProbeKvm,
    /// TCG, for this reason.
    Tcg(&'static str),
}

/// Decides from `/dev/kvm`'s usability and `/proc/cpuinfo`. A `/dev/kvm` whose CPU has no
/// `vmx`/`svm` flag is a paravirtual KVM (these machines have PVM, `kvm_pvm`) that runs only
/// guests built for it: Debian's kernel stops on an MSR assertion with `-cpu host` and hangs
/// silently with other CPU models. So it is not even probed. Hardware flags alone do not prove
/// KVM works either (nested virtualisation, permissions), hence the probe boot.
pub(crate) fn plan(choice: AccelChoice, kvm_usable: bool, cpuinfo: &str) -> Plan {
    match choice {
        AccelChoice::Kvm => Plan::Use(Accel::Kvm),
        AccelChoice::Tcg => Plan::Use(Accel::Tcg),
        AccelChoice::Auto if !kvm_usable => Plan::Tcg("/dev/kvm is missing or not read-writable"),
        AccelChoice::Auto if !has_virtualization_flag(cpuinfo) => Plan::Tcg(
            "/dev/kvm exists but the CPU has no vmx/svm flag (a paravirtual KVM such as PVM, \
             which cannot boot Debian's kernel)",
        ),
        AccelChoice::Auto => Plan::ProbeKvm,
    }
}

fn has_virtualization_flag(cpuinfo: &str) -> bool {
    cpuinfo
        .lines()
        .filter(|line| line.starts_with("flags"))
        .filter_map(|line| line.split_once(':'))
        .any(|(_, flags)| flags.split_whitespace().any(|f| f == "vmx" || f == "svm"))
}

/// Whether this user may open `/dev/kvm` read-write.
pub(crate) fn kvm_usable() -> bool {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}

/// One guest: its kernel, initramfs, shares and size.
#[derive(Debug)]
pub(crate) struct Machine {
    pub(crate) vmlinux: PathBuf,
    pub(crate) initramfs: PathBuf,
    /// Shared read-write with the guest, at the same path.
    pub(crate) share: PathBuf,
    /// A raw ext4 image: the guest's overlay upper layer and `/tmp`.
    pub(crate) scratch: PathBuf,
    pub(crate) accel: Accel,
    pub(crate) cpus: u32,
    pub(crate) memory_mib: u32,
}

/// The kernel command line: serial console, quiet, reboot at once on panic (QEMU then exits,
/// thanks to `-no-reboot`), and no cgroup v1 at all, so the guest is a cgroup v2-only host.
/// `mitigations=off`: a throwaway test guest; TCG runs the suite about 10% faster without them.
const APPEND: &str = "console=ttyS0 quiet panic=-1 cgroup_no_v1=all mitigations=off";

impl Machine {
    pub(crate) fn command(&self) -> Command {
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args(["-nodefaults", "-no-user-config", "-display", "none"]);
        cmd.args(["-no-reboot", "-serial", "stdio", "-machine", "pc"]);
        match self.accel {
            Accel::Kvm => cmd.args(["-accel", "kvm", "-cpu", "host"]),
            Accel::Tcg => cmd.args(["-accel", "tcg,thread=multi", "-cpu", "max"]),
        };
        cmd.arg("-smp").arg(self.cpus.to_string());
        cmd.arg("-m").arg(format!("{}M", self.memory_mib));
        cmd.args(["-bios", QBOOT]);
        cmd.arg("-kernel").arg(&self.vmlinux);
        cmd.arg("-initrd").arg(&self.initramfs);
        cmd.args(["-append", APPEND]);
        // The host's root, read-only; `none`: no ownership changes are attempted on the host,
        // so this works for a non-root user too. `remap`: inodes stay unique across the
        // host's mounts.
        cmd.arg("-virtfs").arg(format!(
            "local,path=/,mount_tag={ROOT_TAG},security_model=none,readonly=on,multidevs=remap"
        ));
        cmd.arg("-virtfs").arg(format!(
            "local,path={},mount_tag={SHARE_TAG},security_model=none",
            self.share.display()
        ));
        cmd.arg("-drive").arg(format!(
            "file={},if=virtio,format=raw,cache=unsafe",
            self.scratch.display()
        ));
        cmd
    }
}

/// How a guest run ended.
#[derive(Debug)]
pub(crate) struct Ended {
    /// QEMU's exit status; `None` if it was killed on the time bound.
    pub(crate) status: Option<ExitStatus>,
    pub(crate) elapsed: Duration,
}

/// Boots `machine`, hands each console line (carriage returns removed) to `on_line`, and kills
/// QEMU if it runs longer than `timeout`.
pub(crate) fn run(
    machine: &Machine,
    timeout: Duration,
    mut on_line: impl FnMut(&str),
) -> Result<Ended> {
    let mut cmd = machine.command();
    cmd.stdin(Stdio::null()).stdout(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start `{}`", describe(&cmd)))?;
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if line.last() == Some(&b'\n') {
                            line.pop();
                        }
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
    }
    let deadline = start + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => on_line(&clean_line(&line)),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // Only our own QEMU, by its handle.
                child.kill().ok();
                child.wait().ok();
                return Ok(Ended {
                    status: None,
                    elapsed: start.elapsed(),
                });
            }
        }
    }
    let status = child
        .wait()
        .with_context(|| format!("cannot wait for `{}`", describe(&cmd)))?;
    Ok(Ended {
        status: Some(status),
        elapsed: start.elapsed(),
    })
}

/// Makes the scratch disk: a sparse file of `size_gib` holding a fresh ext4 (the host's
/// `mkfs.ext4`, so the guest formats nothing). Lazy init keeps it fast and sparse.
pub(crate) fn make_scratch_disk(path: &Path, size_gib: u64) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.set_len(size_gib << 30)
        .with_context(|| format!("cannot size {}", path.display()))?;
    drop(file);
    // In /sbin, which is not on a Debian user's PATH.
    let mkfs = ["/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("mkfs.ext4");
    crate::util::output(
        Command::new(mkfs)
            .args(["-q", "-F", "-L", "peapod-scratch"])
            .args(["-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard"])
            .arg(path),
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CPUINFO_PVM: &str = "processor\t: 0\nvendor_id\t: GenuineIntel\n\
        flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep hypervisor lahf_lm\n";
    const CPUINFO_VMX: &str = "processor\t: 0\nflags\t\t: fpu vme vmx ept\n";
    const CPUINFO_SVM: &str = "processor\t: 0\nflags\t\t: fpu svm npt\n";

    #[test]
    fn kvm_is_probed_only_with_a_device_and_hardware_virtualization() {
        assert_eq!(plan(AccelChoice::Auto, true, CPUINFO_VMX), Plan::ProbeKvm);
        assert_eq!(plan(AccelChoice::Auto, true, CPUINFO_SVM), Plan::ProbeKvm);
        assert!(
            matches!(plan(AccelChoice::Auto, true, CPUINFO_PVM), Plan::Tcg(why) if why.contains("PVM"))
        );
        assert!(
            matches!(plan(AccelChoice::Auto, false, CPUINFO_VMX), Plan::Tcg(why) if why.contains("/dev/kvm"))
        );
    }

    #[test]
    fn an_explicit_choice_is_not_second_guessed() {
        assert_eq!(plan(AccelChoice::Kvm, false, ""), Plan::Use(Accel::Kvm));
        assert_eq!(
            plan(AccelChoice::Tcg, true, CPUINFO_VMX),
            Plan::Use(Accel::Tcg)
        );
    }

    #[test]
    fn the_flag_must_be_a_whole_word_on_a_flags_line() {
        assert!(!has_virtualization_flag("flags\t: vmxnet avx\n"));
        assert!(!has_virtualization_flag("model name\t: vmx svm\n"));
    }

    #[test]
    fn the_command_line_shares_the_root_read_only_and_picks_the_accelerator() {
        let machine = Machine {
            vmlinux: "/t/vmlinux".into(),
            initramfs: "/t/initramfs.cpio".into(),
            share: "/t/run-1".into(),
            scratch: "/t/run-1/scratch.img".into(),
            accel: Accel::Tcg,
            cpus: 2,
            memory_mib: 4096,
        };
        let line = describe(&machine.command());
        assert!(line.contains("-accel tcg,thread=multi -cpu max -smp 2 -m 4096M"));
        assert!(line.contains("-kernel /t/vmlinux -initrd /t/initramfs.cpio"));
        assert!(
            line.contains("local,path=/,mount_tag=peapod-root,security_model=none,readonly=on")
        );
        assert!(line.contains("local,path=/t/run-1,mount_tag=peapod-share"));
        assert!(line.contains("cgroup_no_v1=all"));
        let kvm = Machine {
            accel: Accel::Kvm,
            ..machine
        };
        assert!(describe(&kvm.command()).contains("-accel kvm -cpu host"));
    }
}
