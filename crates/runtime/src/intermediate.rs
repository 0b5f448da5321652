//! The short-lived process between the runtime and init: it joins the namespaces given by
//! path, creates the user namespace (the runtime writes its maps) and then the others, and
//! clones init as the runtime's child, then exits.

use std::convert::Infallible;

use nix::unistd::{Gid, Uid, setresgid, setresuid};
use peapod_ns::{Forked, JoinedNamespaces, NamespaceKind, unshare_namespaces};

use crate::channel::Message;
use crate::init::{self, InitContext};
use crate::{Error, Result};

/// Runs the intermediate; never returns.
pub(crate) fn run(ctx: InitContext<'_>, joined: &JoinedNamespaces) -> ! {
    let error = match intermediate(ctx, joined) {
        Ok(never) => match never {},
        Err((ctx_channel_error, e)) => {
            let _ = ctx_channel_error.send(&Message::Failed(e.to_string()));
            1
        }
    };
    // SAFETY: _exit ends this forked process without running the runtime's destructors.
    unsafe { libc::_exit(error) }
}

type Failure = (crate::channel::Channel, Error);

fn intermediate(
    ctx: InitContext<'_>,
    joined: &JoinedNamespaces,
) -> std::result::Result<Infallible, Failure> {
    if let Err(e) = prepare(&ctx, joined).and_then(|()| non_dumpable()) {
        return Err((ctx.channel, e));
    }
    // SAFETY: this process is single-threaded (forked from the single-threaded runtime).
    match unsafe { peapod_ns::fork_sibling() } {
        Ok(Forked::Child) => init::run(ctx),
        Ok(Forked::Parent(pid)) => {
            let _ = ctx.channel.send(&Message::InitPid(pid.as_raw()));
            // SAFETY: _exit ends this forked process without running the runtime's destructors.
            unsafe { libc::_exit(0) }
        }
        Err(e) => Err((ctx.channel, e.into())),
    }
}

fn prepare(ctx: &InitContext<'_>, joined: &JoinedNamespaces) -> Result<()> {
    // A name for ps and for whoever debugs a stuck bring-up.
    let _ = nix::sys::prctl::set_name(c"peapod:[1:INTER]");
    match ctx.channel.recv()? {
        Some(Message::Go) => {}
        other => {
            return Err(Error::Sys {
                what: format!("start (got {other:?})"),
                source: nix::Error::EPROTO,
            });
        }
    }
    joined.enter()?;
    let namespaces = &ctx.bundle.namespaces;
    if namespaces.joined_path(NamespaceKind::User).is_some() {
        // Our host ids mean nothing in the joined namespace: become its root, so that files
        // made from here on (mount points, devices) get mapped owners.
        become_root()?;
    }
    if namespaces.is_new(NamespaceKind::User) {
        unshare_namespaces(NamespaceKind::User.clone_flag())?;
        ctx.channel.send(&Message::WriteIdMaps)?;
        match ctx.channel.recv()? {
            Some(Message::IdMapsWritten) => {}
            other => {
                return Err(Error::Sys {
                    what: format!("map ids (got {other:?})"),
                    source: nix::Error::EPROTO,
                });
            }
        }
        // Become the namespace's root if it is mapped; the capabilities come with the
        // namespace either way.
        let _ = become_root();
    }
    unshare_namespaces(namespaces.new_flags(false))?;
    if namespaces.is_new(NamespaceKind::Time) {
        write_time_offsets(ctx)?;
    }
    Ok(())
}

/// Until init's exec, no container process may open init's `/proc/<pid>/exe` (the host
/// binary) or ptrace it without `CAP_SYS_PTRACE` (see `trampoline`); init inherits this.
/// Set after the id maps are written: the runtime opens this process's uid_map, which a
/// non-dumpable process's owner (root) would keep a rootless runtime from.
pub(crate) fn non_dumpable() -> Result<()> {
    nix::sys::prctl::set_dumpable(false).map_err(Error::sys("make the bring-up non-dumpable"))
}

/// setresgid/setresuid to 0 in the current user namespace.
fn become_root() -> Result<()> {
    let (root_gid, root_uid) = (Gid::from_raw(0), Uid::from_raw(0));
    setresgid(root_gid, root_gid, root_gid)
        .map_err(Error::sys("become gid 0 in the joined user namespace"))?;
    setresuid(root_uid, root_uid, root_uid)
        .map_err(Error::sys("become uid 0 in the joined user namespace"))
}

/// `linux.timeOffsets`, written before the first process enters the new time namespace.
fn write_time_offsets(ctx: &InitContext<'_>) -> Result<()> {
    let Some(offsets) = ctx
        .bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref())
    else {
        return Ok(());
    };
    let text: String = offsets
        .iter()
        .map(|(clock, o)| {
            format!(
                "{clock} {} {}\n",
                o.secs().unwrap_or(0),
                o.nanosecs().unwrap_or(0)
            )
        })
        .collect();
    std::fs::write("/proc/self/timens_offsets", text).map_err(Error::io(
        "write time offsets to",
        "/proc/self/timens_offsets",
    ))
}
