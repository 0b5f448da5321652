//! A private engine per test (`--root`, `--runroot`, a cgroup parent of its own), the
//! busybox image loaded into it, and the checks that nothing was left behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub(crate) const IMAGE: &str = "localhost/busybox:latest";

pub(crate) fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One test's engine.
pub(crate) struct Engine {
    pub(crate) tmp: tempfile::TempDir,
    /// The cgroup parent of its containers (`/peapod-test/<unique>`).
    pub(crate) cgroup: String,
}

fn fixtures() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().join("fixtures")
}

impl Engine {
    /// A fresh engine with the busybox fixture loaded as [`IMAGE`].
    pub(crate) fn new() -> Self {
        assert!(
            nix::unistd::geteuid().is_root(),
            "run as root (cargo xtask test)"
        );
        let tmp = tempfile::Builder::new()
            .prefix("peapod-ctr-test-")
            .tempdir()
            .unwrap();
        let unique = tmp
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let engine = Self {
            tmp,
            cgroup: format!("/peapod-test/{unique}"),
        };
        let busybox = fixtures().join("busybox/oci");
        assert!(busybox.is_dir(), "no fixtures: cargo xtask fixtures");
        engine.ok(&["pull", "-q", &format!("oci:{}:latest", busybox.display())]);
        engine.ok(&["tag", "localhost/oci:latest", IMAGE]);
        engine
    }

    pub(crate) fn root(&self) -> PathBuf {
        self.tmp.path().join("root")
    }

    pub(crate) fn runroot(&self) -> PathBuf {
        self.tmp.path().join("run")
    }

    /// `peapod --root … --runroot … ARGS` (with our cgroup parent for run/create).
    pub(crate) fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_peapod"));
        cmd.arg("--root")
            .arg(self.root())
            .arg("--runroot")
            .arg(self.runroot());
        match args.first() {
            Some(&"run") | Some(&"create") => {
                cmd.arg(args[0])
                    .arg("--cgroup-parent")
                    .arg(&self.cgroup)
                    .args(&args[1..]);
            }
            Some(&"pod" | &"kube") if matches!(args.get(1), Some(&"create" | &"play")) => {
                cmd.args(&args[..2])
                    .arg("--cgroup-parent")
                    .arg(&self.cgroup)
                    .args(&args[2..]);
            }
            _ => {
                cmd.args(args);
            }
        }
        cmd.stdin(Stdio::null());
        cmd
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs and asserts success; stdout.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "peapod {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `inspect --format TEMPLATE NAME`, trimmed.
    pub(crate) fn inspect(&self, name: &str, template: &str) -> String {
        self.ok(&["inspect", "--format", template, name])
            .trim()
            .to_owned()
    }

    /// Waits (bounded) until `inspect` gives `want`.
    pub(crate) fn wait_for(&self, name: &str, template: &str, want: &str, timeout: Duration) {
        let until = Instant::now() + timeout;
        loop {
            let got = self.inspect(name, template);
            if got == want {
                return;
            }
            assert!(
                Instant::now() < until,
                "{name}: {template} is {got:?}, not {want:?} after {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// [`Engine::wait_for`] through another way of running `peapod` (`run` gets `ARGS`, gives
    /// stdout), as a fake host's.
    pub(crate) fn wait_for_in(
        &self,
        run: &dyn Fn(&[&str]) -> String,
        name: &str,
        template: &str,
        want: &str,
    ) {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let got = run(&["inspect", "--format", template, name]);
            if got.trim() == want {
                return;
            }
            assert!(
                Instant::now() < until,
                "{name}: {template} is {got:?}, not {want:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The number of containers `ps -a` lists.
    pub(crate) fn count(&self) -> usize {
        self.ok(&["ps", "-aq"]).lines().count()
    }

    /// Asserts nothing of any container is left: no row, mount, container or run
    /// directory, monitor, or cgroup.
    pub(crate) fn assert_clean(&self) {
        assert_eq!(self.count(), 0, "rows left: {}", self.ok(&["ps", "-a"]));
        assert_eq!(self.ok(&["pod", "ls", "-q"]), "", "pods left");
        let root = self.tmp.path().to_string_lossy().into_owned();
        let mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| l.contains(&root))
            .map(str::to_owned)
            .collect();
        assert!(mounts.is_empty(), "mounts left: {mounts:#?}");
        for dir in [
            self.root().join("containers"),
            self.runroot().join("containers"),
            self.runroot().join("pods"),
            self.runroot().join("netns"),
        ] {
            let left: Vec<_> = std::fs::read_dir(&dir)
                .map(|d| d.filter_map(|e| e.ok().map(|e| e.file_name())).collect())
                .unwrap_or_default();
            assert!(left.is_empty(), "left in {}: {left:?}", dir.display());
        }
        // The runtime's cache of compiled seccomp profiles (`..seccomp`) may stay.
        let runtime: Vec<_> = std::fs::read_dir(self.runroot().join("runtime"))
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.file_name()))
                    .filter(|n| n != "..seccomp")
                    .collect()
            })
            .unwrap_or_default();
        assert!(runtime.is_empty(), "runtime state left: {runtime:?}");
        assert!(
            processes_mentioning(&root).is_empty(),
            "processes left: {:?}",
            processes_mentioning(&root)
        );
        let cgroups = cgroups_under(&self.cgroup);
        assert!(cgroups.is_empty(), "cgroups left: {cgroups:#?}");
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Best effort: kill what a failed test left, so the next tests run clean.
        for pid in processes_mentioning(&self.tmp.path().to_string_lossy()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let pods = self.run(&["pod", "ls", "-q", "--no-trunc"]);
        for id in String::from_utf8_lossy(&pods.stdout).lines() {
            let _ = self.run(&["pod", "rm", "-f", id]);
        }
        let ids = self.run(&["ps", "-aq"]);
        for id in String::from_utf8_lossy(&ids.stdout).lines() {
            let _ = self.run(&["rm", "-f", id]);
        }
        for dir in cgroup_dirs(&self.cgroup) {
            let _ = std::fs::remove_dir(dir);
        }
        // Whatever a failed test left mounted below its directory (deepest first).
        let root = self.tmp.path().to_string_lossy().into_owned();
        let mut mounted: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
            .filter(|m| m.starts_with(&root))
            .collect();
        mounted.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounted {
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
        // The shared parent goes when empty (the runtime tests expect none left).
        for dir in cgroup_dirs("/peapod-test") {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Pids whose command line mentions `needle` (monitors carry their run directory).
pub(crate) fn processes_mentioning(needle: &str) -> Vec<i32> {
    let me = std::process::id().cast_signed();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}

/// The directories of cgroup `path` in every hierarchy (v1 controllers, v2).
pub(crate) fn cgroup_dirs(path: &str) -> Vec<PathBuf> {
    let rel = path.trim_start_matches('/');
    let mut dirs = vec![Path::new("/sys/fs/cgroup").join(rel)];
    if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
        for e in entries.flatten() {
            dirs.push(e.path().join(rel));
        }
    }
    dirs.into_iter().filter(|d| d.is_dir()).collect()
}

/// Container cgroups left under `parent`.
pub(crate) fn cgroups_under(parent: &str) -> Vec<PathBuf> {
    cgroup_dirs(parent)
        .into_iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect()
}
