//! A real registry (Debian's `docker-registry`, distribution 2.8) on 127.0.0.1 with a free
//! port, its own storage, config and log in a temporary directory, optionally TLS (the test
//! PKI), htpasswd basic auth or token auth; images pushed into it by skopeo. Killed by pid on
//! drop.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use peapod_image::reference::Reference;
use peapod_image::registry::{Credentials, RegistryOptions};

use super::pki::Pki;
use super::token::{self, Policy, TokenIssuer};

/// How the registry wants clients to authenticate.
pub enum Auth {
    /// Anyone may pull and push.
    Anonymous,
    /// htpasswd (bcrypt) basic auth with one user.
    Basic { user: String, password: String },
    /// Token auth through a [`TokenIssuer`] of ours with this policy.
    Token(Policy),
}

/// What to start.
pub struct Config {
    /// Serve TLS with the test PKI's server certificate.
    pub tls: bool,
    pub auth: Auth,
}

/// A running registry.
pub struct Registry {
    /// `127.0.0.1:PORT`, as in references.
    pub host: String,
    /// The test PKI (TLS and token signing), also when the registry speaks plain HTTP.
    pub pki: Pki,
    /// The token server, in token mode.
    pub token: Option<TokenIssuer>,
    /// Credentials that work, if the registry needs some.
    pub credentials: Option<Credentials>,
    pub tls: bool,
    child: Option<Child>,
    log: PathBuf,
    /// Holds the storage, config, certificates and log until drop.
    pub dir: tempfile::TempDir,
}

/// `docker-registry serve CONFIG`, its output appended to `log`.
fn spawn(config: &Path, log: &Path) -> Child {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new("docker-registry")
        .arg("serve")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .expect("docker-registry (cargo xtask deps)")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Registry {
    /// Starts a registry and waits (at most 60 s) until it accepts connections.
    pub fn start(config: Config) -> Registry {
        let dir = tempfile::Builder::new()
            .prefix("peapod-registry-")
            .tempdir()
            .unwrap();
        let pki = Pki::new(&dir.path().join("pki"));
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let storage = dir.path().join("storage");
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: {host}\n  secret: peapod-test-secret\n",
            storage.display()
        );
        if config.tls {
            yaml += &format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                pki.server_crt.display(),
                pki.server_key.display()
            );
        }
        let mut token_issuer = None;
        let credentials = match config.auth {
            Auth::Anonymous => None,
            Auth::Basic { user, password } => {
                let htpasswd = dir.path().join("htpasswd");
                let out = Command::new("htpasswd")
                    .args(["-B", "-b", "-c"])
                    .arg(&htpasswd)
                    .args([&user, &password])
                    .output()
                    .expect("htpasswd (apache2-utils; cargo xtask deps)");
                assert!(out.status.success(), "htpasswd: {out:?}");
                yaml += &format!(
                    "auth:\n  htpasswd:\n    realm: peapod-test\n    path: {}\n",
                    htpasswd.display()
                );
                Some(Credentials {
                    username: user,
                    password,
                })
            }
            Auth::Token(policy) => {
                let issuer = TokenIssuer::start(&pki, policy.clone());
                yaml += &format!(
                    "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                    issuer.realm,
                    token::SERVICE,
                    token::ISSUER,
                    pki.ca_crt.display()
                );
                token_issuer = Some(issuer);
                Some(Credentials {
                    username: policy.user,
                    password: policy.password,
                })
            }
        };
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, yaml).unwrap();
        let log = dir.path().join("registry.log");
        let child = spawn(&config_path, &log);
        let mut registry = Registry {
            host,
            pki,
            token: token_issuer,
            credentials,
            tls: config.tls,
            child: Some(child),
            log,
            dir,
        };
        registry.wait_ready(Duration::from_secs(60));
        registry
    }

    fn wait_ready(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if TcpStream::connect(&self.host).is_ok() {
                return;
            }
            let exited = self.child.as_mut().and_then(|c| c.try_wait().unwrap());
            if exited.is_some() || Instant::now() > deadline {
                panic!(
                    "docker-registry on {} not ready ({exited:?}); its log:\n{}",
                    self.host,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The registry's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `HOST/REPO_TAG` parsed.
    pub fn reference(&self, repo_tag: &str) -> Reference {
        Reference::parse(&format!("{}/{repo_tag}", self.host)).unwrap()
    }

    /// The certs.d directory that trusts this registry's CA.
    pub fn certs_d(&self) -> PathBuf {
        self.pki.certs_d(&self.host)
    }

    /// Client options that trust the registry's CA, read no auth file of the user's, and
    /// retry fast.
    pub fn options(&self) -> RegistryOptions {
        RegistryOptions {
            certs_dir: self.certs_d(),
            auth_file: Some(self.dir.path().join("no-auth.json")),
            retries: 1,
            retry_delay: Duration::from_millis(50),
            ..Default::default()
        }
    }

    /// `skopeo copy [--all] SOURCE docker://HOST/REPO_TAG`, with this registry's CA and
    /// credentials.
    pub fn push(&self, source: &str, repo_tag: &str, all: bool) {
        self.push_with(source, repo_tag, all, &[]);
    }

    /// [`Registry::push`] with more `skopeo copy` flags (`--format v2s2` for Docker media
    /// types, `--dest-compress-format zstd`, …).
    pub fn push_with(&self, source: &str, repo_tag: &str, all: bool, flags: &[&str]) {
        let mut cmd = Command::new("skopeo");
        let auth_file = self.dir.path().join("skopeo-auth.json");
        cmd.env("REGISTRY_AUTH_FILE", auth_file)
            .args(["--insecure-policy", "copy", "--quiet"])
            .args(flags);
        if all {
            cmd.arg("--all");
        }
        if self.tls {
            let certs = self.certs_d().join(&self.host);
            cmd.arg("--dest-cert-dir").arg(certs);
        } else {
            cmd.arg("--dest-tls-verify=false");
        }
        if let Some(c) = &self.credentials {
            cmd.arg("--dest-creds")
                .arg(format!("{}:{}", c.username, c.password));
        }
        cmd.arg(source)
            .arg(format!("docker://{}/{repo_tag}", self.host));
        let out = cmd.output().expect("skopeo (cargo xtask deps)");
        assert!(
            out.status.success(),
            "skopeo copy {source} to {repo_tag}: {}\nregistry log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
    }

    /// Pushes the busybox fixture as `REPO_TAG`; returns its reference.
    pub fn push_busybox(&self, repo_tag: &str) -> Reference {
        self.push_oci(&super::fixture("busybox"), "latest", repo_tag);
        self.reference(repo_tag)
    }

    /// A TLS registry (anonymous) holding the `debian` fixture (Debian's minbase) as
    /// `library/debian:12` (`{host}/library/debian:12`; `certs_d()` trusts it).
    pub fn with_debian() -> Registry {
        let reg = Registry::start(Config {
            tls: true,
            auth: Auth::Anonymous,
        });
        reg.push_oci(&super::fixture("debian"), "latest", "library/debian:12");
        reg
    }

    /// Pushes the OCI layout `dir`'s image tagged `tag`.
    pub fn push_oci(&self, dir: &Path, tag: &str, repo_tag: &str) {
        self.push(&format!("oci:{}:{tag}", dir.display()), repo_tag, true);
    }

    /// Starts the (killed) registry again on the same port and storage after `delay`, from
    /// a thread; hand what the thread returns to [`Registry::adopt`].
    pub fn restart_later(&self, delay: Duration) -> std::thread::JoinHandle<Child> {
        assert!(self.child.is_none(), "restart_later of a running registry");
        let (config, log) = (self.dir.path().join("config.yml"), self.log.clone());
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            spawn(&config, &log)
        })
    }

    /// Takes in the process [`Registry::restart_later`] started and waits until it is ready.
    pub fn adopt(&mut self, restarted: std::thread::JoinHandle<Child>) {
        self.child = Some(restarted.join().unwrap());
        self.wait_ready(Duration::from_secs(60));
    }

    /// Where the registry keeps blob `digest` (filesystem storage driver layout), for tests
    /// that corrupt it.
    pub fn blob_data(&self, digest: &peapod_image::Digest) -> PathBuf {
        let hex = digest.hex();
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// Kills the registry (SIGKILL by pid) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}
