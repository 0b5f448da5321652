//! The typed messages between the runtime and the processes it forks, over a
//! `SOCK_SEQPACKET` socketpair: each `send` is one message, each `recv` reads exactly one,
//! and the peer's exit reads as end-of-stream.

use std::os::fd::{AsFd, OwnedFd};

use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Largest message: an error text or a state document.
const MAX_MESSAGE: usize = 64 * 1024;

/// Every step of the bring-up that crosses a process boundary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Message {
    /// Runtime to intermediate: you are in the cgroup; go on.
    Go,
    /// Intermediate to runtime: I have a new user namespace; write its id maps.
    WriteIdMaps,
    /// Runtime to intermediate: the maps are written.
    IdMapsWritten,
    /// Intermediate to runtime: the init process, as a pid in the runtime's namespace.
    InitPid(i32),
    /// Runtime to init: go on; here is the state hooks receive on stdin.
    InitGo { hook_state: String },
    /// Init to runtime: namespaces exist, the rootfs is mounted; run createRuntime hooks.
    RunCreateRuntimeHooks,
    /// Runtime to init: those hooks succeeded.
    HooksDone,
    /// Init to runtime: everything is set up; I now wait for `start`.
    Created,
    /// Either child to runtime: this step failed, with the error text.
    Failed(String),
}

/// One end of a socketpair.
#[derive(Debug)]
pub(crate) struct Channel {
    fd: OwnedFd,
}

impl Channel {
    /// A connected pair (close-on-exec, so nothing leaks into the container's process).
    pub(crate) fn pair() -> Result<(Channel, Channel)> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(Error::sys("create the runtime's socketpair"))?;
        Ok((Channel { fd: a }, Channel { fd: b }))
    }

    pub(crate) fn send(&self, message: &Message) -> Result<()> {
        let bytes = serde_json::to_vec(message).map_err(|e| Error::Sys {
            what: format!("encode {message:?}: {e}"),
            source: nix::Error::EINVAL,
        })?;
        let written = nix::unistd::write(self.fd.as_fd(), &bytes)
            .map_err(Error::sys("send to the container process"))?;
        if written != bytes.len() {
            return Err(Error::Sys {
                what: "send to the container process".into(),
                source: nix::Error::EMSGSIZE,
            });
        }
        Ok(())
    }

    /// The next message, or `None` once every peer has closed its end (exited).
    pub(crate) fn recv(&self) -> Result<Option<Message>> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        let n = loop {
            match nix::unistd::read(self.fd.as_fd(), &mut buf) {
                Err(nix::Error::EINTR) => continue,
                other => break other.map_err(Error::sys("receive from the container process"))?,
            }
        };
        if n == 0 {
            return Ok(None);
        }
        serde_json::from_slice(&buf[..n])
            .map(Some)
            .map_err(|e| Error::Sys {
                what: format!("decode a message: {e}"),
                source: nix::Error::EBADMSG,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_arrive_whole_and_in_order_and_a_closed_peer_reads_as_none() {
        let (a, b) = Channel::pair().unwrap();
        a.send(&Message::InitPid(42)).unwrap();
        a.send(&Message::Failed("x".repeat(10_000))).unwrap();
        assert_eq!(b.recv().unwrap(), Some(Message::InitPid(42)));
        assert_eq!(b.recv().unwrap(), Some(Message::Failed("x".repeat(10_000))));
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }
}
