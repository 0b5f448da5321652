//! Bundles, a private runtime root per test, and the leak checks every test ends with.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub(crate) fn assert_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this privileged test must run as root (cargo xtask test)"
    );
}

/// Cargo's target dir, found from the test binary's own path (target/<profile>/deps/…).
pub(crate) fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

pub(crate) fn fixtures() -> PathBuf {
    let dir = target_dir().join("fixtures");
    assert!(
        dir.join("peapod-checker").exists(),
        "no fixtures in {}: run `cargo xtask fixtures`",
        dir.display()
    );
    dir
}

/// One test's world: a runtime root, a bundle, a container id, and the leak checks on drop.
pub(crate) struct World {
    pub(crate) tmp: tempfile::TempDir,
    pub(crate) id: String,
    pub(crate) config: Value,
}

impl World {
    /// A busybox bundle whose config is runc's default shape, running `args`.
    pub(crate) fn new(name: &str, args: &[&str]) -> Self {
        assert_root();
        let tmp = tempfile::Builder::new()
            .prefix("peapod-oci-test-")
            .tempdir()
            .unwrap();
        let rootfs = tmp.path().join("bundle/rootfs");
        std::fs::create_dir_all(rootfs.parent().unwrap()).unwrap();
        let image = format!("{}:latest", fixtures().join("busybox/oci").display());
        let out = Command::new("umoci")
            .args(["raw", "unpack", "--image", &image])
            .arg(&rootfs)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "umoci: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::copy(fixtures().join("peapod-checker"), rootfs.join("checker")).unwrap();
        let id = format!("{name}-{}", std::process::id());
        let config = default_config(&id, args);
        Self { tmp, id, config }
    }

    pub(crate) fn bundle(&self) -> PathBuf {
        self.tmp.path().join("bundle")
    }

    pub(crate) fn root(&self) -> PathBuf {
        self.tmp.path().join("state")
    }

    pub(crate) fn write_config(&self) {
        std::fs::write(
            self.bundle().join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    /// Runs `peapod-oci --root <ours> ARGS`. Its stdout and stderr go to files, not pipes:
    /// a created container's process inherits them and holds them open until it exits.
    pub(crate) fn oci(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_peapod-oci"));
        cmd.arg("--root").arg(self.root()).args(args);
        run_to_files(&mut cmd, self.tmp.path())
    }

    /// Writes the config, then `run`s the container to completion.
    pub(crate) fn run(&self) -> Output {
        self.write_config();
        let bundle = self.bundle();
        self.oci(&["run", "--bundle", bundle.to_str().unwrap(), &self.id])
    }

    /// Writes the config and starts the container in the background (`run --detach`).
    pub(crate) fn run_detached(&self) {
        self.write_config();
        let bundle = self.bundle();
        let out = self.oci(&[
            "run",
            "--detach",
            "--bundle",
            bundle.to_str().unwrap(),
            &self.id,
        ]);
        assert!(out.status.success(), "run --detach: {}", text(&out));
    }

    /// `state` as JSON.
    pub(crate) fn state(&self) -> Value {
        let out = self.oci(&["state", &self.id]);
        assert!(
            out.status.success(),
            "state: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub(crate) fn cgroup_path(&self) -> String {
        format!("/peapod-test/{}", self.id)
    }

    /// `delete --force`, which must succeed, then [`World::assert_nothing_left`].
    pub(crate) fn delete_force_leaving_nothing(&self) {
        let out = self.oci(&["delete", "--force", &self.id]);
        assert!(out.status.success(), "delete --force: {}", text(&out));
        self.assert_nothing_left();
    }

    /// Asserts that nothing of the container is left: state dir, cgroups, mounts.
    pub(crate) fn assert_nothing_left(&self) {
        let state = self.root().join(&self.id);
        assert!(
            !state.exists(),
            "state directory {} left behind",
            state.display()
        );
        // The parent the runtime made for it goes too (tests run one at a time).
        for dir in cgroup_dirs(&self.cgroup_path())
            .into_iter()
            .chain(cgroup_dirs("/peapod-test"))
        {
            assert!(!dir.exists(), "cgroup {} left behind", dir.display());
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let ours = self.tmp.path().to_str().unwrap();
        assert!(
            !mounts.contains(ours),
            "a mount under {ours} is left behind"
        );
    }
}

impl Drop for World {
    /// A test that failed half-way must not leak its container into the next one.
    fn drop(&mut self) {
        if self.root().join(&self.id).exists() {
            let _ = self.oci(&["delete", "--force", &self.id]);
        }
    }
}

/// Runs `cmd` with stdout and stderr in files under `dir`; returns them as an `Output`.
pub(crate) fn run_to_files(cmd: &mut Command, dir: &Path) -> Output {
    let (out_path, err_path) = (dir.join("stdout"), dir.join("stderr"));
    let status = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .status()
        .unwrap();
    Output {
        status,
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: std::fs::read(&err_path).unwrap(),
    }
}

/// Where a cgroup would be, in every hierarchy this host mounts.
pub(crate) fn cgroup_dirs(path: &str) -> Vec<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mounts
        .lines()
        .filter(|l| l.contains(" - cgroup ") || l.contains(" - cgroup2 "))
        .filter_map(|l| l.split(' ').nth(4))
        .map(|mnt| Path::new(mnt).join(path.trim_start_matches('/')))
        .collect()
}

/// The checker's command line inside the container.
pub(crate) fn checker(checks: &[&str]) -> Vec<String> {
    std::iter::once("/checker".to_owned())
        .chain(checks.iter().map(|c| (*c).to_owned()))
        .collect()
}

/// runc's default config, with our test cgroup path and the given args.
fn default_config(id: &str, args: &[&str]) -> Value {
    json!({
        "ociVersion": "1.2.0",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "peapod",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]}
        ],
        "linux": {
            "cgroupsPath": format!("/peapod-test/{id}"),
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// Output as text, for assertion messages.
pub(crate) fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs the container with the checker and `checks` as its process; asserts every check
/// passed and nothing was left behind.
pub(crate) fn run_checks(world: &mut World, checks: &[&str]) {
    world.config["process"]["args"] = json!(checker(checks));
    let out = world.run();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("FAIL"),
        "{}",
        text(&out)
    );
    world.assert_nothing_left();
}

/// Asserts that the container's run succeeded and the checker reported no failed check.
pub(crate) fn assert_checks_passed(out: &Output) {
    assert!(
        out.status.success() && !String::from_utf8_lossy(&out.stdout).contains("FAIL"),
        "{}",
        text(out)
    );
}

/// Polls `state` until the container reaches `want` (10 s at most).
pub(crate) fn wait_for_status(world: &World, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while world.state()["status"] != want {
        assert!(
            Instant::now() < deadline,
            "status never became {want}: {}",
            world.state()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A `sleep 60` in a new namespace of `kind` (`user`, `uts`…: unshare's flag and the
/// /proc/PID/ns name), and that namespace's path, once it has it (5 s at most).
pub(crate) fn namespace_holder(kind: &str) -> (std::process::Child, String) {
    let holder = Command::new("unshare")
        .args([&format!("--{kind}"), "sleep", "60"])
        .spawn()
        .unwrap();
    let path = format!("/proc/{}/ns/{kind}", holder.id());
    let ours = std::fs::read_link(format!("/proc/self/ns/{kind}")).ok();
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_link(&path).ok() == ours {
        assert!(
            Instant::now() < deadline,
            "the holder never got its {kind} namespace"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    (holder, path)
}

/// Reads `stream` until what was read contains `needle` whole (10 s at most: each read
/// waits in poll(2) for the time left); returns everything read. EOF or an error (EIO from
/// a pty master whose other side closed) before that fails the test with what came.
pub(crate) fn read_until(stream: &mut std::fs::File, needle: &str) -> String {
    use std::io::Read;
    use std::os::fd::AsFd;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut output = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&output).contains(needle) {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut fds = [nix::poll::PollFd::new(
            stream.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let ready = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)).unwrap();
        assert!(
            ready > 0 && !left.is_zero(),
            "{needle:?} never came in 10 s; got {:?}",
            String::from_utf8_lossy(&output)
        );
        match stream.read(&mut buf) {
            Ok(n) if n > 0 => output.extend_from_slice(&buf[..n]),
            other => panic!(
                "{needle:?} never came ({other:?}); got {:?}",
                String::from_utf8_lossy(&output)
            ),
        }
    }
    String::from_utf8_lossy(&output).into_owned()
}

/// The criu the checkpoint tests drive: `$PEAPOD_CRIU`, or the one `cargo xtask deps`
/// installs (Debian 13's, which works on the hosts' kernel; see xtask/src/deps_criu.rs).
pub(crate) fn criu() -> PathBuf {
    let path = std::env::var_os("PEAPOD_CRIU").map_or_else(
        || PathBuf::from("/usr/local/lib/peapod-criu/criu"),
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "no criu at {} (run `cargo xtask deps`, or set PEAPOD_CRIU)",
        path.display()
    );
    path
}
