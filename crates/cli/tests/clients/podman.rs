//! podman (Debian's 4.3) drives `peapod-oci` with `--runtime PEAPOD_OCI`: each test gets a
//! private podman (root, run root, tmp dir, containers.conf, cgroup parent), imports the
//! busybox fixture with `podman load`, and asserts that nothing is left afterwards. Where
//! runc's answer depends on the host (OOM reporting), the same scenario runs with runc as
//! the control and the answers must be equal.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::oci_support::{assert_root, fixtures, text};
use crate::support::{
    Client, PEAPOD_OCI, RUNC, assert_failed_with, assert_interactive_shell, assert_no_cgroup,
    assert_no_mounts_under, assert_no_processes_mentioning, remove_cgroup_tree, short_tempdir,
    wait_for,
};

/// The containers.conf the tests use, and the README documents. `runtime_supports_json`
/// names `peapod-oci` so that podman passes `--log-format=json --log FILE` as it does to
/// runc and crun and reads the runtime's errors from there; `default_ulimits` because this
/// host's hard open-files limit is 20000 (no CAP_SYS_RESOURCE) and podman's default
/// (1048576) cannot be set by any runtime, also not for a pod's infra container.
fn containers_conf(tmp: &str) -> String {
    format!(
        r#"[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "{tmp}/tmp"
volume_path = "{tmp}/volumes"
runtime_supports_json = ["crun", "runc", "peapod-oci"]

[engine.runtimes]
peapod-oci = ["{PEAPOD_OCI}"]

[network]
network_config_dir = "{tmp}/networks"
"#
    )
}

/// One private podman, its busybox image loaded.
pub(crate) struct Podman {
    tmp: tempfile::TempDir,
    /// Every container's and pod's `--cgroup-parent` (conmon's cgroup goes there too).
    cgroup_parent: String,
    /// `PATH` for podman and what it runs, when it must find a given criu first.
    path: Option<String>,
}

impl Podman {
    pub(crate) fn new(name: &str) -> Self {
        Self::start(name, None)
    }

    /// [`Podman::new`], with `criu` first in the `PATH` of podman and what it runs (its
    /// checkpoint checks criu itself, then the runtime runs it).
    pub(crate) fn with_criu(name: &str, criu: &std::path::Path) -> Self {
        Self::start(name, Some(criu))
    }

    fn start(name: &str, criu: Option<&std::path::Path>) -> Self {
        assert_root();
        let tmp = short_tempdir("pcl-");
        let dir = tmp.path().to_str().unwrap().to_owned();
        std::fs::write(tmp.path().join("containers.conf"), containers_conf(&dir)).unwrap();
        let path = criu.map(|criu| {
            let bin = tmp.path().join("bin");
            std::fs::create_dir(&bin).unwrap();
            std::os::unix::fs::symlink(criu, bin.join("criu")).unwrap();
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            )
        });
        let podman = Self {
            tmp,
            cgroup_parent: format!("/peapod-test/clients-{name}-{}", std::process::id()),
            path,
        };
        let archive = fixtures().join("busybox/docker-archive.tar");
        podman.ok(&["load", "-q", "-i", archive.to_str().unwrap()]);
        podman
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// `podman --runtime RUNTIME run --cgroup-parent OURS ARGS…`.
    pub(crate) fn run_container(&self, runtime: &str, args: &[&str]) -> Output {
        self.run(&self.run_args(runtime, args))
    }

    fn run_args<'a>(&'a self, runtime: &'a str, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = vec!["--runtime", runtime, "run"];
        all.extend(["--cgroup-parent", &self.cgroup_parent]);
        all.extend(args);
        all
    }

    /// The command line of `podman --runtime RUNTIME run … ARGS` for a shell.
    fn shell_line(&self, runtime: &str, args: &[&str]) -> String {
        let mut cmd = self.command();
        cmd.args(self.run_args(runtime, args));
        let env = format!("CONTAINERS_CONF={}", self.path("containers.conf").display());
        let cd = format!("cd {} &&", self.tmp.path().display());
        [cd, env, "podman".to_owned()]
            .into_iter()
            .chain(cmd.get_args().map(|a| a.to_string_lossy().into_owned()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Removes every container and pod, then asserts that nothing is left: no process of
    /// ours (conmon, the container's), no mount under our directory, no cgroup.
    pub(crate) fn finish(self) {
        self.clean();
        assert_no_processes_mentioning(self.tmp.path().to_str().unwrap());
        assert_no_mounts_under(self.tmp.path());
        // podman keeps the cgroup parents it made (with cgroupfs, as with runc); they are
        // ours to remove. A container cgroup still holding a process would stay.
        remove_cgroup_tree(&self.cgroup_parent);
        assert_no_cgroup(&self.cgroup_parent);
    }

    fn clean(&self) {
        let _ = self.run(&["pod", "rm", "--all", "--force", "--time", "0"]);
        let _ = self.run(&["rm", "--all", "--force", "--time", "0"]);
    }
}

impl Client for Podman {
    const NAME: &'static str = "podman";

    fn command(&self) -> Command {
        let mut cmd = Command::new("podman");
        // conmon writes files (an `oom` marker) into its working directory: ours.
        cmd.current_dir(self.tmp.path())
            .env("CONTAINERS_CONF", self.path("containers.conf"))
            .arg("--root")
            .arg(self.path("root"))
            .arg("--runroot")
            .arg(self.path("run"))
            .args(["--storage-driver", "vfs"]);
        if let Some(path) = &self.path {
            cmd.env("PATH", path);
        }
        cmd
    }
}

impl Drop for Podman {
    /// A test that failed half-way must not leak containers into the next one.
    fn drop(&mut self) {
        self.clean();
        remove_cgroup_tree(&self.cgroup_parent);
    }
}

#[test]
#[ignore = "root: cargo xtask test"]
fn podman_run_rm_prints_and_exits_with_the_containers_code() {
    let podman = Podman::new("podman-run");
    let out = podman.run_container(
        PEAPOD_OCI,
        &["--rm", "busybox", "echo", "hello from peapod"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from peapod\n");
    let out = podman.run_container(PEAPOD_OCI, &["--rm", "busybox", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    assert_eq!(podman.ok(&["ps", "--all", "--quiet"]), "");
    podman.finish();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn podman_detached_container_is_exec_d_listed_measured_stopped_and_removed() {
    let podman = Podman::new("podman-detach");
    let out = podman.run_container(
        PEAPOD_OCI,
        &["-d", "--name", "d", "busybox", "sleep", "600"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let runtime = podman.ok(&["inspect", "d", "--format", "{{.OCIRuntime}}"]);
    assert_eq!(runtime.trim(), PEAPOD_OCI);
    assert_eq!(podman.ok(&["exec", "d", "echo", "in", "it"]), "in it\n");
    assert_eq!(podman.ok(&["exec", "d", "cat", "/proc/1/comm"]), "sleep\n");
    let top = podman.ok(&["top", "d", "pid", "args"]);
    assert!(top.contains("sleep 600"), "{top}");
    let stats: serde_json::Value =
        serde_json::from_str(&podman.ok(&["stats", "--no-stream", "--format", "json", "d"]))
            .unwrap();
    assert_eq!(stats[0]["name"], "d", "{stats}");
    assert_eq!(stats[0]["pids"], "1", "{stats}");
    let memory = stats[0]["mem_usage"].as_str().unwrap_or_default();
    assert!(!memory.starts_with("0B"), "no memory measured: {stats}");
    podman.stop_by_kill_and_remove("d");
    podman.finish();
}

/// podman maps the runtime's error text to its exit codes: "no such file or directory" is
/// 127, "permission denied" 126. The same exec under runc and peapod-oci gives the same code.
#[test]
#[ignore = "root: cargo xtask test"]
fn podman_exec_of_a_missing_or_non_executable_program_fails_as_with_runc() {
    let podman = Podman::new("podman-execerr");
    for (name, runtime) in [("with-runc", RUNC), ("with-peapod", PEAPOD_OCI)] {
        let out = podman.run_container(runtime, &["-d", "--name", name, "busybox", "sleep", "600"]);
        assert!(out.status.success(), "{runtime}: {}", text(&out));
        let missing = podman.run(&["exec", name, "/no/such/program"]);
        assert_failed_with(
            &missing,
            127,
            &["/no/such/program", "no such file or directory"],
            runtime,
        );
        let not_executable = podman.run(&["exec", name, "/etc/passwd"]);
        assert_failed_with(
            &not_executable,
            126,
            &["/etc/passwd", "permission denied"],
            runtime,
        );
        // A failed exec leaves the container running.
        assert_eq!(podman.ok(&["exec", name, "echo", "still"]), "still\n");
    }
    let missing = podman.run_container(PEAPOD_OCI, &["--rm", "busybox", "/no/such/program"]);
    assert_failed_with(&missing, 127, &["no such file or directory"], PEAPOD_OCI);
    podman.finish();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn podman_run_it_gives_a_terminal_under_tmux() {
    let podman = Podman::new("podman-tty");
    let line = podman.shell_line(PEAPOD_OCI, &["-it", "--rm", "busybox", "sh"]);
    assert_interactive_shell("podman-tty", &line);
    podman.finish();
}

/// Two containers of a podman pod (its infra container made by podman from catatonit, on
/// `--network none`) talk over localhost: lo is up in the pod's network namespace.
#[test]
#[ignore = "root: cargo xtask test"]
fn podman_pod_containers_talk_over_localhost() {
    let podman = Podman::new("podman-pod");
    podman.ok(&[
        "--runtime",
        PEAPOD_OCI,
        "pod",
        "create",
        "--name",
        "p",
        "--network",
        "none",
        "--cgroup-parent",
        &podman.cgroup_parent,
    ]);
    let server = ["-d", "--pod", "p", "--name", "server", "busybox"];
    let server: Vec<&str> = server
        .into_iter()
        .chain([
            "sh",
            "-c",
            "while true; do nc -l -p 8080 -e echo hello-pod; done",
        ])
        .collect();
    let out = podman.run_container(PEAPOD_OCI, &server);
    assert!(out.status.success(), "{}", text(&out));
    let answer = wait_for(
        "an answer over localhost",
        crate::support::CLIENT_WAIT,
        || {
            let out = podman.run_container(
                PEAPOD_OCI,
                &["--rm", "--pod", "p", "busybox", "nc", "127.0.0.1", "8080"],
            );
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            if stdout.contains("hello-pod") {
                Ok(stdout)
            } else {
                Err(text(&out))
            }
        },
    );
    assert_eq!(answer, "hello-pod\n");
    let pods = podman.ok(&[
        "pod",
        "ps",
        "--format",
        "{{.Name}} {{.Status}} {{.NumberOfContainers}}",
    ]);
    assert_eq!(pods.trim(), "p Running 2");
    podman.ok(&["pod", "rm", "--force", "--time", "0", "p"]);
    podman.finish();
}

/// A container over its `--memory` limit is killed (137), and podman reports OOMKilled as it
/// does with runc on the same host (conmon's watch differs between cgroup v1 and v2).
#[test]
#[ignore = "root: cargo xtask test"]
fn podman_memory_limit_oom_is_reported_as_with_runc() {
    let podman = Podman::new("podman-oom");
    let hog = "x=$(head -c 64000000 /dev/zero | tr '\\0' a); echo survived";
    let mut seen = Vec::new();
    for (name, runtime) in [("oom-runc", RUNC), ("oom-peapod", PEAPOD_OCI)] {
        let out = podman.run_container(
            runtime,
            &[
                "--name",
                name,
                "--memory",
                "16m",
                "--memory-swap",
                "16m",
                "busybox",
                "sh",
                "-c",
                hog,
            ],
        );
        assert_eq!(out.status.code(), Some(137), "{runtime}: {}", text(&out));
        let state = podman.ok(&[
            "inspect",
            name,
            "--format",
            "{{.State.OOMKilled}} {{.State.ExitCode}}",
        ]);
        seen.push(state.trim().to_owned());
        podman.ok(&["rm", name]);
    }
    assert_eq!(seen[1], seen[0], "peapod-oci, then runc");
    podman.finish();
}

/// podman adds `tmpcopyup` to every tmpfs it makes (`--tmpfs`, and `--read-only`'s /run,
/// /tmp and /var/tmp): they are mounted and writable in an otherwise read-only root.
#[test]
#[ignore = "root: cargo xtask test"]
fn podman_read_only_root_with_tmpfs_mounts() {
    let podman = Podman::new("podman-ro");
    let script =
        "touch /scratch/a /tmp/b /run/c /var/tmp/d && echo writable; touch /etc/x || echo ro";
    let out = podman.run_container(
        PEAPOD_OCI,
        &[
            "--rm",
            "--read-only",
            "--tmpfs",
            "/scratch",
            "busybox",
            "sh",
            "-c",
            script,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "writable\nro\n",
        "{}",
        text(&out)
    );
    podman.finish();
}
