//! The fake host of the network tests: a network namespace the test creates (`ip netns
//! add`), holding the bridges and the nft table, in which `peapod` runs (`nsenter --net`):
//! no traffic leaves this machine, and the fake host goes with the test.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Engine, IMAGE, text};

/// A named network namespace (`ip netns add`), deleted on drop.
pub(crate) struct FakeHost {
    pub(crate) name: String,
}

impl FakeHost {
    pub(crate) fn new(engine: &Engine) -> Self {
        let unique = engine
            .tmp
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
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

    pub(crate) fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }

    /// `peapod ARGS` run inside the fake host (its network namespace only).
    pub(crate) fn peapod(&self, e: &Engine, args: &[&str]) -> Output {
        let inner = e.cmd(args);
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net={}", self.path()))
            .arg(inner.get_program())
            .args(inner.get_args());
        cmd.stdin(Stdio::null()).output().unwrap()
    }

    pub(crate) fn ok(&self, e: &Engine, args: &[&str]) -> String {
        let out = self.peapod(e, args);
        assert!(out.status.success(), "peapod {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The links of the fake host.
    pub(crate) fn links(&self) -> String {
        let out = Command::new("ip")
            .args(["-n", &self.name, "-br", "link"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for FakeHost {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Asks `addr:port` from a container on the fake host's own network (`--network host`),
/// retrying (bounded) until the answer is the whole `want`.
pub(crate) fn ask_until(
    host: &FakeHost,
    e: &Engine,
    network: &str,
    addr: &str,
    port: &str,
    want: &str,
) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let out = host.peapod(
            e,
            &[
                "run",
                "--rm",
                "--network",
                network,
                IMAGE,
                "nc",
                "-w",
                "2",
                addr,
                port,
            ],
        );
        if String::from_utf8_lossy(&out.stdout) == want {
            return;
        }
        if std::time::Instant::now() >= until {
            let addrs = Command::new("ip")
                .args(["-n", &host.name, "addr"])
                .output()
                .unwrap();
            let inside = host.peapod(
                e,
                &["run", "--rm", "--network", network, IMAGE, "ip", "addr"],
            );
            panic!(
                "{addr}:{port} from {network}: {}\nfake host: {}\ninside: {}",
                text(&out),
                text(&addrs),
                text(&inside)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

impl FakeHost {
    /// [`Self::ok`] with the arguments split at whitespace (`IMAGE` stands for the image).
    pub(crate) fn okw(&self, e: &Engine, line: &str) -> String {
        self.ok(e, &words(line))
    }

    /// [`Self::fails`] with the arguments split at whitespace (`IMAGE` for the image).
    pub(crate) fn failsw(&self, e: &Engine, line: &str, needle: &str) {
        self.fails(e, &words(line), needle);
    }

    /// `peapod ARGS` inside the fake host, which must fail with 125 and say `needle`.
    pub(crate) fn fails(&self, e: &Engine, args: &[&str], needle: &str) {
        let out = self.peapod(e, args);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .to_lowercase()
                .contains(&needle.to_lowercase()),
            "{args:?}: {}",
            text(&out)
        );
    }

    /// The fake host's nftables ruleset.
    pub(crate) fn ruleset(&self) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, "nft", "list", "ruleset"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// What must not change when a command is refused: the fake host's links and rules,
    /// the engine's pinned namespaces, and `network inspect peapod` / `ps -a`; read until
    /// two reads 100 ms apart agree (bounded), since the kernel deletes the veth pair of a
    /// container that just went in the background.
    pub(crate) fn state(&self, e: &Engine) -> String {
        let until = Instant::now() + Duration::from_secs(10);
        let mut last = self.snapshot(e);
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let now = self.snapshot(e);
            if now == last || Instant::now() >= until {
                return now;
            }
            last = now;
        }
    }

    fn snapshot(&self, e: &Engine) -> String {
        let pinned: Vec<String> = std::fs::read_dir(e.runroot().join("netns"))
            .map(|d| {
                d.flatten()
                    .map(|x| x.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        // Names only: a bridge's operational state changes as ports come and go.
        let links: Vec<String> = self
            .links()
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .collect();
        format!(
            "{links:?}\n{}\n{pinned:?}\n{}\n{}",
            self.ruleset(),
            self.ok(e, &["network", "inspect", "peapod"]),
            self.ok(e, &["ps", "-a", "--format", "{{.Names}} {{.State}}"])
        )
    }

    /// Waits (bounded: the kernel deletes a veth in the background) until [`Self::state`]
    /// is `want`.
    pub(crate) fn wait_state(&self, e: &Engine, want: &str) {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.state(e);
            if got == want {
                return;
            }
            if Instant::now() >= until {
                assert_eq!(got, want);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits (bounded) until no veth of ours (`pp` + hex) is left on the fake host, nothing
    /// is pinned and no process of the engine's is left.
    pub(crate) fn wait_clean(&self, e: &Engine) {
        let until = Instant::now() + Duration::from_secs(10);
        let ours = |l: &str| {
            l.starts_with("pp")
                && l[2..]
                    .split(['@', ' '])
                    .next()
                    .is_some_and(|n| n.bytes().all(|b| b.is_ascii_hexdigit()))
        };
        while self.links().lines().any(ours) {
            assert!(Instant::now() < until, "veth left: {}", self.links());
            std::thread::sleep(Duration::from_millis(20));
        }
        let pinned: Vec<_> = std::fs::read_dir(e.runroot().join("netns"))
            .map(|d| d.flatten().collect())
            .unwrap_or_default();
        assert!(pinned.is_empty(), "{pinned:?}");
        // A `run --rm` monitor may still be finishing after its client returned.
        let root = e.tmp.path().to_string_lossy().into_owned();
        while !crate::support::processes_mentioning(&root).is_empty() {
            assert!(Instant::now() < until, "processes left");
            std::thread::sleep(Duration::from_millis(20));
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
    path: &std::path::Path,
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

/// Pulls, as `localhost/exposing:latest` (its layout's directory name), the busybox image with `ExposedPorts` set to
/// `ports` (`80/tcp`, `53/udp`): an OCI layout written next to the engine's root.
pub(crate) fn exposing_image(e: &Engine, ports: &[&str]) {
    use ring::digest::{SHA256, digest};
    let from = std::env::current_exe()
        .unwrap()
        .ancestors()
        .nth(3)
        .unwrap()
        .join("fixtures/busybox/oci");
    let to = e.tmp.path().join("exposing");
    let blobs = to.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let read = |digest: &str| {
        let hex = digest.trim_start_matches("sha256:");
        std::fs::read(from.join("blobs/sha256").join(hex)).unwrap()
    };
    let write = |bytes: &[u8]| -> (String, usize) {
        let hex: String = digest(&SHA256, bytes)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        std::fs::write(blobs.join(&hex), bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len())
    };
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(from.join("index.json")).unwrap()).unwrap();
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&read(index["manifests"][0]["digest"].as_str().unwrap())).unwrap();
    for layer in manifest["layers"].as_array().unwrap() {
        write(&read(layer["digest"].as_str().unwrap()));
    }
    let mut config: serde_json::Value =
        serde_json::from_slice(&read(manifest["config"]["digest"].as_str().unwrap())).unwrap();
    config["config"]["ExposedPorts"] = ports
        .iter()
        .map(|p| ((*p).to_owned(), serde_json::json!({})))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let (digest_, size) = write(&serde_json::to_vec(&config).unwrap());
    manifest["config"]["digest"] = digest_.into();
    manifest["config"]["size"] = size.into();
    let (digest_, size) = write(&serde_json::to_vec(&manifest).unwrap());
    let mut index = index;
    index["manifests"][0]["digest"] = digest_.into();
    index["manifests"][0]["size"] = size.into();
    std::fs::write(to.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::copy(from.join("oci-layout"), to.join("oci-layout")).unwrap();
    e.ok(&["pull", "-q", &format!("oci:{}:latest", to.display())]);
}
