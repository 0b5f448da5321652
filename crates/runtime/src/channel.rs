//! The typed messages between the runtime and the processes it forks, over a
//! `SOCK_SEQPACKET` socketpair: each `send` is one message, each `recv` reads exactly one,
//! and the peer's exit reads as end-of-stream. A message of any size (a state document with
//! a 64 MiB annotation) travels as a run of packets of at most [`PACKET`] bytes, each
//! starting with a byte that says whether more follow; only one process writes to a
//! channel end at a time (the bring-up is a strict back-and-forth), so runs never mix.

use std::os::fd::{AsFd, OwnedFd};

use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The largest packet: well under the socket's default send buffer (about 208 KiB), which
/// bounds one `SOCK_SEQPACKET` record.
const PACKET: usize = 64 * 1024;
/// The first byte of a packet: the message goes on in the next one, or ends here.
const MORE: u8 = 1;
const LAST: u8 = 0;

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
        let mut chunks = bytes.chunks(PACKET - 1).peekable();
        let mut packet = Vec::with_capacity(PACKET.min(bytes.len() + 1));
        while let Some(chunk) = chunks.next() {
            packet.clear();
            packet.push(if chunks.peek().is_some() { MORE } else { LAST });
            packet.extend_from_slice(chunk);
            let written = nix::unistd::write(self.fd.as_fd(), &packet)
                .map_err(Error::sys("send to the container process"))?;
            if written != packet.len() {
                return Err(Error::Sys {
                    what: "send to the container process".into(),
                    source: nix::Error::EMSGSIZE,
                });
            }
        }
        Ok(())
    }

    /// The next message, or `None` once every peer has closed its end (exited).
    pub(crate) fn recv(&self) -> Result<Option<Message>> {
        let mut packet = vec![0u8; PACKET];
        let mut bytes = Vec::new();
        loop {
            let mut reset_seen = false;
            let n = loop {
                match nix::unistd::read(self.fd.as_fd(), &mut packet) {
                    Err(nix::Error::EINTR) => continue,
                    // A peer that exits with a message of ours unread (init failing before
                    // it read `InitGo`) resets the socket: the error is reported once, and
                    // what it sent before exiting (its `Failed`) is still queued here.
                    Err(nix::Error::ECONNRESET) if !reset_seen => reset_seen = true,
                    other => {
                        break other.map_err(Error::sys("receive from the container process"))?;
                    }
                }
            };
            match packet[..n].split_first() {
                // The peer is gone; mid-message that is a truncated message, as EOF.
                None if bytes.is_empty() => return Ok(None),
                None => break,
                Some((&MORE, chunk)) => bytes.extend_from_slice(chunk),
                Some((_, chunk)) => {
                    bytes.extend_from_slice(chunk);
                    break;
                }
            }
        }
        serde_json::from_slice(&bytes)
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

    /// Init that fails before reading what the runtime sent it (`InitGo`) still gets its
    /// `Failed` through: its exit resets the socket, and the runtime reads on.
    #[test]
    fn a_peer_that_exits_with_our_message_unread_is_still_heard() {
        let (runtime, init) = Channel::pair().unwrap();
        runtime
            .send(&Message::InitGo {
                hook_state: "{}".into(),
            })
            .unwrap();
        init.send(&Message::Failed("cannot mount".into())).unwrap();
        drop(init);
        assert_eq!(
            runtime.recv().unwrap(),
            Some(Message::Failed("cannot mount".into()))
        );
        assert_eq!(runtime.recv().unwrap(), None);
    }

    #[test]
    fn a_message_larger_than_a_packet_or_a_socket_buffer_arrives_whole() {
        let (mut a, b) = Channel::pair().unwrap();
        for len in [PACKET - 20, PACKET, 3 * PACKET + 7, 8 << 20] {
            let message = Message::InitGo {
                hook_state: "z".repeat(len),
            };
            let sent = message.clone();
            // The reader must run meanwhile: a big message fills the socket's buffer.
            let writer = std::thread::spawn(move || a.send(&sent).map(|()| a));
            assert_eq!(b.recv().unwrap(), Some(message));
            a = writer.join().unwrap().unwrap();
        }
        a.send(&Message::Go).unwrap();
        assert_eq!(b.recv().unwrap(), Some(Message::Go));
    }
}
