//! What every client test needs: the fixtures, bounded waits, a private tmux server, and
//! the checks that a client and `peapod-oci` left nothing behind (cgroups, mounts, processes).

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub(crate) use crate::oci_support::{cgroup_dirs, text};

/// The runtime under test, as cargo built it.
pub(crate) const PEAPOD_OCI: &str = env!("CARGO_BIN_EXE_peapod-oci");

/// The control: Debian's runc, which every client here is known to work with.
pub(crate) const RUNC: &str = "/usr/bin/runc";

/// How long a client may take for one step: generous, as the VM guest emulates its CPU
/// (2-25x slower than the host), and a bound all the same.
pub(crate) const CLIENT_WAIT: Duration = Duration::from_secs(60);

/// A private directory under /tmp with a short path (podman refuses a run root of 50
/// characters or more; unix socket paths are limited to 108).
pub(crate) fn short_tempdir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/tmp")
        .unwrap()
}

/// Asserts that `out` failed with exit code `code` and that its stderr has each of
/// `words`, as written (docker's CLI matches the runtime's words case-sensitively).
pub(crate) fn assert_failed_with(out: &Output, code: i32, words: &[&str], runtime: &str) {
    assert_eq!(out.status.code(), Some(code), "{runtime}: {}", text(out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for word in words {
        assert!(
            stderr.contains(word),
            "{runtime}: no {word:?} in {}",
            text(out)
        );
    }
}

/// A client's command line with its private globals (root, socket, config).
pub(crate) trait Client {
    /// The program's name, for messages.
    const NAME: &'static str;

    /// The program with this test's globals.
    fn command(&self) -> Command;

    /// `CLIENT ARGS`.
    fn run(&self, args: &[&str]) -> Output {
        output(self.command().args(args))
    }

    /// `CLIENT ARGS`, which must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{} {args:?}: {}",
            Self::NAME,
            text(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `stop --time 1` of a container whose pid 1 ignores SIGTERM (sleep): the client
    /// kills it after the timeout, records exit 137; then `rm`.
    fn stop_by_kill_and_remove(&self, name: &str) {
        self.ok(&["stop", "--time", "1", name]);
        let format = "{{.State.Status}} {{.State.ExitCode}}";
        let state = self.ok(&["inspect", name, "--format", format]);
        assert_eq!(state.trim(), "exited 137", "{}", Self::NAME);
        self.ok(&["rm", name]);
    }
}

/// Stops a daemon the test started: SIGTERM by its pid, then (30 s later) SIGKILL. Never
/// panics: it also runs from `drop` after a failed assertion. Ok if it exited successfully.
pub(crate) fn terminate(mut daemon: std::process::Child, name: &str) -> Result<(), String> {
    let pid = nix::unistd::Pid::from_raw(daemon.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let deadline = Instant::now() + CLIENT_WAIT;
    loop {
        match daemon.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("{name} exited with {status}")),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = daemon.kill();
                let _ = daemon.wait();
                return Err(format!("{name} did not exit in 30 s of SIGTERM"));
            }
            Err(e) => return Err(format!("cannot wait for {name}: {e}")),
        }
    }
}

/// Runs `cmd` to completion, stdin closed.
pub(crate) fn output(cmd: &mut Command) -> Output {
    cmd.stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Calls `probe` every 20 ms until it returns `Some`, for `timeout` at most; then fails the
/// test, saying what never happened and what the last probe saw.
pub(crate) fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match probe() {
            Ok(value) => return value,
            Err(last) => assert!(
                Instant::now() < deadline,
                "{what} never happened in {timeout:?}; last seen: {last}"
            ),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Removes cgroup `path` and every empty cgroup under it, deepest first, in every
/// hierarchy: what a client leaves (podman's conmon cgroups, dockerd's parents) once its
/// containers are gone. A cgroup that still holds a process stays (and the leak check
/// that follows reports it).
pub(crate) fn remove_cgroup_tree(path: &str) {
    fn remove(dir: &Path) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    remove(&entry.path());
                }
            }
        }
        let _ = std::fs::remove_dir(dir);
    }
    for dir in cgroup_dirs(path) {
        remove(&dir);
    }
    // The shared parent of every checkout's tests goes too once empty, as the runtime's
    // own tests expect (rmdir fails, harmlessly, while another test has a cgroup there).
    for dir in cgroup_dirs(TEST_PARENT) {
        let _ = std::fs::remove_dir(dir);
    }
}

/// The cgroup parent every privileged test of the workspace puts its cgroups under.
pub(crate) const TEST_PARENT: &str = "/peapod-test";

/// Asserts that cgroup `path` exists in no hierarchy.
pub(crate) fn assert_no_cgroup(path: &str) {
    for dir in cgroup_dirs(path) {
        assert!(!dir.exists(), "cgroup {} left behind", dir.display());
    }
}

/// Asserts that nothing is mounted under `dir`, in our mount namespace.
pub(crate) fn assert_no_mounts_under(dir: &Path) {
    let ours = dir.to_str().unwrap();
    let left: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.split(' ').nth(4).is_some_and(|m| m.starts_with(ours)))
        .map(str::to_owned)
        .collect();
    assert!(left.is_empty(), "mounts left under {ours}: {left:#?}");
}

/// The pids of processes whose command line mentions `needle`, but ours.
pub(crate) fn processes_mentioning(needle: &str) -> Vec<(i32, String)> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(pid) = name.parse::<i32>() else {
            continue;
        };
        if name == me {
            continue;
        }
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        if cmdline.contains(needle) {
            found.push((pid, cmdline));
        }
    }
    found
}

/// Waits (`CLIENT_WAIT` at most) until no process mentions `needle` in its command line.
pub(crate) fn assert_no_processes_mentioning(needle: &str) {
    wait_for(
        &format!("the exit of every process mentioning {needle}"),
        CLIENT_WAIT,
        || {
            let left = processes_mentioning(needle);
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("{left:?}"))
            }
        },
    );
}

/// Runs `shell_command` (a client's `run -it … sh`) on a terminal under tmux, asserts that
/// the shell has a terminal (/dev/pts/0) and answers, and that `exit 3` ends the client
/// with 3.
pub(crate) fn assert_interactive_shell(name: &str, shell_command: &str) {
    let tmux = Tmux::start(name, shell_command);
    tmux.wait_for_text("/ #", CLIENT_WAIT);
    tmux.type_line("tty; echo $((6*7))");
    let screen = tmux.wait_for_text("42", CLIENT_WAIT);
    assert!(screen.contains("/dev/pts/0"), "{screen}");
    tmux.type_line("exit 3");
    tmux.wait_for_text("EXITED=3", CLIENT_WAIT);
}

/// A private tmux server (its own socket) running one session: a terminal for `-it`.
pub(crate) struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `shell_command` (run by sh) in an 80x24 terminal. When it ends, the pane
    /// prints `EXITED=<code>` and stays a while so that the test can read it.
    pub(crate) fn start(name: &str, shell_command: &str) -> Self {
        let socket = format!("peapod-{name}-{}", std::process::id());
        let tmux = Self { socket };
        let script = format!("{shell_command}; echo EXITED=$?; sleep 30");
        let out = output(tmux.command().args([
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "80",
            "-y",
            "24",
            &script,
        ]));
        assert!(out.status.success(), "tmux new-session: {}", text(&out));
        tmux
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket]);
        cmd
    }

    /// Types `keys` and Enter.
    pub(crate) fn type_line(&self, keys: &str) {
        let out = output(
            self.command()
                .args(["send-keys", "-t", "t", "-l", keys])
                .arg(";")
                .args(["send-keys", "-t", "t", "Enter"]),
        );
        assert!(out.status.success(), "tmux send-keys: {}", text(&out));
    }

    /// The screen, as text.
    pub(crate) fn screen(&self) -> String {
        let out = output(self.command().args(["capture-pane", "-p", "-t", "t"]));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits (`timeout` at most) until the screen shows `needle`; returns the screen.
    pub(crate) fn wait_for_text(&self, needle: &str, timeout: Duration) -> String {
        wait_for(&format!("{needle:?} on the terminal"), timeout, || {
            let screen = self.screen();
            if screen.contains(needle) {
                Ok(screen)
            } else {
                Err(screen)
            }
        })
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = output(self.command().arg("kill-server"));
    }
}
