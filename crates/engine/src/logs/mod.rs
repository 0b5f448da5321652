//! Container logs in the CRI ("k8s-file") format, as kubelet reads them and conmon writes
//! them: one entry per line,
//!
//! ```text
//! 2026-11-30T22:40:33.123456789Z stdout F hello
//! 2026-11-30T22:40:33.123456789Z stderr P a long line's first 16 KiB…
//! ```
//!
//! (timestamp in RFC 3339 with nanoseconds, the stream, a tag, the content without its
//! newline). The tag is `F` for the end of a line and `P` for a piece of one: data that was
//! flushed before its newline arrived, or a line longer than [`LINE_BUFFER`] cut into pieces.
//! A reader joins a stream's `P` entries with the entry that follows on the same stream.
//! Format: the CRI logging proposal (kubernetes `pkg/kubelet/kuberuntime/logs`).
//!
//! - [`LogWriter`] appends entries from chunks as read from a pipe or a pty (any split),
//!   size-capped and rotated by default ([`LogLimits`]: 10 MiB × 3 files; the current file
//!   `NAME`, then `NAME.1`, `NAME.2`, older first to go).
//! - [`read`] prints a log (every rotated file, oldest first), with `tail`, `since`, `until`
//!   and `timestamps` ([`ReadOptions`]); [`follow`] then waits for new entries as `logs -f`
//!   does, across rotations, until the writer is gone.
//!
//!   `logs -f` follows the file, not the monitor's attach socket (which serves `attach` and
//!   foreground `run`), on purpose: the file outlives the monitor (a container restarted by
//!   its policy or by `start` gets a new monitor and the same log; a follower of the socket
//!   would end, or miss what was written between two monitors), rotation is the writer's
//!   business alone (the follower reads the old file to its end, then the next), a follower
//!   started late or a slow one costs the monitor nothing (it stays a single-threaded poll
//!   loop that never waits on a reader), and `--since`/`--tail` need the file anyway. It ends
//!   when the container is no longer running (checked between reads) after a last read.
//!   [`follow_many`] follows several logs at once, their lines interleaved as they are
//!   written (`pod logs -f`: one thread, one inotify instance).
//! - [`parse_time`] reads `--since`/`--until` values as docker accepts them; [`remove`]
//!   deletes a log with its rotated files.
//!
//! ```no_run
//! use std::path::Path;
//! use peapod_engine::logs::{LogLimits, LogWriter, ReadOptions, Stream, read};
//!
//! # fn main() -> Result<(), peapod_engine::logs::LogError> {
//! let path = Path::new("/var/lib/peapod/containers/abc/ctr.log");
//! let mut log = LogWriter::open(path, LogLimits::default())?;
//! log.write(Stream::Stdout, b"hello\nwor")?; // "hello" is written, "wor" held
//! log.write(Stream::Stdout, b"ld\n")?; // "world"
//! log.flush_partial()?; // at EOF, or when the container is quiet
//! let opts = ReadOptions {
//!     tail: Some(10),
//!     ..ReadOptions::default()
//! };
//! read(path, &opts, &mut |_stream, line: &[u8]| {
//!     print!("{}", String::from_utf8_lossy(line))
//! })?;
//! # Ok(())
//! # }
//! ```
//!
//! Dependencies: `humantime` (already in the workspace, for the CLI and peapod-image) parses
//! and formats RFC 3339 timestamps and Go-style durations (`1h30m`) with no allocation and no
//! time-zone database; `jiff` or `chrono` would bring a time-zone database we do not need,
//! since log timestamps are UTC. `nix`'s inotify wakes a follower when the log changes.

mod reader;
mod tail;
#[cfg(test)]
mod tests;
mod time;
mod writer;

use std::path::PathBuf;

pub use reader::{ReadOptions, follow, follow_many, read};
pub use time::parse_time;
pub use writer::{LINE_BUFFER, LogLimits, LogWriter};

/// Which of the container's output streams an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Standard output (also everything from a pty, which merges both).
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// The word the CRI format uses: `stdout` or `stderr`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    fn index(self) -> usize {
        match self {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
        }
    }
}

/// Why a log could not be written or read, or a time not understood.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A file of the log could not be opened, read, written, renamed or removed.
    #[error("cannot {op} log file {path}: {source}")]
    Io {
        /// What was being done (`open`, `write`, `rename`, …).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The limits make no sense (`max_size` 0, `max_files` 0).
    #[error("invalid log limits: {0}")]
    Limits(&'static str),
    /// A `--since`/`--until` value that is none of the accepted forms.
    #[error(
        "invalid time {text:?}: {reason} (expected RFC 3339 like 2006-01-02T15:04:05Z or \
         2006-01-02T15:04:05.999+07:00, a date 2006-01-02, unix seconds like 1700000000.5, \
         or a duration before now like 10m, 1h30m, 42s)"
    )]
    Time {
        /// What was given.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Removes a log: `path` and every rotated `path.N` (for `rm`); a log that does not exist
/// is not an error.
///
/// # Errors
///
/// [`LogError::Io`] naming the file that could not be removed.
pub fn remove(path: &std::path::Path) -> Result<(), LogError> {
    for file in reader::chain(path) {
        match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(LogError::Io {
                    op: "remove",
                    path: file,
                    source: e,
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// The `i`th file of a log's rotation: `path` itself for 0, else `path.i`.
fn rotated(path: &std::path::Path, i: u32) -> PathBuf {
    if i == 0 {
        return path.to_path_buf();
    }
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{i}"));
    PathBuf::from(name)
}
