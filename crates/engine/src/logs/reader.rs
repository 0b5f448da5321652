//! Reading a log: every rotated file oldest first, `P` entries joined with what follows on
//! their stream, filtered by time, the last lines only for `tail`, and following new entries.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{ErrorKind, Read as _, Seek as _, SeekFrom};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::time::parse_rfc3339;
use super::{LogError, Stream, rotated};

/// What to print of a log (docker's `logs` flags).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Only the last this many lines (`--tail`); `None` for all.
    pub tail: Option<usize>,
    /// Only lines written at or after this time (`--since`).
    pub since: Option<SystemTime>,
    /// Only lines written before this time (`--until`).
    pub until: Option<SystemTime>,
    /// Put each line's timestamp (RFC 3339, as written) and a space before it.
    pub timestamps: bool,
}

/// The longest entry a reader accepts; a longer run of bytes without a newline is not ours
/// (we write at most [`super::LINE_BUFFER`] + 41) and is skipped.
pub(super) const MAX_ENTRY: usize = 1 << 20;

/// The wait between looks at the log while following, at most.
const POLL: Duration = Duration::from_millis(50);

/// An entry: `TIMESTAMP STREAM TAG CONTENT`.
#[derive(Debug)]
pub(super) struct Entry<'a> {
    pub(super) ts: &'a [u8],
    pub(super) stream: Stream,
    pub(super) partial: bool,
    pub(super) content: &'a [u8],
}

/// Parses one entry (without its newline); `None` if it is not one.
pub(super) fn parse_entry(line: &[u8]) -> Option<Entry<'_>> {
    let mut parts = line.splitn(4, |&c| c == b' ');
    let ts = parts.next()?;
    let stream = match parts.next()? {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return None,
    };
    // The tag may one day be a `:`-separated list; its first item is P or F.
    let partial = match parts.next()?.split(|&c| c == b':').next()? {
        b"P" => true,
        b"F" => false,
        _ => return None,
    };
    Some(Entry {
        ts,
        stream,
        partial,
        content: parts.next().unwrap_or_default(),
    })
}

/// The log's files, oldest first: `NAME.k` … `NAME.1`, `NAME` (those that exist).
pub(super) fn chain(path: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = (1..)
        .map(|i| rotated(path, i))
        .take_while(|p| p.exists())
        .collect();
    files.reverse();
    if path.exists() {
        files.push(path.to_path_buf());
    }
    files
}

/// Joins entries into lines and hands them on (or keeps the last ones, for `tail`).
struct Lines<'a, S> {
    opts: &'a ReadOptions,
    sink: S,
    /// Per stream: the timestamp of a held line's first piece, and its content so far.
    held: [Option<(Vec<u8>, Vec<u8>)>; 2],
    /// While reading for `tail`: the last lines, at most `tail` of them.
    ring: Option<VecDeque<(Stream, Vec<u8>)>>,
    line: Vec<u8>,
}

impl<S: FnMut(Stream, &[u8])> Lines<'_, S> {
    fn entry(&mut self, e: &Entry<'_>) {
        let i = e.stream.index();
        match (&mut self.held[i], e.partial) {
            (Some((_, content)), true) => content.extend_from_slice(e.content),
            (slot @ None, true) => *slot = Some((e.ts.to_vec(), e.content.to_vec())),
            (held, false) => match held.take() {
                Some((ts, mut content)) => {
                    content.extend_from_slice(e.content);
                    self.emit(e.stream, &ts, &content, true);
                }
                None => self.emit(e.stream, e.ts, e.content, true),
            },
        }
    }

    /// Hands on the lines still held (their end never came).
    fn finish(&mut self) {
        for stream in [Stream::Stdout, Stream::Stderr] {
            if let Some((ts, content)) = self.held[stream.index()].take() {
                self.emit(stream, &ts, &content, false);
            }
        }
    }

    fn emit(&mut self, stream: Stream, ts: &[u8], content: &[u8], newline: bool) {
        if self.opts.since.is_some() || self.opts.until.is_some() {
            let Some(t) = std::str::from_utf8(ts).ok().and_then(parse_rfc3339) else {
                return;
            };
            if self.opts.since.is_some_and(|s| t < s) || self.opts.until.is_some_and(|u| t >= u) {
                return;
            }
        }
        self.line.clear();
        if self.opts.timestamps {
            self.line.extend_from_slice(ts);
            self.line.push(b' ');
        }
        self.line.extend_from_slice(content);
        if newline {
            self.line.push(b'\n');
        }
        match &mut self.ring {
            Some(ring) => {
                if ring.len() >= self.opts.tail.unwrap_or(usize::MAX) {
                    ring.pop_front();
                }
                if self.opts.tail != Some(0) {
                    ring.push_back((stream, self.line.clone()));
                }
            }
            None => (self.sink)(stream, &self.line),
        }
    }

    /// Ends the `tail` phase: the kept lines go out, later ones go straight through.
    fn release(&mut self) {
        if let Some(ring) = self.ring.take() {
            for (stream, line) in ring {
                (self.sink)(stream, &line);
            }
        }
    }
}

/// A file being read from `pos` on, with the bytes of an entry not yet complete.
pub(super) struct Cursor {
    pub(super) path: PathBuf,
    pub(super) file: File,
    id: (u64, u64),
    pos: u64,
    rest: Vec<u8>,
    block: Vec<u8>,
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> LogError {
    let path = path.to_path_buf();
    move |source| LogError::Io { op, path, source }
}

impl Cursor {
    /// Opens `path` at `pos`; `None` if it does not exist.
    pub(super) fn open(path: &Path, pos: u64) -> Result<Option<Cursor>, LogError> {
        let file = match File::open(path) {
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            r => r.map_err(io_err("open", path))?,
        };
        let meta = file.metadata().map_err(io_err("stat", path))?;
        Ok(Some(Cursor {
            path: path.to_path_buf(),
            file,
            id: (meta.dev(), meta.ino()),
            pos,
            rest: Vec::new(),
            block: vec![0; 64 << 10],
        }))
    }

    /// Reads to the end of the file, handing every complete entry to `lines`; true if
    /// anything was read.
    fn drain<S: FnMut(Stream, &[u8])>(
        &mut self,
        lines: &mut Lines<'_, S>,
    ) -> Result<bool, LogError> {
        let len = self
            .file
            .metadata()
            .map_err(io_err("stat", &self.path))?
            .len();
        if len < self.pos {
            // Emptied by a writer with max_files 1: start again.
            self.pos = 0;
            self.rest.clear();
        }
        self.file
            .seek(SeekFrom::Start(self.pos))
            .map_err(io_err("seek", &self.path))?;
        let mut any = false;
        loop {
            let n = match self.file.read(&mut self.block) {
                Ok(0) => return Ok(any),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err("read", &self.path)(e)),
            };
            any = true;
            self.pos += n as u64;
            let mut data = &self.block[..n];
            while let Some(nl) = data.iter().position(|&c| c == b'\n') {
                let line = if self.rest.is_empty() {
                    &data[..nl]
                } else {
                    self.rest.extend_from_slice(&data[..nl]);
                    &self.rest[..]
                };
                if line.len() <= MAX_ENTRY
                    && let Some(e) = parse_entry(line)
                {
                    lines.entry(&e);
                }
                self.rest.clear();
                data = &data[nl + 1..];
            }
            if self.rest.len() + data.len() > MAX_ENTRY {
                self.rest.clear();
                self.rest.resize(MAX_ENTRY + 1, 0);
            } else {
                self.rest.extend_from_slice(data);
            }
        }
    }
}

/// The log's files, opened at once (so that a rotation while reading moves nothing under
/// us), from where reading starts (`tail`), and the joiner of their entries.
fn begin<'a, S>(
    path: &Path,
    opts: &'a ReadOptions,
    sink: S,
) -> Result<(Vec<Cursor>, Lines<'a, S>), LogError> {
    let mut files = Vec::new();
    for p in chain(path) {
        // A file rotated away since the listing is gone or opened under its new name.
        if let Some(c) = Cursor::open(&p, 0)? {
            files.push(c);
        }
    }
    if let Some(n) = opts.tail {
        let (first, offset) = super::tail::start(&files, n)?;
        files.drain(..first);
        if let Some(c) = files.first_mut() {
            c.pos = offset;
        }
    }
    let lines = Lines {
        opts,
        sink,
        held: [None, None],
        ring: opts.tail.map(|n| VecDeque::with_capacity(n.min(4096))),
        line: Vec::new(),
    };
    Ok((files, lines))
}

/// Prints the log at `path` (its rotated files first) to `sink`, one call per line (with
/// its `\n`; a last line whose end never came has none), `P` pieces joined.
///
/// `tail` reads the files backwards from the end, so that `--tail 5` of a large log reads
/// little; `since`/`until` compare each line's first timestamp. Malformed entries are
/// skipped, as kubelet does. A log that does not exist yet prints nothing.
///
/// # Errors
///
/// [`LogError::Io`] if a file cannot be read.
pub fn read<S: FnMut(Stream, &[u8])>(
    path: &Path,
    opts: &ReadOptions,
    sink: &mut S,
) -> Result<(), LogError> {
    let (files, mut lines) = begin(path, opts, sink)?;
    for mut c in files {
        c.drain(&mut lines)?;
    }
    lines.finish();
    lines.release();
    Ok(())
}

/// The file written after `cur`'s, once the writer has rotated: `None` while `path` is
/// still `cur`'s file (or not created yet).
fn next_file(path: &Path, cur: &Cursor) -> Result<Option<Cursor>, LogError> {
    let id = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    match id(path) {
        None => return Ok(None),
        Some(i) if i == cur.id => return Ok(None),
        Some(_) => {}
    }
    // Rotated at least once: `cur` is now NAME.k (read NAME.(k-1) next), or gone (read the
    // oldest file there is).
    let files = chain(path);
    let at = files.iter().position(|p| id(p) == Some(cur.id));
    let next = match at {
        Some(k) => files.get(k + 1),
        None => files.first(),
    };
    let Some(next) = next else { return Ok(None) };
    let expected = id(next);
    match Cursor::open(next, 0)? {
        // Renamed again between the look and the open: look again next time.
        Some(c) if Some(c.id) == expected => Ok(Some(c)),
        _ => Ok(None),
    }
}

/// Wakes the follower when a followed log's directory changes, or after `POLL` at most.
struct Waiter(Option<nix::sys::inotify::Inotify>);

impl Waiter {
    fn new<'p>(paths: impl IntoIterator<Item = &'p Path>) -> Waiter {
        use nix::sys::inotify::{AddWatchFlags as W, InitFlags, Inotify};
        let watch = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK).and_then(|i| {
            let mask = W::IN_MODIFY | W::IN_CREATE | W::IN_MOVED_TO | W::IN_CLOSE_WRITE;
            for path in paths {
                let dir = match path.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d,
                    _ => Path::new("."),
                };
                // The same directory twice is one watch.
                i.add_watch(dir, mask)?;
            }
            Ok(i)
        });
        // Without inotify (out of watches) the follower still looks every POLL.
        Waiter(watch.ok())
    }

    fn wait(&self) {
        use nix::poll::{PollFd, PollFlags, poll};
        use std::os::fd::AsFd as _;
        let Some(inotify) = &self.0 else {
            std::thread::sleep(POLL);
            return;
        };
        let mut fds = [PollFd::new(inotify.as_fd(), PollFlags::POLLIN)];
        if let Ok(n) = poll(&mut fds, POLL.as_millis() as u16)
            && n > 0
        {
            // Only the wake-up matters; a failed read (EAGAIN) leaves nothing to drain.
            let _ = inotify.read_events();
        }
    }
}

/// One log being followed: the file being read and the joiner of its entries.
struct Tracker<'a, S> {
    path: &'a Path,
    cur: Option<Cursor>,
    lines: Lines<'a, S>,
    /// The writer was seen gone: one more read, then done.
    stopping: bool,
    done: bool,
}

impl<'a, S: FnMut(Stream, &[u8])> Tracker<'a, S> {
    /// Reads what the log holds (from where `tail` says), keeping its last file open.
    fn start(path: &'a Path, opts: &'a ReadOptions, sink: S) -> Result<Self, LogError> {
        let (files, mut lines) = begin(path, opts, sink)?;
        let mut cur: Option<Cursor> = None;
        for mut c in files {
            c.drain(&mut lines)?;
            cur = Some(c);
        }
        lines.release();
        Ok(Tracker {
            path,
            cur,
            lines,
            stopping: false,
            done: false,
        })
    }

    /// Reads what was written since the last step, across rotations; asks `still_running`
    /// (unless `until` has come) and, once the writer is gone, reads a last time and is
    /// done. True when it read something or must look again at once (no wait before the
    /// next step).
    fn step(&mut self, still_running: impl FnOnce() -> bool) -> Result<bool, LogError> {
        let mut progressed = false;
        // Catch up: the current file to its end, then each file the writer rotated to.
        loop {
            let Some(c) = &mut self.cur else {
                self.cur = Cursor::open(self.path, 0)?;
                if self.cur.is_none() {
                    break;
                }
                continue;
            };
            // Looked for before draining: once the writer has moved on, `c` is complete.
            let next = next_file(self.path, c)?;
            progressed |= c.drain(&mut self.lines)?;
            match next {
                Some(n) => self.cur = Some(n),
                None => break,
            }
        }
        if self.stopping {
            self.lines.finish();
            self.done = true;
            return Ok(true);
        }
        // With `until`, docker stops following once that time has come.
        let until = self.lines.opts.until;
        if until.is_some_and(|u| SystemTime::now() >= u) || !still_running() {
            self.stopping = true;
            return Ok(true);
        }
        Ok(progressed)
    }
}

/// [`read`], then follows the log as `logs -f` does: new lines as they are written, across
/// rotations (the old file is read to its end, then the next one from its start: nothing
/// lost or repeated), until `still_running()` says the writer is gone (or `until` has
/// come); the files are then read to their end once more and a held unfinished line is
/// printed before returning.
///
/// Waits by inotify on the log's directory, looking at most `POLL` (50 ms) apart; never
/// spins.
///
/// # Errors
///
/// [`LogError::Io`] if a file cannot be read.
pub fn follow<S: FnMut(Stream, &[u8])>(
    path: &Path,
    opts: &ReadOptions,
    mut still_running: impl FnMut() -> bool,
    sink: &mut S,
) -> Result<(), LogError> {
    let waiter = Waiter::new([path]);
    let mut log = Tracker::start(path, opts, sink)?;
    while !log.done {
        if !log.step(&mut still_running)? {
            waiter.wait();
        }
    }
    Ok(())
}

/// [`follow`] of several logs at once (a pod's members' for `pod logs -f`): first what each
/// log holds, log after log in the order given (`tail` and `since` apply to each), then
/// every new line as it is written, whichever log it is in, until every writer is gone
/// (`still_running(i)` false for log `i`, each log then read to its end). `sink` gets the
/// log's index in `paths` with each line.
///
/// One thread and one inotify instance watching every log's directory, looking at most
/// `POLL` (50 ms) apart.
///
/// # Errors
///
/// [`LogError::Io`] if a file cannot be read.
pub fn follow_many<S: FnMut(usize, Stream, &[u8])>(
    paths: &[PathBuf],
    opts: &ReadOptions,
    mut still_running: impl FnMut(usize) -> bool,
    sink: &mut S,
) -> Result<(), LogError> {
    let waiter = Waiter::new(paths.iter().map(PathBuf::as_path));
    // Each log's joiner hands its lines on with its index; one log is read at a time, so
    // the borrow is never contended.
    let shared = std::cell::RefCell::new(sink);
    let shared = &shared;
    let mut logs = Vec::with_capacity(paths.len());
    for (i, path) in paths.iter().enumerate() {
        let sink = move |stream: Stream, line: &[u8]| {
            let mut sink = shared.borrow_mut();
            (*sink)(i, stream, line);
        };
        logs.push(Tracker::start(path, opts, sink)?);
    }
    while logs.iter().any(|log| !log.done) {
        let mut progressed = false;
        for (i, log) in logs.iter_mut().enumerate().filter(|(_, log)| !log.done) {
            progressed |= log.step(|| still_running(i))?;
        }
        if !progressed {
            waiter.wait();
        }
    }
    Ok(())
}
