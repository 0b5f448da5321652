//! CVE-2019-5736, for the verbs that put a runtime process into a pid namespace others
//! already live in (`exec`; `create` and `run` of a bundle joining a pid namespace by path):
//! before anything else, peapod-oci re-executes itself from a read-only detached bind of its
//! binary (or, where that cannot be made, a sealed copy), so that no container process can
//! reopen the binary for writing through `/proc/<pid>/exe`. Other verbs, and `run` of the
//! usual bundle with a pid namespace of its own, are not slowed down.

use std::path::Path;

/// Whether the command puts a runtime process into a pid namespace others live in.
pub(crate) fn enters_shared_pid_namespace(command: &super::Command) -> bool {
    match command {
        super::Command::Exec(_) => true,
        super::Command::Create(args) => joins_pid_namespace(&args.create.bundle),
        super::Command::Run(args) => joins_pid_namespace(&args.create.bundle),
        _ => false,
    }
}

/// Re-executes peapod-oci from a read-only bind of itself, else from a sealed copy; returns
/// only if neither could be done.
pub(crate) fn protect() -> anyhow::Error {
    let bind_error = match peapod_runtime::reexec_read_only() {
        Ok(never) => match never {},
        Err(e) => e,
    };
    match pentacle::ensure_sealed() {
        Ok(()) => anyhow::anyhow!("peapod-oci returned from its sealed re-execution"),
        Err(e) => anyhow::anyhow!(
            "cannot protect peapod-oci's binary: {bind_error}; nor run from a sealed copy: {e}"
        ),
    }
}

/// Whether the bundle's config joins a pid namespace by path (a pod's shared one).
fn joins_pid_namespace(bundle: &Path) -> bool {
    // Only the one field: the runtime parses the whole config itself (and refuses to go on
    // unprotected if this reading and its own disagree).
    #[derive(serde::Deserialize)]
    struct Config {
        linux: Option<Linux>,
    }
    #[derive(serde::Deserialize)]
    struct Linux {
        namespaces: Option<Vec<Namespace>>,
    }
    #[derive(serde::Deserialize)]
    struct Namespace {
        #[serde(rename = "type")]
        typ: String,
        path: Option<String>,
    }
    std::fs::read(bundle.join("config.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Config>(&b).ok())
        .and_then(|c| c.linux?.namespaces)
        .is_some_and(|list| {
            list.iter()
                .any(|n| n.typ == "pid" && n.path.as_deref().is_some_and(|p| !p.is_empty()))
        })
}
