//! Loading and validating a bundle's `config.json`. Everything the runtime refuses, it
//! refuses here, before anything is created: a bad config leaves nothing behind.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{Hook, Spec};
use peapod_ns::{IdMap, NamespaceKind, Namespaces};

use crate::{Error, Result};

/// A bundle whose config passed validation.
#[derive(Debug)]
pub struct Bundle {
    /// The bundle directory, absolute.
    pub dir: PathBuf,
    /// Its config.
    pub spec: Spec,
    /// `root.path`, resolved against the bundle and made absolute.
    pub rootfs: PathBuf,
    /// `linux.namespaces`.
    pub namespaces: Namespaces,
    /// `linux.seccomp`, compiled (once, here: a profile that does not compile is refused).
    pub(crate) seccomp: Option<crate::seccomp::Filter>,
    /// Capability names this runtime does not know, dropped from `process.capabilities`
    /// as runc drops them (with a warning): a newer engine may name newer ones.
    pub(crate) unknown_capabilities: Vec<String>,
}

impl Bundle {
    /// Loads `<dir>/config.json` and checks everything the runtime relies on.
    pub fn load(dir: &Path) -> Result<Self> {
        Self::load_with_cache(dir, None)
    }

    /// [`Bundle::load`], with compiled seccomp profiles cached in `seccomp_cache` (a
    /// directory of the runtime root's).
    pub(crate) fn load_with_cache(dir: &Path, seccomp_cache: Option<&Path>) -> Result<Self> {
        let dir = std::fs::canonicalize(dir).map_err(Error::io("open bundle", dir))?;
        let path = dir.join("config.json");
        let bytes = std::fs::read(&path).map_err(|source| Error::ReadConfig {
            path: path.clone(),
            source,
        })?;
        let invalid = |why: String| Error::InvalidConfig {
            path: path.clone(),
            why,
        };
        let (mut spec, unknown_capabilities) = parse(&bytes).map_err(&invalid)?;
        let (rootfs, namespaces) = validate(&dir, &spec).map_err(&invalid)?;
        if let Some(mounts) = spec.mounts_mut() {
            paths::bind_sources(&dir, mounts).map_err(&invalid)?;
        }
        let seccomp = match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
            Some(profile) => {
                Some(crate::seccomp::compile(profile, seccomp_cache).map_err(&invalid)?)
            }
            None => None,
        };
        Ok(Self {
            dir,
            spec,
            rootfs,
            namespaces,
            seccomp,
            unknown_capabilities,
        })
    }
}

/// The config, parsed. Only if that fails is it read again with the capability names this
/// runtime does not know dropped from `process.capabilities` (returned): the common case
/// parses once.
fn parse(bytes: &[u8]) -> std::result::Result<(Spec, Vec<String>), String> {
    parse_without_unknown_capabilities(bytes, "/process/capabilities")
}

/// An OCI `process` document (what `exec --process FILE` reads), parsed as the config is:
/// capability names this runtime does not know are dropped, as runc drops them, and
/// returned for a warning. Errors are the parser's message.
pub fn parse_process(
    bytes: &[u8],
) -> std::result::Result<(oci_spec::runtime::Process, Vec<String>), String> {
    parse_without_unknown_capabilities(bytes, "/capabilities")
}

/// `T` from JSON; only if that fails, again without the unknown names in the capability
/// sets at `pointer`.
fn parse_without_unknown_capabilities<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    pointer: &str,
) -> std::result::Result<(T, Vec<String>), String> {
    let error = match serde_json::from_slice::<T>(bytes) {
        Ok(parsed) => return Ok((parsed, Vec::new())),
        Err(e) => e.to_string(),
    };
    let mut value: serde_json::Value = serde_json::from_slice(bytes).map_err(|_| error.clone())?;
    let mut unknown = Vec::new();
    let sets = value
        .pointer_mut(pointer)
        .and_then(serde_json::Value::as_object_mut);
    for set in sets.into_iter().flat_map(|sets| sets.values_mut()) {
        if let Some(names) = set.as_array_mut() {
            names.retain(|name| {
                let known =
                    serde_json::from_value::<oci_spec::runtime::Capability>(name.clone()).is_ok();
                if !known {
                    unknown.push(name.as_str().unwrap_or_default().to_owned());
                }
                known
            });
        }
    }
    if unknown.is_empty() {
        return Err(error);
    }
    unknown.sort();
    unknown.dedup();
    serde_json::from_value(value)
        .map(|parsed| (parsed, unknown))
        .map_err(|e| e.to_string())
}

/// The checks, as plain strings (the caller names the file).
fn validate(bundle: &Path, spec: &Spec) -> std::result::Result<(PathBuf, Namespaces), String> {
    // Any ociVersion is read, as runc 1.1 and crun do: the fields decide what runs, and
    // engines write versions (1.0.2-dev, 1.1.0+dev) that a strict check would refuse.
    let root = spec.root().as_ref().ok_or("root is missing")?;
    if root.path().as_os_str().is_empty() {
        return Err("root.path is empty".into());
    }
    let rootfs = paths::rootfs(bundle, root.path())?;
    let process = spec.process().as_ref().ok_or("process is missing")?;
    if process.args().as_ref().is_none_or(Vec::is_empty) {
        return Err("process.args is empty".into());
    }
    if !process.cwd().is_absolute() {
        return Err(format!(
            "process.cwd {} is not absolute",
            process.cwd().display()
        ));
    }
    // A type listed twice is set twice, the last one winning, as runc does.
    for rlimit in process.rlimits().iter().flatten() {
        if rlimit.soft() > rlimit.hard() {
            return Err(format!(
                "rlimit {:?} has soft limit {} above its hard limit {}",
                rlimit.typ(),
                rlimit.soft(),
                rlimit.hard()
            ));
        }
    }
    let linux = spec.linux().as_ref().ok_or("linux is missing")?;
    let namespaces = Namespaces::from_oci(linux.namespaces().as_deref().unwrap_or_default())
        .map_err(|e| e.to_string())?;
    if !namespaces.contains(NamespaceKind::Mount) {
        check_without_mount_namespace(linux)?;
    }
    // A uts namespace joined by path is the container's too: the names are set there, as
    // runc and crun do (the runtime spec allows it). Without one they would be the host's.
    for (field, value) in [
        ("hostname", spec.hostname()),
        ("domainname", spec.domainname()),
    ] {
        if value.as_ref().is_some_and(|h| !h.is_empty()) && !namespaces.contains(NamespaceKind::Uts)
        {
            return Err(format!(
                "{field} is set but the container has no uts namespace (it would set the host's)"
            ));
        }
    }
    let (uid_maps, gid_maps) = id_maps(spec);
    if namespaces.is_new(NamespaceKind::User) {
        IdMap::validate("uid", &uid_maps).map_err(|e| e.to_string())?;
        IdMap::validate("gid", &gid_maps).map_err(|e| e.to_string())?;
    } else if !uid_maps.is_empty() || !gid_maps.is_empty() {
        // runc 1.1 drops such mappings silently; running the container's root as the host's
        // root when its author wrote id mappings is not a leniency to copy.
        return Err(
            "uid/gid mappings are set but the container has no new user namespace \
             (ignoring them would run the container's ids as the host's)"
                .into(),
        );
    }
    // linux.personality.flags: the runtime spec defines none; they are ignored, as runc does.
    if let Some(hooks) = spec.hooks() {
        #[allow(deprecated)] // prestart is deprecated by the spec but still honoured
        let lists = [
            ("createRuntime", hooks.create_runtime(), true),
            ("createContainer", hooks.create_container(), true),
            ("startContainer", hooks.start_container(), false),
            ("prestart", hooks.prestart(), true),
            ("poststart", hooks.poststart(), true),
            // runc runs poststop hooks at delete, and a missing one is then a warning: it
            // may be installed after create.
            ("poststop", hooks.poststop(), false),
        ];
        for (name, list, on_host) in lists {
            for hook in list.iter().flatten() {
                check_hook(name, hook, on_host)?;
            }
        }
    }
    Ok((rootfs, namespaces))
}

/// Without a mount namespace the container shares the runtime's (runtime spec: a namespace
/// not listed is inherited): its mounts are made there, under a bind of the rootfs onto
/// itself that `delete` detaches, and it is entered by chroot (see
/// `peapod_rootfs::prepare_shared`, which also says what runc 1.1 does). Refused is what
/// would change the host beyond the container: masked and read-only paths (runc refuses
/// them too: "unable to restrict sys entries without a private MNT namespace") and
/// `rootfsPropagation` (runc applies it to the runtime's own `/`).
fn check_without_mount_namespace(
    linux: &oci_spec::runtime::Linux,
) -> std::result::Result<(), String> {
    let mut needs = Vec::new();
    if linux.masked_paths().as_ref().is_some_and(|m| !m.is_empty()) {
        needs.push("linux.maskedPaths");
    }
    if linux
        .readonly_paths()
        .as_ref()
        .is_some_and(|m| !m.is_empty())
    {
        needs.push("linux.readonlyPaths");
    }
    if linux.rootfs_propagation().is_some() {
        needs.push("linux.rootfsPropagation");
    }
    if needs.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{} need a mount namespace: without one they would apply to the runtime's own \
         mount namespace, on the host, where masking or re-marking its paths and mounts \
         outlives the container (add {{\"type\": \"mount\"}} to linux.namespaces)",
        needs.join(", ")
    ))
}

/// `linux.uidMappings` and `linux.gidMappings`, as the namespace crate takes them.
pub(crate) fn id_maps(spec: &Spec) -> (Vec<IdMap>, Vec<IdMap>) {
    let linux = spec.linux().as_ref();
    let uid = linux
        .and_then(|l| l.uid_mappings().as_ref())
        .into_iter()
        .flatten()
        .map(IdMap::from)
        .collect();
    let gid = linux
        .and_then(|l| l.gid_mappings().as_ref())
        .into_iter()
        .flatten()
        .map(IdMap::from)
        .collect();
    (uid, gid)
}

/// A hook path must be absolute; hooks run in the runtime's mount namespace must exist.
fn check_hook(name: &str, hook: &Hook, on_host: bool) -> std::result::Result<(), String> {
    let path = hook.path();
    if !path.is_absolute() {
        return Err(format!(
            "{name} hook path {} is not absolute",
            path.display()
        ));
    }
    if on_host && !path.is_file() {
        return Err(format!("{name} hook {} does not exist", path.display()));
    }
    Ok(())
}

mod paths;

#[cfg(test)]
mod tests;
