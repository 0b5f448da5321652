//! docker (Debian's `docker.io` 20.10) drives `peapod-oci` through `--add-runtime`: each
//! test starts a private dockerd (its own data root, exec root, pidfile, socket, config
//! file and cgroup parent; no iptables, no bridge), which starts its own containerd, loads
//! the busybox fixture with `docker load`, and stops it all by pid afterwards.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use crate::oci_support::{assert_root, fixtures, text};
use crate::support::{
    Client, PEAPOD_OCI, assert_failed_with, assert_interactive_shell, assert_no_cgroup,
    assert_no_mounts_under, assert_no_processes_mentioning, remove_cgroup_tree, short_tempdir,
    terminate, wait_for,
};

/// Debian's CLI, of the daemon's version (`/usr/local/bin/docker` may be a newer one).
const DOCKER: &str = "/usr/bin/docker";

/// One private dockerd with runtimes `peapod` (peapod-oci) and `runc`, busybox loaded.
pub(crate) struct Docker {
    tmp: tempfile::TempDir,
    daemon: Option<Child>,
    cgroup_parent: String,
}

impl Docker {
    pub(crate) fn new(name: &str) -> Self {
        assert_root();
        let tmp = short_tempdir("dcl-");
        let path = |p: &str| tmp.path().join(p);
        // dockerd writes /etc/docker/key.json unless its config file names another path
        // (the flag is refused on the command line).
        let config = serde_json::json!({"deprecated-key-path": path("key.json")});
        std::fs::write(path("daemon.json"), config.to_string()).unwrap();
        let cgroup_parent = format!("/peapod-test/clients-{name}-{}", std::process::id());
        let log = std::fs::File::create(path("dockerd.log")).unwrap();
        let daemon = Command::new("dockerd")
            .current_dir(tmp.path())
            .arg("--data-root")
            .arg(path("data"))
            .arg("--exec-root")
            .arg(path("exec"))
            .arg("--pidfile")
            .arg(path("docker.pid"))
            .arg("--config-file")
            .arg(path("daemon.json"))
            .arg(format!("--host=unix://{}", path("docker.sock").display()))
            .args(["--iptables=false", "--ip6tables=false", "--bridge=none"])
            .args(["--exec-opt", "native.cgroupdriver=cgroupfs"])
            .args(["--cgroup-parent", &cgroup_parent])
            .args(["--storage-driver", "vfs"])
            .arg(format!("--add-runtime=peapod={PEAPOD_OCI}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let docker = Self {
            tmp,
            daemon: Some(daemon),
            cgroup_parent,
        };
        wait_for("dockerd to answer", crate::support::CLIENT_WAIT, || {
            let out = docker.run(&["version"]);
            if out.status.success() {
                Ok(())
            } else {
                Err(docker.log())
            }
        });
        let archive = fixtures().join("busybox/docker-archive.tar");
        docker.ok(&["load", "-q", "-i", archive.to_str().unwrap()]);
        docker
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("dockerd.log")).unwrap_or_default()
    }

    /// `docker run --runtime RUNTIME ARGS…`.
    pub(crate) fn run_container(&self, runtime: &str, args: &[&str]) -> Output {
        let mut all = vec!["run", "--runtime", runtime];
        all.extend(args);
        self.run(&all)
    }

    /// Removes every container, stops dockerd (SIGTERM, by pid) and what it leaves (the
    /// bind mount of `<exec-root>/netns/default`, the cgroup parents), then asserts that
    /// nothing is left: no process, mount or cgroup of ours.
    pub(crate) fn finish(mut self) {
        let stopped = self.stop();
        assert!(stopped.is_ok(), "{stopped:?}\n{}", self.log());
        assert_no_processes_mentioning(self.tmp.path().to_str().unwrap());
        assert_no_mounts_under(self.tmp.path());
        // Once the last shim is gone: what it may have held when `stop` tried.
        remove_cgroup_tree(&self.cgroup_parent);
        assert_no_cgroup(&self.cgroup_parent);
    }

    /// Removes the containers, then stops dockerd (SIGTERM; SIGKILL after 30 s) and cleans
    /// what it leaves. Never panics: it also runs from `drop` after a failed assertion.
    fn stop(&mut self) -> Result<(), String> {
        let Some(daemon) = self.daemon.take() else {
            return Ok(());
        };
        let ids = self.run(&["ps", "--all", "--quiet"]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = self.run(&["rm", "--force", id]);
        }
        let status = terminate(daemon, "dockerd");
        // Left by dockerd on shutdown: the default netns's bind mount, its cgroup parents.
        let netns = self.path("exec/netns/default");
        if netns.exists() {
            let _ = nix::mount::umount2(&netns, nix::mount::MntFlags::MNT_DETACH);
        }
        remove_cgroup_tree(&self.cgroup_parent);
        status
    }
}

impl Client for Docker {
    const NAME: &'static str = "docker";

    fn command(&self) -> Command {
        let mut cmd = Command::new(DOCKER);
        cmd.current_dir(self.tmp.path()).arg(format!(
            "--host=unix://{}",
            self.path("docker.sock").display()
        ));
        cmd
    }
}

impl Drop for Docker {
    /// A test that failed half-way must not leave a daemon or its containers running.
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// `docker run --runtime peapod --rm` prints and exits with the container's code, and a
/// program that cannot run exits 127 or 126 as with runc (docker's CLI reads the words).
#[test]
#[ignore = "root: cargo xtask test"]
fn docker_run_rm_prints_exits_and_fails_as_with_runc() {
    let docker = Docker::new("docker-run");
    let out = docker.run_container("peapod", &["--rm", "busybox", "echo", "hello from peapod"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from peapod\n");
    let out = docker.run_container("peapod", &["--rm", "busybox", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    for runtime in ["runc", "peapod"] {
        let out = docker.run_container(runtime, &["--rm", "busybox", "/no/such"]);
        assert_failed_with(
            &out,
            127,
            &["/no/such", "no such file or directory"],
            runtime,
        );
        let out = docker.run_container(runtime, &["--rm", "busybox", "nosuch"]);
        assert_failed_with(&out, 127, &["nosuch", "executable file not found"], runtime);
        let out = docker.run_container(runtime, &["--rm", "busybox", "/etc/passwd"]);
        assert_failed_with(&out, 126, &["/etc/passwd", "permission denied"], runtime);
    }
    assert_eq!(docker.ok(&["ps", "--all", "--quiet"]), "");
    docker.finish();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn docker_detached_container_is_exec_d_logged_stopped_and_removed() {
    let docker = Docker::new("docker-detach");
    let script = "echo logged; echo to-stderr >&2; sleep 600";
    docker.ok(&[
        "run",
        "--runtime",
        "peapod",
        "-d",
        "--name",
        "detached",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    let runtime = docker.ok(&["inspect", "detached", "--format", "{{.HostConfig.Runtime}}"]);
    assert_eq!(runtime.trim(), "peapod");
    assert_eq!(
        docker.ok(&["exec", "detached", "echo", "in", "it"]),
        "in it\n"
    );
    assert_eq!(
        docker.ok(&["exec", "detached", "cat", "/proc/1/comm"]),
        "sleep\n"
    );
    wait_for(
        "the container's output in docker logs",
        crate::support::CLIENT_WAIT,
        || {
            let out = docker.run(&["logs", "detached"]);
            let (stdout, stderr) = (
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
            if stdout == "logged\n" && stderr == "to-stderr\n" {
                Ok(())
            } else {
                Err(text(&out))
            }
        },
    );
    docker.stop_by_kill_and_remove("detached");
    docker.finish();
}

#[test]
#[ignore = "root: cargo xtask test"]
fn docker_run_it_gives_a_terminal_under_tmux() {
    let docker = Docker::new("docker-tty");
    let line = format!(
        "cd {} && {DOCKER} --host=unix://{} run -it --rm --runtime peapod busybox sh",
        docker.tmp.path().display(),
        docker.path("docker.sock").display()
    );
    assert_interactive_shell("docker-tty", &line);
    docker.finish();
}

/// A container over its `--memory` limit is killed (137) and reported OOMKilled, as with
/// runc on the same host.
#[test]
#[ignore = "root: cargo xtask test"]
fn docker_memory_limit_oom_is_reported_as_with_runc() {
    let docker = Docker::new("docker-oom");
    let hog = "x=$(head -c 64000000 /dev/zero | tr '\\0' a); echo survived";
    let mut seen = Vec::new();
    for runtime in ["runc", "peapod"] {
        let name = format!("oom-{runtime}");
        let args = [
            "--name",
            &name,
            "--memory",
            "16m",
            "--memory-swap",
            "16m",
            "busybox",
        ];
        let args: Vec<&str> = args.into_iter().chain(["sh", "-c", hog]).collect();
        let out = docker.run_container(runtime, &args);
        assert_eq!(out.status.code(), Some(137), "{runtime}: {}", text(&out));
        let state = docker.ok(&[
            "inspect",
            &name,
            "--format",
            "{{.State.OOMKilled}} {{.State.ExitCode}}",
        ]);
        seen.push(state.trim().to_owned());
        docker.ok(&["rm", &name]);
    }
    assert_eq!(seen[1], seen[0], "peapod-oci, then runc");
    docker.finish();
}
