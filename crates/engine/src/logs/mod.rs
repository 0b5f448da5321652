//! Placeholder until the log module lands (helper branch h-logs replaces this file): the
//! CRI log format, without rotation.

use std::io::Write;
use std::path::Path;

/// Which stream a chunk came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// stdout.
    Stdout,
    /// stderr.
    Stderr,
}

/// Size limits.
#[derive(Clone, Copy, Debug)]
pub struct LogLimits {
    /// Bytes per file.
    pub max_size: Option<u64>,
    /// Files kept.
    pub max_files: u32,
}

impl Default for LogLimits {
    fn default() -> Self {
        Self {
            max_size: Some(10 << 20),
            max_files: 3,
        }
    }
}

/// Writes the log.
#[derive(Debug)]
pub struct LogWriter {
    file: std::fs::File,
}

impl LogWriter {
    /// Opens for appending.
    ///
    /// # Errors
    /// I/O.
    pub fn open(path: &Path, _limits: LogLimits) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Self { file })
    }

    /// Writes a chunk.
    ///
    /// # Errors
    /// I/O.
    pub fn write(&mut self, stream: Stream, data: &[u8]) -> std::io::Result<()> {
        let tag = match stream {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        };
        let now = crate::time::rfc3339(crate::container::now_ns());
        let mut out = Vec::new();
        for line in data.split_inclusive(|b| *b == b'\n') {
            let (body, flag) = match line.strip_suffix(b"\n") {
                Some(b) => (b, "F"),
                None => (line, "P"),
            };
            out.extend_from_slice(format!("{now} {tag} {flag} ").as_bytes());
            out.extend_from_slice(body);
            out.push(b'\n');
        }
        self.file.write_all(&out)
    }

    /// Nothing buffered here.
    ///
    /// # Errors
    /// Never.
    pub fn flush_partial(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What to read.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// The last N lines.
    pub tail: Option<usize>,
    /// Entries at or after.
    pub since: Option<std::time::SystemTime>,
    /// Entries at or before.
    pub until: Option<std::time::SystemTime>,
    /// Prefix each line with its time.
    pub timestamps: bool,
}

fn entries(path: &Path, opts: &ReadOptions) -> Vec<(Stream, Vec<u8>)> {
    let text = std::fs::read(path).unwrap_or_default();
    let mut out: Vec<(Stream, Vec<u8>)> = Vec::new();
    let mut partial: Option<(Stream, Vec<u8>)> = None;
    for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let mut parts = line.splitn(4, |b| *b == b' ');
        let (Some(ts), Some(stream), Some(flag)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let body = parts.next().unwrap_or_default();
        let when = std::str::from_utf8(ts)
            .ok()
            .and_then(|t| humantime::parse_rfc3339(t).ok());
        if opts.since.is_some_and(|s| when.is_some_and(|w| w < s))
            || opts.until.is_some_and(|u| when.is_some_and(|w| w > u))
        {
            continue;
        }
        let stream = if stream == b"stderr" {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
        let mut data = partial.take().map(|(_, d)| d).unwrap_or_else(|| {
            if opts.timestamps {
                [ts, b" "].concat()
            } else {
                Vec::new()
            }
        });
        data.extend_from_slice(body);
        if flag == b"P" {
            partial = Some((stream, data));
        } else {
            data.push(b'\n');
            out.push((stream, data));
        }
    }
    out.extend(partial);
    if let Some(n) = opts.tail {
        let skip = out.len().saturating_sub(n);
        out.drain(..skip);
    }
    out
}

/// Reads the log (placeholder).
///
/// # Errors
/// Never.
pub fn read(
    path: &Path,
    opts: &ReadOptions,
    sink: &mut impl FnMut(Stream, &[u8]),
) -> std::io::Result<()> {
    for (s, d) in entries(path, opts) {
        sink(s, &d);
    }
    Ok(())
}

/// Follows the log (placeholder).
///
/// # Errors
/// Never.
pub fn follow(
    path: &Path,
    opts: &ReadOptions,
    mut still_running: impl FnMut() -> bool,
    sink: &mut impl FnMut(Stream, &[u8]),
) -> std::io::Result<()> {
    let mut done = 0;
    loop {
        let running = still_running();
        let all = entries(
            path,
            &ReadOptions {
                tail: None,
                ..opts.clone()
            },
        );
        let start = if done == 0 {
            opts.tail.map_or(0, |n| all.len().saturating_sub(n))
        } else {
            done
        };
        for (s, d) in all.iter().skip(start) {
            sink(*s, d);
        }
        done = all.len().max(start);
        if !running {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
