//! The start `create` and `restore` share: the id claimed under the runtime root, the
//! container's record saved, its cgroup made and its resources applied.

use std::path::Path;

use peapod_cgroup::Cgroup;

use crate::config::Bundle;
use crate::create::Undo;
use crate::state::{Paths, Record, now_rfc3339};
use crate::{Error, Result};

/// A container id claimed under the runtime root, with its cgroup made and the config's
/// resources applied: what `create` and `restore` begin with. Dropped before
/// `undo.disarm()`, it all goes again.
#[derive(Debug)]
pub(crate) struct Claimed {
    pub(crate) record: Record,
    pub(crate) paths: Paths,
    pub(crate) undo: Undo,
    pub(crate) cgroup: Cgroup,
    /// The resources this host ignored (warnings).
    pub(crate) ignored: Vec<peapod_cgroup::Warning>,
}

/// Claims `id` under `root` for `bundle`, then makes its cgroup (see [`Claimed`]). The
/// record is saved before anything is made, and again as each thing is (the cgroup, init):
/// if this process is killed at any point, `delete --force` finds and removes it all.
pub(crate) fn claim(id: &str, bundle: &Bundle, root: &Path) -> Result<Claimed> {
    std::fs::create_dir_all(root).map_err(Error::io("create runtime root", root))?;
    let paths = Paths::new(root, id);
    let mut record = provisional_record(id, bundle);
    paths.claim(&record)?;
    let mut undo = Undo {
        dir: Some(paths.dir.clone()),
        cgroup: None,
        init: None,
        shared_root: None,
    };
    let cgroup = Cgroup::create(record.cgroup_path.as_deref().unwrap_or_default())?;
    undo.cgroup = Some(cgroup.clone());
    if !cgroup.created_parents().is_empty() {
        record.cgroup_created_parents = cgroup.created_parents().to_vec();
        record.save(&paths)?;
    }
    let ignored = match crate::devices::resources_with_devices(&bundle.spec)? {
        Some(resources) => cgroup.apply(&resources)?,
        None => Vec::new(),
    };
    Ok(Claimed {
        record,
        paths,
        undo,
        cgroup,
        ignored,
    })
}

/// The container's record as `create` starts: no init yet, `create` itself as its creator.
fn provisional_record(id: &str, bundle: &Bundle) -> Record {
    let linux = bundle.spec.linux().as_ref();
    let hooks = bundle.spec.hooks().as_ref();
    Record {
        oci_version: bundle.spec.version().clone(),
        id: id.to_owned(),
        pid: 0,
        pid_start_time: 0,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        annotations: bundle.spec.annotations().clone().unwrap_or_default(),
        created: now_rfc3339(),
        cgroup_path: Some(linux.and_then(|l| l.cgroups_path().as_ref()).map_or_else(
            // Flat, as crun and runc do: no shared parent to make and remove on every run.
            || format!("/peapod-{id}"),
            |p| p.to_string_lossy().into_owned(),
        )),
        cgroup_created_parents: Vec::new(),
        poststart: hooks
            .and_then(|h| h.poststart().clone())
            .unwrap_or_default(),
        poststop: hooks.and_then(|h| h.poststop().clone()).unwrap_or_default(),
        process: bundle.spec.process().clone(),
        namespaces: linux
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default(),
        seccomp: linux.and_then(|l| l.seccomp().clone()),
        creator: crate::state::ProcessRef::me(),
        shared_root_mount: None,
    }
}
