//! containerd (Debian's 1.6) drives `peapod-oci` through its runc shim
//! (`io.containerd.runc.v2`) with `ctr run --runc-binary PEAPOD_OCI`: each test starts a
//! private containerd (its own root, state, sockets and opt directory; the CRI plugin off),
//! imports the busybox fixture with `ctr images import`, and stops it by pid afterwards.
//! The shim calls what go-runc calls: `create --pid-file --console-socket`, `start`,
//! `exec --process --detach --pid-file`, `ps --format json`, `pause`, `resume`, `kill`,
//! `delete`, all with `--root`, `--log` and `--log-format json`.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use crate::oci_support::{assert_root, fixtures, text};
use crate::support::{
    Client, PEAPOD_OCI, RUNC, assert_interactive_shell, assert_no_cgroup, assert_no_mounts_under,
    assert_no_processes_mentioning, remove_cgroup_tree, short_tempdir, terminate, wait_for,
};

/// The name `ctr images import` gives the fixture (its docker-archive's tag, normalised).
const IMAGE: &str = "docker.io/library/busybox:latest";

/// containerd's config: everything under `dir`, then `plugins` (TOML), and the CRI plugin
/// off unless `plugins` configures it.
pub(crate) fn config(dir: &str, plugins: &str) -> String {
    let disabled = if plugins.contains("io.containerd.grpc.v1.cri") {
        ""
    } else {
        "\"io.containerd.grpc.v1.cri\""
    };
    format!(
        r#"version = 2
root = "{dir}/root"
state = "{dir}/state"
disabled_plugins = [{disabled}]

[grpc]
  address = "{dir}/c.sock"

[ttrpc]
  address = "{dir}/c.sock.ttrpc"

[debug]
  address = "{dir}/debug.sock"

[plugins."io.containerd.internal.v1.opt"]
  path = "{dir}/opt"
{plugins}"#
    )
}

/// One private containerd, busybox imported (namespace `peapod`).
pub(crate) struct Containerd {
    tmp: tempfile::TempDir,
    daemon: Option<Child>,
    pub(crate) cgroup_parent: String,
    /// The containerd namespace `ctr` works in.
    namespace: &'static str,
}

impl Containerd {
    pub(crate) fn new(name: &str) -> Self {
        Self::with_plugins(name, "peapod", |_| String::new(), &["busybox"])
    }

    /// A containerd whose config ends with `plugins(dir)`, `ctr` in `namespace`, the
    /// fixture `images` imported.
    pub(crate) fn with_plugins(
        name: &str,
        namespace: &'static str,
        plugins: impl FnOnce(&str) -> String,
        images: &[&str],
    ) -> Self {
        Self::start(name, namespace, plugins, images, None)
    }

    /// [`Containerd::new`], with `criu` first in the `PATH` of containerd and its shims (so
    /// the runtime's checkpoint and restore run it).
    pub(crate) fn with_criu(name: &str, criu: &std::path::Path) -> Self {
        Self::start(name, "peapod", |_| String::new(), &["busybox"], Some(criu))
    }

    fn start(
        name: &str,
        namespace: &'static str,
        plugins: impl FnOnce(&str) -> String,
        images: &[&str],
        criu: Option<&std::path::Path>,
    ) -> Self {
        assert_root();
        let tmp = short_tempdir("ccl-");
        let dir = tmp.path().to_str().unwrap().to_owned();
        let config = config(&dir, &plugins(&dir));
        std::fs::write(tmp.path().join("config.toml"), config).unwrap();
        let log = std::fs::File::create(tmp.path().join("containerd.log")).unwrap();
        let mut cmd = Command::new("containerd");
        if let Some(criu) = criu {
            let bin = tmp.path().join("bin");
            std::fs::create_dir(&bin).unwrap();
            std::os::unix::fs::symlink(criu, bin.join("criu")).unwrap();
            let path = std::env::var("PATH").unwrap_or_default();
            cmd.env("PATH", format!("{}:{path}", bin.display()));
        }
        let daemon = cmd
            .current_dir(tmp.path())
            .arg("--config")
            .arg(tmp.path().join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let containerd = Self {
            tmp,
            daemon: Some(daemon),
            cgroup_parent: format!("/peapod-test/clients-{name}-{}", std::process::id()),
            namespace,
        };
        wait_for("containerd to answer", crate::support::CLIENT_WAIT, || {
            let out = containerd.run(&["version"]);
            if out.status.success() {
                Ok(())
            } else {
                Err(containerd.log())
            }
        });
        for image in images {
            let archive = fixtures().join(format!("{image}/docker-archive.tar"));
            let archive = archive.to_str().unwrap();
            containerd.ok(&["images", "import", "--snapshotter", "native", archive]);
        }
        containerd
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("containerd.log")).unwrap_or_default()
    }

    /// `ctr run` of task `id` with `binary` as the shim's runc: `flags`, then the image,
    /// the id and `args`.
    fn run_args(&self, binary: &str, flags: &[&str], id: &str, args: &[&str]) -> Vec<String> {
        let runc_root = self.path("runc");
        let mut all: Vec<String> = ["run", "--snapshotter", "native", "--runc-binary", binary]
            .into_iter()
            .map(str::to_owned)
            .collect();
        all.extend(["--runc-root".to_owned(), runc_root.display().to_string()]);
        all.extend([
            "--cgroup".to_owned(),
            format!("{}/{id}", self.cgroup_parent),
        ]);
        all.extend(flags.iter().map(|f| (*f).to_owned()));
        all.extend([IMAGE.to_owned(), id.to_owned()]);
        all.extend(args.iter().map(|a| (*a).to_owned()));
        all
    }

    /// `ctr run FLAGS… IMAGE ID ARGS…` with `binary` as runc.
    pub(crate) fn run_task(&self, binary: &str, flags: &[&str], id: &str, args: &[&str]) -> Output {
        let all = self.run_args(binary, flags, id, args);
        self.run(&all.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// Deletes every task and container, stops containerd (SIGTERM, by pid; SIGKILL after
    /// 30 s) and removes the cgroup parents. Never panics (it also runs from `drop`).
    fn stop(&mut self) -> Result<(), String> {
        let Some(daemon) = self.daemon.take() else {
            return Ok(());
        };
        let ids = self.run(&["containers", "list", "--quiet"]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = self.run(&["tasks", "delete", "--force", id]);
            let _ = self.run(&["containers", "delete", id]);
        }
        let status = terminate(daemon, "containerd");
        remove_cgroup_tree(&self.cgroup_parent);
        status
    }

    /// Stops everything and asserts that nothing of ours is left (the runtimes' state
    /// directories under ours are empty).
    pub(crate) fn finish(mut self) {
        let stopped = self.stop();
        assert!(stopped.is_ok(), "{stopped:?}\n{}", self.log());
        assert_no_processes_mentioning(self.tmp.path().to_str().unwrap());
        assert_no_mounts_under(self.tmp.path());
        // Once the last shim is gone: what it may have held when `stop` tried.
        remove_cgroup_tree(&self.cgroup_parent);
        assert_no_cgroup(&self.cgroup_parent);
    }
}

impl Client for Containerd {
    const NAME: &'static str = "ctr";

    fn command(&self) -> Command {
        let mut cmd = Command::new("ctr");
        cmd.current_dir(self.tmp.path())
            .arg("--address")
            .arg(self.path("c.sock"))
            .args(["--namespace", self.namespace]);
        cmd
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

#[test]
#[ignore = "root: cargo xtask test"]
fn ctr_run_rm_prints_and_exits_with_the_tasks_code() {
    let containerd = Containerd::new("ctr-run");
    let out = containerd.run_task(
        PEAPOD_OCI,
        &["--rm"],
        "echo",
        &["echo", "hello from peapod"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from peapod\n");
    let out = containerd.run_task(PEAPOD_OCI, &["--rm"], "code", &["sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    assert_eq!(containerd.ok(&["containers", "list", "--quiet"]), "");
    containerd.finish();
}

/// A detached task: exec'd into, listed, paused and resumed, measured, killed and deleted;
/// an exec of a program that cannot run fails with the cause, the task still running.
#[test]
#[ignore = "root: cargo xtask test"]
fn ctr_detached_task_is_exec_d_listed_paused_measured_killed_and_deleted() {
    let containerd = Containerd::new("ctr-detach");
    let out = containerd.run_task(PEAPOD_OCI, &["--detach"], "bg", &["sleep", "600"]);
    assert!(out.status.success(), "{}", text(&out));
    let exec = |exec_id: &str, args: &[&str]| {
        let all = ["tasks", "exec", "--exec-id", exec_id, "bg"];
        containerd.run(&all.iter().chain(args).copied().collect::<Vec<_>>())
    };
    let out = exec("e1", &["echo", "in", "it"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "in it\n");
    for (exec_id, program, cause) in [
        ("e2", "/no/such", "no such file or directory"),
        ("e3", "/etc/passwd", "permission denied"),
    ] {
        let out = exec(exec_id, &[program]);
        assert!(!out.status.success(), "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(program) && stderr.contains(cause),
            "{}",
            text(&out)
        );
    }
    let pids = containerd.ok(&["tasks", "ps", "bg"]);
    assert_eq!(pids.lines().count(), 2, "one process: {pids}");
    let status = |want: &str| {
        wait_for(
            &format!("task status {want}"),
            crate::support::CLIENT_WAIT,
            || {
                let tasks = containerd.ok(&["tasks", "list"]);
                let line = tasks.lines().find(|l| l.starts_with("bg ")).unwrap_or("");
                if line.ends_with(want) {
                    Ok(())
                } else {
                    Err(tasks.clone())
                }
            },
        );
    };
    status("RUNNING");
    containerd.ok(&["tasks", "pause", "bg"]);
    status("PAUSED");
    containerd.ok(&["tasks", "resume", "bg"]);
    status("RUNNING");
    let metrics = containerd.ok(&["tasks", "metrics", "bg"]);
    assert!(
        metrics.contains("pids.current") && metrics.contains("memory"),
        "{metrics}"
    );
    containerd.ok(&["tasks", "kill", "--signal", "SIGKILL", "bg"]);
    status("STOPPED");
    containerd.ok(&["tasks", "delete", "bg"]);
    containerd.ok(&["containers", "delete", "bg"]);
    containerd.finish();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn ctr_run_t_gives_a_terminal_under_tmux() {
    let containerd = Containerd::new("ctr-tty");
    let mut cmd = containerd.command();
    cmd.args(containerd.run_args(PEAPOD_OCI, &["--rm", "--tty"], "tty", &["sh"]));
    let line = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let line = format!("cd {} && {line}", containerd.tmp.path().display());
    assert_interactive_shell("ctr-tty", &line);
    containerd.finish();
}

/// A task over its memory limit is killed (137) and containerd publishes `/tasks/oom` for
/// it, as with runc: the shim watches the cgroup the runtime made.
#[test]
#[ignore = "root: cargo xtask test"]
fn ctr_memory_limit_oom_is_an_oom_event_as_with_runc() {
    let containerd = Containerd::new("ctr-oom");
    let events_path = containerd.path("events.txt");
    let mut events = containerd
        .command()
        .arg("events")
        .stdout(std::fs::File::create(&events_path).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // `ctr events` subscribes asynchronously: a first task's events show it is listening.
    let out = containerd.run_task(PEAPOD_OCI, &["--rm"], "ready", &["true"]);
    assert!(out.status.success(), "{}", text(&out));
    wait_for("ctr events to listen", crate::support::CLIENT_WAIT, || {
        let seen = std::fs::read_to_string(&events_path).unwrap_or_default();
        if seen.contains("\"ready\"") {
            Ok(())
        } else {
            Err(seen)
        }
    });
    let hog = "x=$(head -c 64000000 /dev/zero | tr '\\0' a); echo survived";
    let limit = ["--rm", "--memory-limit", "16777216"];
    for (id, binary) in [("oom-runc", RUNC), ("oom-peapod", PEAPOD_OCI)] {
        let out = containerd.run_task(binary, &limit, id, &["sh", "-c", hog]);
        assert_eq!(out.status.code(), Some(137), "{binary}: {}", text(&out));
    }
    wait_for(
        "an oom event for each task",
        crate::support::CLIENT_WAIT,
        || {
            let seen = std::fs::read_to_string(&events_path).unwrap_or_default();
            let oom =
                |id: &str| seen.contains(&format!("/tasks/oom {{\"container_id\":\"{id}\"}}"));
            if oom("oom-runc") && oom("oom-peapod") {
                Ok(())
            } else {
                Err(seen)
            }
        },
    );
    let _ = events.kill();
    let _ = events.wait();
    containerd.finish();
}
