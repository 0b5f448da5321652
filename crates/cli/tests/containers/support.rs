//! A private engine per test (`--root`, `--runroot`, a cgroup parent of its own, a fake
//! host), the busybox image loaded into it, and the checks that nothing was left behind.
//!
//! The fake host: every `Engine` owns a network namespace of its own (`ip netns add`, `lo`
//! up), and every `peapod` command of the test runs in it (`nsenter --net`, no other
//! namespace changes). `bridge` is the default network mode, so the whole suite exercises the
//! default network, and its bridge, veths and nft table live and die with the fake host: a
//! test never makes a link or a firewall rule on the real host. Servers a test starts for
//! peapod to reach on 127.0.0.1 (a registry) are started inside the fake host too
//! ([`Engine::in_host`]); the tests that use `FakeHost` explicitly (the network tests) reach
//! its addresses the same way.

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
    /// The network namespace every `peapod` command runs in (dropped after the engine's
    /// own clean-up, [`Engine`]'s `Drop`).
    pub(crate) host: FakeHost,
}

/// A named network namespace (`ip netns add NAME`, `lo` up), deleted on drop: the host
/// `peapod` runs on in these tests.
pub(crate) struct FakeHost {
    pub(crate) name: String,
}

impl FakeHost {
    /// `pp-` and the last six characters of `unique` (a temp directory's random name).
    fn new(unique: &str) -> Self {
        let name = format!("pp-{}", &unique[unique.len() - 6..]);
        for args in [
            &["netns", "add", &name][..],
            &["-n", &name, "link", "set", "lo", "up"][..],
        ] {
            let out = Command::new("ip").args(args).output().unwrap();
            assert!(out.status.success(), "ip {args:?}: {}", text(&out));
        }
        Self { name }
    }

    /// `/run/netns/NAME`.
    pub(crate) fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }

    /// Its links, `ip -br link`.
    pub(crate) fn links(&self) -> String {
        let out = Command::new("ip")
            .args(["-n", &self.name, "-br", "link"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Its nftables ruleset.
    pub(crate) fn ruleset(&self) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, "nft", "list", "ruleset"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The container veths (`pp` + hex) on it.
    pub(crate) fn veths(&self) -> Vec<String> {
        self.links()
            .lines()
            .filter_map(|l| l.split(['@', ' ']).next())
            .filter(|n| {
                n.strip_prefix("pp")
                    .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
            })
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for FakeHost {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
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
            host: FakeHost::new(&unique),
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

    /// `peapod --root … --runroot … ARGS` (with our cgroup parent for run/create) in the
    /// fake host: `nsenter --net=/run/netns/NAME peapod …` (nsenter execs it: same pid).
    pub(crate) fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net={}", self.host.path()))
            .arg(env!("CARGO_BIN_EXE_peapod"))
            .arg("--root")
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

    /// [`Self::ok`] with the arguments split at whitespace (`IMAGE` stands for the image).
    pub(crate) fn okw(&self, line: &str) -> String {
        self.ok(&words(line))
    }

    /// `peapod ARGS`, which must fail with 125 and say `needle` (any case) on stderr.
    pub(crate) fn fails(&self, args: &[&str], needle: &str) {
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .to_lowercase()
                .contains(&needle.to_lowercase()),
            "{args:?}: {}",
            text(&out)
        );
    }

    /// [`Self::fails`] with the arguments split at whitespace (`IMAGE` for the image).
    pub(crate) fn failsw(&self, line: &str, needle: &str) {
        self.fails(&words(line), needle);
    }

    /// Runs `f` on a new thread that joined the fake host's network namespace, so that what
    /// it starts (a registry on 127.0.0.1, a socket) is where peapod runs, and the test's
    /// own threads never change namespace.
    pub(crate) fn in_host<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        in_netns(Path::new(&self.host.path()), f)
    }

    /// A registry (Debian's docker-registry, TLS, anonymous) on the fake host's 127.0.0.1,
    /// where peapod pulls from it, holding the `debian` fixture as `library/debian:12`.
    pub(crate) fn debian_registry(&self) -> crate::registry_support::registry::Registry {
        self.in_host(crate::registry_support::registry::Registry::with_debian)
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
        self.assert_network_clean();
    }

    /// Asserts nothing of any container is left on the fake host: no veth (waited for,
    /// bounded: the kernel deletes a veth pair in the background once its namespace is
    /// gone), no container chain (`c-ID`) in the nft table, no endpoint on any network.
    pub(crate) fn assert_network_clean(&self) {
        let until = Instant::now() + Duration::from_secs(10);
        while !self.host.veths().is_empty() {
            assert!(
                Instant::now() < until,
                "veths left: {:?}",
                self.host.veths()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let ruleset = self.host.ruleset();
        assert!(
            !ruleset.contains("chain c-"),
            "container rules left:\n{ruleset}"
        );
        for net in self.ok(&["network", "ls", "-q"]).lines() {
            let members = self.ok(&[
                "network",
                "inspect",
                "--format",
                "{{json .Containers}}",
                net,
            ]);
            assert_eq!(members.trim(), "{}", "endpoints left on {net}");
        }
    }
}

/// `line` split at whitespace, `IMAGE` replaced by the test image.
pub(crate) fn words(line: &str) -> Vec<&str> {
    line.split_whitespace()
        .map(|w| if w == "IMAGE" { IMAGE } else { w })
        .collect()
}

/// Runs `f` on a new thread that joined the network namespace at `path` (a pinned one, or
/// `/run/netns/NAME`), so the test's own threads never change namespace.
pub(crate) fn in_netns<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let file = std::fs::File::open(path).unwrap();
    std::thread::spawn(move || {
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        f()
    })
    .join()
    .unwrap()
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
