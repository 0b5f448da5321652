//! Writing entries: chunks in, whole entries out, one `write(2)` per chunk, rotation
//! between entries.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::time::{TS_LEN, format_ts};
use super::{LogError, Stream, rotated};

/// The longest entry content written: a line longer than this becomes `P` entries of at most
/// this many bytes (cut before a UTF-8 sequence rather than inside it) and a last `F` one.
/// conmon uses the same 16 KiB.
pub const LINE_BUFFER: usize = 16 * 1024;

/// The bytes of an entry besides its content: timestamp, three spaces, `stdout`, tag, `\n`.
const OVERHEAD: usize = TS_LEN + 1 + 6 + 1 + 1 + 1 + 1;

/// How large a log may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLimits {
    /// Bytes a file may hold before it is rotated; `None` for no limit (no rotation). A file
    /// never exceeds it unless a single entry does (at most [`LINE_BUFFER`] + 41 bytes).
    pub max_size: Option<u64>,
    /// Files kept, the current one included (docker's `max-file`): at most
    /// `max_size × max_files` bytes in all. With 1 the file is emptied when full.
    pub max_files: u32,
}

impl Default for LogLimits {
    /// 10 MiB × 3 files, so that a chatty container cannot fill the disk.
    fn default() -> Self {
        LogLimits {
            max_size: Some(10 << 20),
            max_files: 3,
        }
    }
}

/// Appends a container's output to a CRI-format log, rotating it by [`LogLimits`].
///
/// Each stream keeps the end of a line that has not seen its newline yet (up to
/// [`LINE_BUFFER`] bytes) until the rest arrives, so that a line split across reads is one
/// `F` entry; [`LogWriter::flush_partial`] writes what is held as `P` entries (call it when
/// the stream is idle or at EOF; dropping the writer does it too, ignoring errors).
#[derive(Debug)]
pub struct LogWriter {
    out: Out,
    /// Per stream ([`Stream::index`]): the start of an unfinished line.
    partial: [Vec<u8>; 2],
}

/// The file side: the entries of one chunk are gathered in `buf` and written at once.
#[derive(Debug)]
struct Out {
    path: PathBuf,
    file: File,
    /// Bytes in the current file.
    size: u64,
    limits: LogLimits,
    buf: Vec<u8>,
    /// The timestamp of the chunk being written.
    ts: [u8; TS_LEN],
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> LogError {
    let path = path.to_path_buf();
    move |source| LogError::Io { op, path, source }
}

fn open_append(path: &Path) -> Result<File, LogError> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open(path)
        .map_err(io_err("open", path))
}

impl LogWriter {
    /// Opens (creating it, mode 0640) the log at `path` for appending.
    ///
    /// # Errors
    ///
    /// [`LogError::Limits`] for `max_size` 0 or `max_files` 0; [`LogError::Io`] if the file
    /// cannot be opened.
    pub fn open(path: impl AsRef<Path>, limits: LogLimits) -> Result<LogWriter, LogError> {
        if limits.max_size == Some(0) {
            return Err(LogError::Limits("max_size must be at least 1 byte"));
        }
        if limits.max_files == 0 {
            return Err(LogError::Limits("max_files must be at least 1"));
        }
        let path = path.as_ref().to_path_buf();
        let file = open_append(&path)?;
        let size = file.metadata().map_err(io_err("stat", &path))?.len();
        Ok(LogWriter {
            out: Out {
                path,
                file,
                size,
                limits,
                buf: Vec::new(),
                ts: [0; TS_LEN],
            },
            partial: [Vec::new(), Vec::new()],
        })
    }

    /// The log's current file.
    pub fn path(&self) -> &Path {
        &self.out.path
    }

    /// Logs `data`, a chunk of `stream` as read from a pipe or pty: every line it completes
    /// becomes entries stamped with the time now; a trailing unfinished line is held.
    ///
    /// # Errors
    ///
    /// [`LogError::Io`] if writing or rotating fails; the entries of this chunk not yet
    /// written are dropped (the writer stays usable).
    pub fn write(&mut self, stream: Stream, data: &[u8]) -> Result<(), LogError> {
        self.out.ts = format_ts(SystemTime::now());
        let held = &mut self.partial[stream.index()];
        let mut rest = data;
        let result = loop {
            match rest.iter().position(|&c| c == b'\n') {
                Some(nl) => {
                    if let Err(e) = self.out.line(stream, held, &rest[..nl], true) {
                        break Err(e);
                    }
                    rest = &rest[nl + 1..];
                }
                None => break self.out.line(stream, held, rest, false),
            }
        };
        let flushed = self.out.flush();
        result.and(flushed)
    }

    /// Writes every held unfinished line as a `P` entry (a reader shows it as it is, and
    /// joins it with the entries that follow on its stream).
    ///
    /// # Errors
    ///
    /// [`LogError::Io`] if writing or rotating fails.
    pub fn flush_partial(&mut self) -> Result<(), LogError> {
        self.out.ts = format_ts(SystemTime::now());
        let mut result = Ok(());
        for stream in [Stream::Stdout, Stream::Stderr] {
            let held = &mut self.partial[stream.index()];
            if !held.is_empty() {
                result = result.and(self.out.entry(stream, b'P', held, &[]));
                held.clear();
            }
        }
        let flushed = self.out.flush();
        result.and(flushed)
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        // Best effort: the caller that cares calls flush_partial and sees its errors.
        let _ = self.flush_partial();
    }
}

/// How many bytes of `data` to put after `room` bytes… so that the piece does not end
/// inside a UTF-8 sequence: `room`, less up to 3 continuation bytes.
fn cut(data: &[u8], room: usize) -> usize {
    let mut take = room.min(data.len());
    let floor = take.saturating_sub(3);
    while take > floor && take < data.len() && data[take] & 0xC0 == 0x80 {
        take -= 1;
    }
    if take == floor && take < data.len() && data[take] & 0xC0 == 0x80 {
        // Not UTF-8 anyway: cut where the buffer is full.
        take = room.min(data.len());
    }
    take
}

impl Out {
    /// `data` (no newline in it), the end of a line if `complete`, after what `held` keeps
    /// of the line's start.
    fn line(
        &mut self,
        stream: Stream,
        held: &mut Vec<u8>,
        mut data: &[u8],
        complete: bool,
    ) -> Result<(), LogError> {
        while held.len() + data.len() > LINE_BUFFER {
            let take = cut(data, LINE_BUFFER - held.len());
            self.entry(stream, b'P', held, &data[..take])?;
            held.clear();
            data = &data[take..];
        }
        if complete {
            self.entry(stream, b'F', held, data)?;
            held.clear();
        } else {
            held.extend_from_slice(data);
        }
        Ok(())
    }

    /// Adds an entry whose content is `a` then `b`, rotating first if it would not fit.
    fn entry(&mut self, stream: Stream, tag: u8, a: &[u8], b: &[u8]) -> Result<(), LogError> {
        let len = (OVERHEAD + a.len() + b.len()) as u64;
        let pending = self.size + self.buf.len() as u64;
        if let Some(max) = self.limits.max_size
            && pending > 0
            && pending + len > max
        {
            self.flush()?;
            self.rotate()?;
        }
        self.buf.extend_from_slice(&self.ts);
        self.buf.push(b' ');
        self.buf.extend_from_slice(stream.as_str().as_bytes());
        self.buf.extend_from_slice(&[b' ', tag, b' ']);
        self.buf.extend_from_slice(a);
        self.buf.extend_from_slice(b);
        self.buf.push(b'\n');
        Ok(())
    }

    /// Writes the gathered entries (dropping them if that fails).
    fn flush(&mut self) -> Result<(), LogError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let result = self.file.write_all(&self.buf);
        let len = self.buf.len() as u64;
        self.buf.clear();
        result.map_err(io_err("write", &self.path))?;
        self.size += len;
        Ok(())
    }

    /// `NAME.(n-2)` → `NAME.(n-1)` … `NAME` → `NAME.1`, a new `NAME` (the oldest is dropped).
    fn rotate(&mut self) -> Result<(), LogError> {
        let n = self.limits.max_files;
        if n <= 1 {
            self.file
                .set_len(0)
                .map_err(io_err("truncate", &self.path))?;
            self.size = 0;
            return Ok(());
        }
        let oldest = rotated(&self.path, n - 1);
        match std::fs::remove_file(&oldest) {
            Err(e) if e.kind() != ErrorKind::NotFound => return Err(io_err("remove", &oldest)(e)),
            _ => {}
        }
        for i in (1..n - 1).rev() {
            let from = rotated(&self.path, i);
            match std::fs::rename(&from, rotated(&self.path, i + 1)) {
                Err(e) if e.kind() != ErrorKind::NotFound => {
                    return Err(io_err("rename", &from)(e));
                }
                _ => {}
            }
        }
        std::fs::rename(&self.path, rotated(&self.path, 1))
            .map_err(io_err("rename", &self.path))?;
        self.file = open_append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}
