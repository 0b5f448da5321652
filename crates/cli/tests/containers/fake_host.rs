//! The network tests' helpers on the fake host that every [`Engine`] owns (see
//! `support.rs`): asking a port from a container, the state that a refused command must not
//! change, waiting for a clean fake host, an image that exposes ports.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Engine, IMAGE, text};

/// Asks `addr:port` from a container on network `network` (`host`: the fake host's own),
/// retrying (bounded) until the answer is the whole `want`.
pub(crate) fn ask_until(e: &Engine, network: &str, addr: &str, port: &str, want: &str) {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let out = e.run(&[
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
        ]);
        if String::from_utf8_lossy(&out.stdout) == want {
            return;
        }
        if Instant::now() >= until {
            let addrs = Command::new("ip")
                .args(["-n", &e.host.name, "addr"])
                .output()
                .unwrap();
            let inside = e.run(&["run", "--rm", "--network", network, IMAGE, "ip", "addr"]);
            panic!(
                "{addr}:{port} from {network}: {}\nfake host: {}\ninside: {}",
                text(&out),
                text(&addrs),
                text(&inside)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Engine {
    /// `peapod --config CONF ARGS` inside the fake host, `ARGS` split at whitespace (`IMAGE`
    /// for the image; the global flag goes after the verb, where the harness adds its own).
    pub(crate) fn with_config(&self, conf: &std::path::Path, line: &str) -> std::process::Output {
        let mut args = crate::support::words(line);
        let conf = conf.to_str().unwrap();
        args.splice(1..1, ["--config", conf]);
        self.run(&args)
    }

    /// What must not change when a command is refused: the fake host's links and rules,
    /// the engine's pinned namespaces, and `network inspect peapod` / `ps -a`; read until
    /// two reads 100 ms apart agree (bounded), since the kernel deletes the veth pair of a
    /// container that just went in the background.
    pub(crate) fn state(&self) -> String {
        let until = Instant::now() + Duration::from_secs(10);
        let mut last = self.snapshot();
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let now = self.snapshot();
            if now == last || Instant::now() >= until {
                return now;
            }
            last = now;
        }
    }

    fn snapshot(&self) -> String {
        let pinned: Vec<String> = std::fs::read_dir(self.runroot().join("netns"))
            .map(|d| {
                d.flatten()
                    .map(|x| x.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        // Names only: a bridge's operational state changes as ports come and go.
        let links: Vec<String> = self
            .host
            .links()
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .collect();
        format!(
            "{links:?}\n{}\n{pinned:?}\n{}\n{}",
            self.host.ruleset(),
            self.ok(&["network", "inspect", "peapod"]),
            self.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"])
        )
    }

    /// Waits (bounded: the kernel deletes a veth in the background) until [`Self::state`]
    /// is `want`.
    pub(crate) fn wait_state(&self, want: &str) {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.state();
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
    pub(crate) fn wait_clean(&self) {
        let until = Instant::now() + Duration::from_secs(10);
        while !self.host.veths().is_empty() {
            assert!(Instant::now() < until, "veth left: {}", self.host.links());
            std::thread::sleep(Duration::from_millis(20));
        }
        let pinned: Vec<_> = std::fs::read_dir(self.runroot().join("netns"))
            .map(|d| d.flatten().collect())
            .unwrap_or_default();
        assert!(pinned.is_empty(), "{pinned:?}");
        // A `run --rm` monitor may still be finishing after its client returned.
        let root = self.tmp.path().to_string_lossy().into_owned();
        while !crate::support::processes_mentioning(&root).is_empty() {
            assert!(Instant::now() < until, "processes left");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
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
