//! A real terminal for the `-t` tests: a private tmux server (its own socket, no user
//! configuration), one session per terminal, kept after its program exits so that its
//! screen can still be read. Every wait polls, bounded.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// How long a screen may take to show what a test expects (a loaded 2-core machine).
pub(crate) const SCREEN_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) struct Tmux {
    dir: tempfile::TempDir,
}

impl Tmux {
    pub(crate) fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("peapod-tty-tmux-")
            .tempdir()
            .unwrap();
        // Keep dead panes (their last screen); no status line.
        std::fs::write(
            dir.path().join("tmux.conf"),
            "set -g remain-on-exit on\nset -g status off\n",
        )
        .unwrap();
        Self { dir }
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    fn tmux(&self, args: &[&str]) -> Output {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(self.socket())
            .arg("-f")
            .arg(self.dir.path().join("tmux.conf"))
            .args(args)
            .output()
            .expect("tmux (cargo xtask deps)");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// A new terminal `name` of `cols` x `rows` running `cmd`, under a shell that writes
    /// its exit status to a file when it ends: tmux's own (`#{pane_dead_status}`) at times
    /// never comes, the pane's process left a zombie. The shell catches SIGINT and SIGTERM
    /// (so that ctrl-c does not end it first; `cmd` gets them with default handling).
    pub(crate) fn open(&self, name: &str, cols: u16, rows: u16, cmd: &Command) {
        let status = self.dir.path().join(format!("{name}.status"));
        let script = format!(
            "trap true INT TERM; \"$@\"; echo $? > {}.tmp && mv {0}.tmp {0}",
            status.display()
        );
        let mut args: Vec<String> = vec![
            "new-session".into(),
            "-d".into(),
            "-s".into(),
            name.into(),
            "-x".into(),
            cols.to_string(),
            "-y".into(),
            rows.to_string(),
            "--".into(),
            "sh".into(),
            "-c".into(),
            script,
            "sh".into(),
            cmd.get_program().to_string_lossy().into_owned(),
        ];
        args.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.tmux(&args);
    }

    /// Types `text` literally.
    pub(crate) fn type_text(&self, name: &str, text: &str) {
        self.tmux(&["send-keys", "-t", name, "-l", text]);
    }

    /// Types `line` and Enter.
    pub(crate) fn type_line(&self, name: &str, line: &str) {
        self.type_text(name, line);
        self.keys(name, &["Enter"]);
    }

    /// Presses keys by tmux name (`C-c`, `C-p`, `Enter`).
    pub(crate) fn keys(&self, name: &str, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", name];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Resizes the terminal.
    pub(crate) fn resize(&self, name: &str, cols: u16, rows: u16) {
        self.tmux(&[
            "resize-window",
            "-t",
            name,
            "-x",
            &cols.to_string(),
            "-y",
            &rows.to_string(),
        ]);
    }

    /// The screen's non-blank lines (with those scrolled off), right-trimmed, without tmux's "Pane is dead" line
    /// and busybox's two-line shell banner.
    pub(crate) fn screen(&self, name: &str) -> Vec<String> {
        // From the start of its history: a dead pane's notice may scroll lines off.
        let out = self.tmux(&["capture-pane", "-p", "-S", "-", "-E", "-", "-t", name]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim_end().to_owned())
            .filter(|l| {
                !l.is_empty()
                    && !l.starts_with("Pane is dead")
                    && !l.starts_with("BusyBox v")
                    && !l.starts_with("Enter 'help' for")
            })
            .collect()
    }

    /// Waits until the whole screen is `want` (line by line); fails with what it shows.
    pub(crate) fn wait_screen(&self, name: &str, want: &[&str]) {
        self.wait_until(name, &format!("the screen {want:#?}"), |s| s == want);
    }

    /// Waits until `ok(screen)`.
    pub(crate) fn wait_until(&self, name: &str, what: &str, ok: impl Fn(&[String]) -> bool) {
        let until = Instant::now() + SCREEN_TIMEOUT;
        loop {
            let screen = self.screen(name);
            if ok(&screen) {
                return;
            }
            assert!(
                Instant::now() < until,
                "terminal {name}: no {what} after {SCREEN_TIMEOUT:?}; it shows {screen:#?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the program of terminal `name` has exited; its exit status (128 + the
    /// signal's number if a signal ended it, as a shell says).
    pub(crate) fn wait_exit(&self, name: &str) -> i32 {
        let until = Instant::now() + SCREEN_TIMEOUT;
        let file = self.dir.path().join(format!("{name}.status"));
        loop {
            if let Ok(text) = std::fs::read_to_string(&file) {
                return text.trim().parse().unwrap();
            }
            assert!(
                Instant::now() < until,
                "terminal {name}: still running after {SCREEN_TIMEOUT:?}; it shows {:#?}",
                self.screen(name)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The pid of terminal `name`'s program (the child of its shell).
    pub(crate) fn pid(&self, name: &str) -> i32 {
        let out = self.tmux(&["display-message", "-p", "-t", name, "#{pane_pid}"]);
        let shell = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let children =
            std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).unwrap();
        let pids: Vec<i32> = children
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect();
        assert_eq!(
            pids.len(),
            1,
            "terminal {name}: shell {shell} has children {pids:?}"
        );
        pids[0]
    }

    /// Ends the server and its terminals.
    pub(crate) fn close(&self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(self.socket())
            .arg("kill-server")
            .output();
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.close();
    }
}
