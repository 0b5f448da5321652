//! A private store per test, the binary, and the checks that a failure left nothing behind.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

pub(crate) fn assert_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this privileged test must run as root (cargo xtask test)"
    );
}

/// `target/fixtures`, found from the test binary's own path (target/<profile>/deps/…).
pub(crate) fn fixtures() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.ancestors().nth(3).unwrap().join("fixtures");
    assert!(
        dir.join("busybox/oci").is_dir(),
        "no fixtures in {}: run `cargo xtask fixtures`",
        dir.display()
    );
    dir
}

pub(crate) fn fixture(name: &str, form: &str) -> PathBuf {
    fixtures().join(name).join(form)
}

/// The image id (config digest) skopeo reads from an image reference.
pub(crate) fn skopeo_id(reference: &str) -> String {
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--config", reference])
        .output()
        .unwrap();
    assert!(out.status.success(), "skopeo: {}", text(&out));
    peapod_image::Digest::of(&out.stdout).to_string()
}

/// The id skopeo reads from a fixture's OCI layout (asked once per fixture and test binary:
/// skopeo is slow to start in the emulated guest of `vm-test`).
pub(crate) fn fixture_id(name: &str) -> String {
    static IDS: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());
    let mut ids = IDS.lock().unwrap();
    ids.entry(name.to_owned())
        .or_insert_with(|| skopeo_id(&format!("oci:{}:latest", fixture(name, "oci").display())))
        .clone()
}

pub(crate) fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One test's store.
pub(crate) struct Store {
    pub(crate) tmp: tempfile::TempDir,
}

impl Store {
    pub(crate) fn new() -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("peapod-images-test-")
            .tempdir()
            .unwrap();
        Self { tmp }
    }

    pub(crate) fn root(&self) -> PathBuf {
        self.tmp.path().join("root")
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_peapod"));
        cmd.arg("--root").arg(self.root());
        // rmi, prune and df ask the engine which images containers use: its runroot is ours
        // (unless the test gives one).
        if !args.contains(&"--runroot") {
            cmd.arg("--runroot").arg(self.tmp.path().join("run"));
        }
        cmd.args(args)
            .env_remove("PEAPOD_ROOT")
            .env_remove("PEAPOD_RUNROOT")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `peapod --root <ours> ARGS` with stdin empty.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs it with `input` on stdin.
    pub(crate) fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        // A writer thread: the child may fail before reading it all (a closed pipe is fine).
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        out
    }

    /// Runs it, asserts success, returns stdout.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "peapod {args:?}: {}", text(&out));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Loads a fixture archive by file; returns the id it printed or skopeo's.
    pub(crate) fn load(&self, name: &str, form: &str) -> String {
        let file = fixture(name, form);
        let out = self.ok(&["load", "-i", file.to_str().unwrap()]);
        assert!(out.starts_with("Loaded image"), "{out}");
        fixture_id(name)
    }

    /// `images -q` as lines.
    pub(crate) fn ids(&self) -> Vec<String> {
        self.ok(&["images", "-q"])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// What is on disk: blob names, layer names, and what is in `tmp/`.
    pub(crate) fn contents(&self) -> Contents {
        let list = |dir: &str| -> Vec<String> {
            let path = self.root().join(dir);
            let mut names: Vec<String> = match std::fs::read_dir(&path) {
                Ok(entries) => entries
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect(),
                Err(_) => Vec::new(),
            };
            names.sort();
            names
        };
        Contents {
            blobs: list("blobs/sha256"),
            layers: list("layers"),
            tmp: list("tmp"),
        }
    }
}

impl Store {
    /// Asserts that the store holds nothing: no image, blob, layer, nor anything in `tmp/`.
    pub(crate) fn assert_empty(&self) {
        assert!(self.ids().is_empty(), "images left: {:?}", self.ids());
        let left = self.contents();
        assert!(
            left.blobs.is_empty() && left.layers.is_empty() && left.tmp.is_empty(),
            "{left:?}"
        );
    }

    /// A tar (made by GNU tar) of a small tree: `etc/hello`; returns its path.
    pub(crate) fn rootfs_tar(&self) -> PathBuf {
        let tree = self.path("tree");
        std::fs::create_dir_all(tree.join("etc")).unwrap();
        std::fs::write(tree.join("etc/hello"), "hello\n").unwrap();
        let tar = self.path("rootfs.tar");
        let status = Command::new("tar")
            .arg("-C")
            .arg(&tree)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .unwrap();
        assert!(status.success());
        tar
    }
}

/// A store's files, to compare before and after.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Contents {
    pub(crate) blobs: Vec<String>,
    pub(crate) layers: Vec<String>,
    pub(crate) tmp: Vec<String>,
}

/// Asserts a failure as peapod reports one: exit 125, `Error: ` on stderr with each of
/// `needles`.
pub(crate) fn assert_fails(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{}", text(out));
    assert!(stderr.starts_with("Error: "), "{}", text(out));
    for needle in needles {
        assert!(stderr.contains(needle), "no {needle:?} in: {}", text(out));
    }
}

/// The short id `images` shows.
pub(crate) fn short(id: &str) -> String {
    id.trim_start_matches("sha256:")[..12].to_owned()
}

/// Gzips a file into another.
pub(crate) fn gzip(from: &Path, to: &Path) {
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(to).unwrap(),
        flate2::Compression::fast(),
    );
    std::io::copy(&mut std::fs::File::open(from).unwrap(), &mut enc).unwrap();
    enc.finish().unwrap();
}

/// Runs `cmd` with its stdout (and, if `stdin_too`, its stdin, where `input` is typed) on a
/// fresh pseudo-terminal; stderr is captured.
pub(crate) fn run_on_pty(mut cmd: Command, stdin_too: bool, input: &[u8]) -> Output {
    let pty = nix::pty::openpty(None, None).unwrap();
    let mut master = std::fs::File::from(pty.master);
    // Typed before the child starts: the terminal's line discipline holds it.
    master.write_all(input).unwrap();
    let slave = pty.slave;
    cmd.stdout(Stdio::from(slave.try_clone().unwrap()));
    if stdin_too {
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()));
    }
    cmd.stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    drop(slave);
    let out = child.wait_with_output().unwrap();
    // What the child wrote to the terminal, without blocking on an empty one.
    let mut seen = Vec::new();
    let fd = std::os::fd::AsFd::as_fd(&master);
    let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL).unwrap();
    let mut flags = nix::fcntl::OFlag::from_bits_truncate(flags);
    flags.insert(nix::fcntl::OFlag::O_NONBLOCK);
    nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(flags)).unwrap();
    let mut buf = [0u8; 4096];
    while let Ok(n) = std::io::Read::read(&mut master, &mut buf) {
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
    }
    Output {
        status: out.status,
        stdout: seen,
        stderr: out.stderr,
    }
}
