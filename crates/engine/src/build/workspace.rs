//! A step's workspace: `ROOT/tmp/build-<id>/` laid out as a container's directory
//! ([`ContainerRootfs`]: `upper/`, `work/`, `merged/`), the overlay of the stage's layers
//! mounted at `merged/`, and for RUN a container of our runtime on it (on `--network
//! bridge|NAME` an endpoint of that network for the step's length, see `network`). When
//! the step succeeds, `upper/` becomes the layer
//! ([`peapod_image::layer_writer::commit_dir`]); on drop, whatever is left (mount,
//! container, directories) is removed.

use std::io::{Read, Seek};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use peapod_image::store::ImageLayer;
use serde_json::json;

use super::parse::{Args, Instruction};
use super::stage::{Builder, Current};
use super::{BuildError, BuildNetwork};
use crate::container::{CreateOptions, NetworkMode};
use crate::rootfs::ContainerRootfs;
use crate::spec::{self, ContainerConfig, ImageConfig};

/// The most output a failing step's error carries when it was not shown (`-q`).
const OUTPUT_TAIL: u64 = 8 << 10;

/// An overlay of a stage's layers with a fresh upper directory.
pub(crate) struct Workspace {
    pub(crate) id: String,
    pub(crate) dir: PathBuf,
    rootfs: ContainerRootfs,
    mounted: bool,
}

impl Workspace {
    /// Mounts the overlay of `layers` (bottom first; none for `scratch`).
    pub(crate) fn mount(
        store: &peapod_image::store::Store,
        layers: &[ImageLayer],
    ) -> Result<Self, BuildError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| BuildError::Io {
            action: "read random bytes for",
            path: PathBuf::from("a build step's id"),
            source: std::io::Error::other(e.to_string()),
        })?;
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let dir = store.root().join("tmp").join(format!("build-{id}"));
        let rootfs = ContainerRootfs::at(&dir);
        let mut ws = Self {
            id: format!("build-{id}"),
            dir,
            rootfs,
            mounted: false,
        };
        ws.rootfs.create()?;
        let mut lower: Vec<PathBuf> = layers
            .iter()
            .map(|l| store.layer_path(&l.chain_id))
            .collect();
        if lower.is_empty() {
            let empty = ws.dir.join("empty");
            std::fs::create_dir(&empty).map_err(BuildError::io("create", &empty))?;
            lower.push(empty);
        }
        ws.rootfs.mount(&lower)?;
        ws.mounted = true;
        Ok(ws)
    }

    /// The mounted root.
    pub(crate) fn merged(&self) -> PathBuf {
        self.rootfs.merged()
    }

    /// An fd of the mounted root.
    pub(crate) fn root_fd(&self) -> Result<OwnedFd, BuildError> {
        let merged = self.merged();
        std::fs::File::open(&merged)
            .map(OwnedFd::from)
            .map_err(BuildError::io("open", &merged))
    }

    /// Unmounts, takes out the RUN's `mount_points`, and makes `upper/` a layer on top of
    /// `parent` (the last layer's chain id).
    pub(crate) fn commit(
        mut self,
        store: &peapod_image::store::Store,
        parent: Option<&peapod_image::Digest>,
        epoch: Option<u64>,
        mount_points: Option<&super::mountpoints::MountPoints>,
    ) -> Result<ImageLayer, BuildError> {
        self.rootfs.unmount()?;
        self.mounted = false;
        if let Some(m) = mount_points {
            m.tidy(&self.rootfs.upper());
        }
        Ok(peapod_image::layer_writer::commit_dir(
            store,
            &self.rootfs.upper(),
            parent,
            epoch,
        )?)
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if self.mounted {
            let _ = self.rootfs.unmount();
        }
        let _ = self.rootfs.remove();
    }
}

/// Makes directory `path` (absolute, inside the root) and its missing parents, resolving
/// every component inside `root` (an image's symlinks cannot lead out); returns its fd.
/// Directories it makes are 0755 and owned by `owner` (uid, gid), else root (buildah's
/// rule for COPY --chown).
pub(crate) fn mkdir_in_root(
    root: &OwnedFd,
    path: &Path,
    owner: Option<(u32, u32)>,
) -> Result<OwnedFd, BuildError> {
    use nix::fcntl::OFlag;
    let mut at = PathBuf::from("/");
    let open = |p: &Path| {
        peapod_rootfs::open_in_root(root.as_fd(), p, OFlag::O_DIRECTORY | OFlag::O_RDONLY)
    };
    let mut fd = open(&at).map_err(crate::rootfs::RootfsError::from)?;
    for comp in path.components() {
        let std::path::Component::Normal(name) = comp else {
            continue;
        };
        at.push(name);
        fd = match open(&at) {
            Ok(fd) => fd,
            Err(_) => {
                match nix::sys::stat::mkdirat(
                    &fd,
                    name,
                    nix::sys::stat::Mode::from_bits_truncate(0o755),
                ) {
                    Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                    Err(e) => return Err(BuildError::io("create", &at)(e.into())),
                }
                let made = open(&at).map_err(crate::rootfs::RootfsError::from)?;
                if let Some((uid, gid)) = owner {
                    nix::unistd::fchown(&made, Some(uid.into()), Some(gid.into()))
                        .map_err(|e| BuildError::io("set the owner of", &at)(e.into()))?;
                }
                made
            }
        };
    }
    Ok(fd)
}

/// RUN: the command in a container on the stage's overlay; its changes as a layer.
pub(crate) fn run(
    b: &Builder<'_>,
    ins: &Instruction,
    cur: &Current,
) -> Result<ImageLayer, BuildError> {
    let store = b.engine.images.store();
    let layers = cur.state.image_layers();
    let ws = Workspace::mount(store, &layers)?;
    let workdir = cur.state.workdir();
    mkdir_in_root(&ws.root_fd()?, Path::new(&workdir), None)?;
    let command: Vec<String> = match &ins.args {
        Args::Exec(v) => v.clone(),
        Args::Shell(s) => cur.state.shell().into_iter().chain([s.clone()]).collect(),
    };
    let image: ImageConfig = serde_json::from_value(cur.state.config["config"].clone())
        .map_err(crate::Error::json("the stage's image config"))?;
    let mode = match ins.flag("network") {
        None | Some("default") => b.opts.network.resolved(&b.engine.default_network_mode()),
        Some("none") => BuildNetwork::None,
        Some("host") => BuildNetwork::Host,
        Some(other) => {
            return Err(BuildError::at(
                ins.line,
                "RUN",
                format!("--network={other}: RUN takes none, host or default"),
            ));
        }
    };
    let config = ContainerConfig {
        entrypoint: Some(Vec::new()),
        cmd: command,
        env: cur
            .args
            .iter()
            .filter(|(k, _)| {
                cur.state
                    .env()
                    .iter()
                    .all(|e| !e.starts_with(&format!("{k}=")))
            })
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        hostname: Some(ws.id[6..18].to_owned()),
        ..ContainerConfig::default()
    };
    let merged = ws.merged();
    let passwd = ws.rootfs_file("/etc/passwd")?;
    let group = ws.rootfs_file("/etc/group")?;
    let user = spec::resolve_user(&image.user, &passwd, &group).map_err(crate::Error::from)?;
    let cgroups_path = format!("{}/{}", b.opts.cgroup_parent.trim_end_matches('/'), ws.id);
    let hostname = config.hostname.clone().unwrap_or_default();
    let built = spec::build_spec(&image, &config, &user, &hostname, &merged, &cgroups_path)?;
    let mut spec_json = serde_json::to_value(&built).map_err(crate::Error::json("config.json"))?;
    let (network, endpoint) = match &mode {
        BuildNetwork::Host => (NetworkMode::Host, None),
        BuildNetwork::Bridge(name) => {
            let (ep, ip) = super::network::RunEndpoint::attach(
                b.engine,
                ws.id.strip_prefix("build-").unwrap_or(&ws.id),
                &ws.id,
                &hostname,
                name,
                &ws.dir,
            )?;
            (NetworkMode::Bridge(name.clone()), Some((ep, ip)))
        }
        BuildNetwork::None | BuildNetwork::Default => (NetworkMode::None, None),
    };
    let create = CreateOptions {
        network,
        ..CreateOptions::default()
    };
    let address = endpoint.as_ref().and_then(|(_, ip)| *ip);
    crate::container::bundle::write_etc_files(&ws.dir, &hostname, &ws.id, &create, address)?;
    let netns = match &endpoint {
        Some((ep, _)) => {
            ep.write_hosts()?;
            ep.netns()
        }
        None => ws.dir.join("no-netns"),
    };
    let caps = spec::capabilities(&config)?;
    crate::container::bundle::complete(&mut spec_json, &create, &ws.dir, &[], &caps, &netns)?;
    spec_json["annotations"] = json!({"io.peapod.build": ins.text});
    let path = ws.dir.join("config.json");
    let text = serde_json::to_vec(&spec_json).map_err(crate::Error::json("config.json"))?;
    std::fs::write(&path, text).map_err(BuildError::io("write", &path))?;
    let destinations: Vec<String> = spec_json["mounts"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|m| m["destination"].as_str().map(ToOwned::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mount_points = super::mountpoints::MountPoints::before(&ws.root_fd()?, &destinations);
    let (code, output) = run_container(b, &ws)?;
    // The step's network goes before its layer is committed (or the error returned).
    drop(endpoint);
    if code != 0 {
        return Err(BuildError::RunFailed {
            line: ins.line,
            command: ins.text.clone(),
            code,
            output,
        });
    }
    let parent = layers.last().map(|l| l.chain_id.clone());
    ws.commit(
        store,
        parent.as_ref(),
        b.opts.source_date_epoch,
        Some(&mount_points),
    )
}

impl Workspace {
    fn rootfs_file(&self, path: &str) -> Result<String, BuildError> {
        Ok(self.rootfs.read_file(path, 1 << 20)?.unwrap_or_default())
    }
}

/// Our stdio while the runtime clones the container's first process (it inherits them),
/// put back on drop.
struct SavedStdio([OwnedFd; 3]);

impl SavedStdio {
    fn redirect(stdin: &OwnedFd, out: &OwnedFd, err: &OwnedFd) -> Result<Self, BuildError> {
        let dup = |fd: std::os::fd::BorrowedFd<'_>| {
            fd.try_clone_to_owned()
                .map_err(BuildError::io("duplicate", Path::new("stdio")))
        };
        let saved = [
            dup(std::io::stdin().as_fd())?,
            dup(std::io::stdout().as_fd())?,
            dup(std::io::stderr().as_fd())?,
        ];
        let what = |e: nix::Error| BuildError::io("redirect", Path::new("stdio"))(e.into());
        nix::unistd::dup2_stdin(stdin).map_err(what)?;
        let saved = Self(saved);
        nix::unistd::dup2_stdout(out).map_err(what)?;
        nix::unistd::dup2_stderr(err).map_err(what)?;
        Ok(saved)
    }
}

impl Drop for SavedStdio {
    fn drop(&mut self) {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let _ = nix::unistd::dup2_stdin(&self.0[0]);
        let _ = nix::unistd::dup2_stdout(&self.0[1]);
        let _ = nix::unistd::dup2_stderr(&self.0[2]);
    }
}

/// Runs the workspace's bundle to its end with the built-in runtime; its exit code, and
/// (with `-q`) the end of its output.
fn run_container(b: &Builder<'_>, ws: &Workspace) -> Result<(i32, String), BuildError> {
    let null =
        std::fs::File::open("/dev/null").map_err(BuildError::io("open", Path::new("/dev/null")))?;
    let null = OwnedFd::from(null);
    let log = if b.opts.quiet {
        Some(tempfile::tempfile_in(&ws.dir).map_err(BuildError::io("create a log in", &ws.dir))?)
    } else {
        None
    };
    let (out, err) = match &log {
        Some(f) => {
            let fd = OwnedFd::from(
                f.try_clone()
                    .map_err(BuildError::io("duplicate", &ws.dir))?,
            );
            let fd2 = fd
                .try_clone()
                .map_err(BuildError::io("duplicate", &ws.dir))?;
            (fd, fd2)
        }
        None => (
            std::io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .map_err(BuildError::io("duplicate", Path::new("stdout")))?,
            std::io::stderr()
                .as_fd()
                .try_clone_to_owned()
                .map_err(BuildError::io("duplicate", Path::new("stderr")))?,
        ),
    };
    let root = b.engine.runtime_root();
    let opts = peapod_runtime::CreateOptions {
        root: root.clone(),
        bundle: ws.dir.clone(),
        ..peapod_runtime::CreateOptions::default()
    };
    let started = {
        let _stdio = SavedStdio::redirect(&null, &out, &err)?;
        peapod_runtime::Container::create_and_start(&ws.id, &opts)
    };
    let (container, _warnings) = match started {
        Ok(c) => c,
        Err(e) => {
            if let Ok(c) = peapod_runtime::Container::load(&root, &ws.id) {
                let _ = c.delete(true);
            }
            return Err(crate::Error::from_start(e).into());
        }
    };
    let code = super::interrupt::wait(&container);
    let _ = container.delete(true);
    let code = code?;
    super::interrupt::check()?;
    let mut output = String::new();
    if let Some(mut f) = log
        && code != 0
    {
        let len = f.seek(std::io::SeekFrom::End(0)).unwrap_or(0);
        let _ = f.seek(std::io::SeekFrom::Start(len.saturating_sub(OUTPUT_TAIL)));
        let mut bytes = Vec::new();
        let _ = f.read_to_end(&mut bytes);
        output = String::from_utf8_lossy(&bytes).into_owned();
    }
    Ok((code, output))
}
