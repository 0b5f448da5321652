//! `restore`: a container brought back from criu's images (see [`crate::criu`]).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

use crate::claim::{Claimed, claim};
use crate::config::Bundle;
use crate::container::Container;
use crate::create::{validate_id, write_pid_file};
use crate::criu::{
    RestoreOptions, criu_command, external_mounts, join_cgroup_before_exec, load_descriptors,
    run_criu, v1_cgroup_dirs,
};
use crate::state::now_rfc3339;
use crate::{Error, Result, proc};

/// See [`Container::restore`].
pub(crate) fn restore(id: &str, opts: &RestoreOptions) -> Result<Container> {
    validate_id(id)?;
    let create = &opts.create;
    let bundle = Bundle::load_with_cache(
        &create.bundle,
        Some(&create.root.join(crate::seccomp::CACHE_DIR)),
    )?;
    if bundle
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false)
    {
        return Err(Error::CriuUnsupported {
            action: "restore",
            what: "a container with a terminal (process.terminal)",
        });
    }
    let Claimed {
        mut record,
        paths,
        mut undo,
        cgroup,
        ignored,
    } = claim(id, &bundle, &create.root)?;

    let c = &opts.criu;
    let work = c.work_path.clone().unwrap_or_else(|| c.image_path.clone());
    std::fs::create_dir_all(&work).map_err(Error::io("create work directory", &work))?;
    let pid_path = paths.dir.join("criu.pid");
    let mut criu_opts = c.clone();
    // criu runs in the new cgroup and what it forks stays there (see `crate::criu`).
    criu_opts.manage_cgroups_mode = Some("ignore".into());
    let mut cmd = criu_command(&criu_opts, "restore", &work, "restore.log");
    cmd.arg("--root")
        .arg(&bundle.rootfs)
        .arg("--restore-detached")
        .arg("--restore-sibling")
        .arg("--pidfile")
        .arg(&pid_path);
    let cgroup_dirs = v1_cgroup_dirs(&cgroup);
    for (key, source) in external_mounts(Some(&bundle.spec), 0, &cgroup_dirs) {
        let mut arg = format!("mnt[{key}]:").into_bytes();
        arg.extend_from_slice(source.as_os_str().as_bytes());
        cmd.arg("--external").arg(std::ffi::OsStr::from_bytes(&arg));
    }
    let mut inherited: Vec<&str> = Vec::new();
    let descriptors = load_descriptors(&c.image_path);
    for (fd, what) in descriptors.iter().enumerate() {
        // One pipe on two fds (2>&1) is one key: the first fd gives it.
        if what.starts_with("pipe:") && !inherited.contains(&what.as_str()) {
            inherited.push(what);
            cmd.arg("--inherit-fd").arg(format!("fd[{fd}]:{what}"));
        }
    }
    // The network namespace the config joins by path, for criu to restore into: an fd
    // criu inherits (no close-on-exec), named by the key the checkpoint gave it.
    let joined_net = match bundle.namespaces.joined_path(peapod_ns::NamespaceKind::Net) {
        Some(path) => {
            let fd = nix::fcntl::open(
                path,
                nix::fcntl::OFlag::O_RDONLY,
                nix::sys::stat::Mode::empty(),
            )
            .map_err(Error::sys(format!(
                "open network namespace {}",
                path.display()
            )))?;
            cmd.arg("--inherit-fd").arg(format!(
                "fd[{}]:{}",
                std::os::fd::AsRawFd::as_raw_fd(&fd),
                crate::criu::EXTERNAL_NET
            ));
            Some(fd)
        }
        None => None,
    };
    // Our stdio is what the restored init gets for its pipes.
    cmd.stdin(std::process::Stdio::inherit());
    let procs = cgroup
        .directories()
        .iter()
        .map(|dir| CString::new(dir.join("cgroup.procs").as_os_str().as_bytes()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| Error::Sys {
            what: "name a cgroup.procs file".into(),
            source: nix::Error::EINVAL,
        })?;
    join_cgroup_before_exec(&mut cmd, procs);
    run_criu(id, "restore", cmd, &work.join("restore.log"))?;
    drop(joined_net);

    let pid_text =
        std::fs::read_to_string(&pid_path).map_err(Error::io("read criu's pid file", &pid_path))?;
    let _ = std::fs::remove_file(&pid_path);
    let pid: i32 = pid_text.trim().parse().map_err(|_| Error::Criu {
        id: id.to_owned(),
        action: "restore",
        status: "no pid".into(),
        detail: format!("its pid file holds {pid_text:?}"),
        log: work.join("restore.log"),
    })?;
    undo.init = Some(pid);
    let start_time = proc::stat(pid)
        .map(|s| s.start_time)
        .ok_or_else(|| Error::InitDied {
            id: id.to_owned(),
            detail: format!(" (restored as pid {pid})"),
        })?;
    record.pid = pid;
    record.pid_start_time = start_time;
    record.created = now_rfc3339();
    record.creator = None;
    record.save(&paths)?;
    if let Some(pid_file) = &create.pid_file {
        write_pid_file(pid_file, pid)?;
    }
    undo.disarm();
    let warnings = ignored.into_iter().map(Error::ResourceIgnored).collect();
    Ok(Container {
        paths,
        record,
        cgroup: std::cell::OnceCell::from(cgroup),
        warnings,
    })
}
