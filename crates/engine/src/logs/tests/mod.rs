//! Writer tests: entries, partial lines, exact round trips under any split, rotation.

mod read;

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::*;

/// Every line `read` prints, with its stream.
pub(super) fn read_all(path: &Path, opts: &ReadOptions) -> Vec<(Stream, Vec<u8>)> {
    let mut out = Vec::new();
    read(path, opts, &mut |s, l: &[u8]| out.push((s, l.to_vec()))).unwrap();
    out
}

/// The bytes of one stream, concatenated.
pub(super) fn stream_bytes(lines: &[(Stream, Vec<u8>)], stream: Stream) -> Vec<u8> {
    lines
        .iter()
        .filter(|(s, _)| *s == stream)
        .flat_map(|(_, l)| l.iter().copied())
        .collect()
}

/// A small deterministic generator (xorshift), so that failures replay.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Limits of `max_size` bytes × `max_files`.
pub(super) fn limits(max_size: u64, max_files: u32) -> LogLimits {
    LogLimits {
        max_size: Some(max_size),
        max_files,
    }
}

fn unlimited() -> LogLimits {
    LogLimits {
        max_size: None,
        max_files: 1,
    }
}

/// The raw entries of a file: (stream, tag, content).
fn entries(path: &Path) -> Vec<(String, String, Vec<u8>)> {
    let data = std::fs::read(path).unwrap();
    assert!(data.is_empty() || data.ends_with(b"\n"), "torn last entry");
    data.split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let e = reader::parse_entry(l).unwrap_or_else(|| panic!("bad entry {l:?}"));
            let ts = std::str::from_utf8(e.ts).unwrap();
            assert_eq!(ts.len(), 30, "{ts}");
            assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T', "{ts}");
            let tag = if e.partial { "P" } else { "F" };
            (
                e.stream.as_str().to_owned(),
                tag.to_owned(),
                e.content.to_vec(),
            )
        })
        .collect()
}

#[test]
fn writes_cri_entries_with_current_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let before = SystemTime::now();
    let mut w = LogWriter::open(&path, LogLimits::default()).unwrap();
    w.write(Stream::Stdout, b"hello\nworld\n").unwrap();
    w.write(Stream::Stderr, b"oops\n").unwrap();
    drop(w);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].ends_with(" stdout F hello"), "{text}");
    assert!(lines[1].ends_with(" stdout F world"), "{text}");
    assert!(lines[2].ends_with(" stderr F oops"), "{text}");
    let ts = time::parse_rfc3339(&lines[0][..30]).unwrap();
    assert!(
        ts >= before - Duration::from_secs(1) && ts <= SystemTime::now(),
        "{text}"
    );
    let meta = std::fs::metadata(&path).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);
}

#[test]
fn a_line_split_across_chunks_is_one_full_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let mut w = LogWriter::open(&path, unlimited()).unwrap();
    w.write(Stream::Stdout, b"hel").unwrap();
    w.write(Stream::Stderr, b"e").unwrap();
    w.write(Stream::Stdout, b"lo wor").unwrap();
    w.write(Stream::Stderr, b"rr\n").unwrap();
    w.write(Stream::Stdout, b"ld\n").unwrap();
    drop(w);
    let e = entries(&path);
    assert_eq!(
        e,
        vec![
            ("stderr".into(), "F".into(), b"err".to_vec()),
            ("stdout".into(), "F".into(), b"hello world".to_vec()),
        ]
    );
}

#[test]
fn flushed_partial_lines_are_p_entries_joined_on_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let mut w = LogWriter::open(&path, unlimited()).unwrap();
    w.write(Stream::Stdout, b"Password: ").unwrap();
    w.flush_partial().unwrap();
    w.write(Stream::Stdout, b"ok\nno newline").unwrap();
    w.flush_partial().unwrap();
    w.flush_partial().unwrap(); // nothing held: nothing written
    drop(w);
    let e = entries(&path);
    let tags: Vec<&str> = e.iter().map(|(_, t, _)| t.as_str()).collect();
    assert_eq!(tags, ["P", "F", "P"]);
    let lines = read_all(&path, &ReadOptions::default());
    assert_eq!(
        lines,
        vec![
            (Stream::Stdout, b"Password: ok\n".to_vec()),
            (Stream::Stdout, b"no newline".to_vec()),
        ]
    );
}

#[test]
fn long_lines_are_cut_at_the_line_buffer_between_utf8_characters() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let mut line = String::from("x");
    while line.len() < 3 * LINE_BUFFER {
        line.push('é');
    }
    line.push('\n');
    let mut w = LogWriter::open(&path, unlimited()).unwrap();
    w.write(Stream::Stdout, line.as_bytes()).unwrap();
    drop(w);
    let e = entries(&path);
    assert_eq!(e.len(), 4);
    for (i, (_, tag, content)) in e.iter().enumerate() {
        assert_eq!(tag, if i == 3 { "F" } else { "P" });
        assert!(content.len() <= LINE_BUFFER);
        assert!(
            std::str::from_utf8(content).is_ok(),
            "entry {i} cut inside a character"
        );
    }
    // "x" then 2-byte characters: byte 16384 is inside one, so the first piece stops before.
    assert_eq!(e[0].2.len(), LINE_BUFFER - 1);
    let lines = read_all(&path, &ReadOptions::default());
    assert_eq!(lines, vec![(Stream::Stdout, line.into_bytes())]);
}

/// Output of both streams with long lines, empty lines, CR/LF, non-UTF-8 bytes and an
/// unfinished last line.
fn sample(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut data = Vec::new();
    while data.len() < len {
        match rng.below(8) {
            0 => data.extend(std::iter::repeat_n(
                b'L',
                LINE_BUFFER + rng.below(LINE_BUFFER),
            )),
            1 => data.push(b'\n'),
            2 => data.extend_from_slice(b"dos line\r\n"),
            3 => data.extend((0..rng.below(64)).map(|_| rng.next() as u8)),
            4 => data.extend_from_slice("ünïcödé ✓\n".as_bytes()),
            _ => data.extend_from_slice(format!("line {}\n", rng.next()).as_bytes()),
        }
    }
    data.extend_from_slice(b"unfinished");
    data
}

#[test]
fn any_chunk_split_round_trips_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..60 {
        let out = sample(&mut rng, 40_000);
        let err = sample(&mut rng, 3_000);
        let path = dir.path().join(format!("round{round}.log"));
        let mut w = LogWriter::open(&path, unlimited()).unwrap();
        let (mut o, mut e) = (&out[..], &err[..]);
        while !o.is_empty() || !e.is_empty() {
            // Chunks of 1 byte up to 20 KiB, the streams interleaved at random.
            let max = [1, 7, 4096, 20_000][rng.below(4)];
            let (stream, data) = if rng.below(2) == 0 {
                (Stream::Stdout, &mut o)
            } else {
                (Stream::Stderr, &mut e)
            };
            let n = (1 + rng.below(max)).min(data.len());
            w.write(stream, &data[..n]).unwrap();
            *data = &data[n..];
            if rng.below(10) == 0 {
                w.flush_partial().unwrap();
            }
        }
        w.flush_partial().unwrap();
        drop(w);
        let lines = read_all(&path, &ReadOptions::default());
        assert!(
            stream_bytes(&lines, Stream::Stdout) == out,
            "round {round}: stdout differs"
        );
        assert!(
            stream_bytes(&lines, Stream::Stderr) == err,
            "round {round}: stderr differs"
        );
        for (_, content) in entries(&path).iter().map(|(s, _, c)| (s, c)) {
            assert!(content.len() <= LINE_BUFFER && !content.contains(&b'\n'));
        }
    }
}

fn numbered(i: usize) -> String {
    format!("line {i:06} of the log\n")
}

/// The numbers of the lines read, checking that they follow each other.
fn numbers(lines: &[(Stream, Vec<u8>)]) -> Vec<usize> {
    let nums: Vec<usize> = lines
        .iter()
        .map(|(_, l)| {
            let l = std::str::from_utf8(l).unwrap();
            l["line ".len().."line ".len() + 6].parse().unwrap()
        })
        .collect();
    for w in nums.windows(2) {
        assert_eq!(w[1], w[0] + 1, "a line lost or repeated");
    }
    nums
}

#[test]
fn rotation_caps_the_total_and_keeps_the_last_files_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let limits = limits(4096, 3);
    let mut w = LogWriter::open(&path, limits).unwrap();
    let mut rng = Rng(42);
    let total = 3000;
    let text: String = (0..total).map(numbered).collect();
    let mut rest = text.as_bytes();
    while !rest.is_empty() {
        let n = (1 + rng.below(300)).min(rest.len());
        w.write(Stream::Stdout, &rest[..n]).unwrap();
        rest = &rest[n..];
        let sizes: u64 = (0..3)
            .map(|i| std::fs::metadata(rotated(&path, i)).map_or(0, |m| m.len()))
            .sum();
        assert!(sizes <= 3 * 4096, "{sizes} bytes in the log");
    }
    drop(w);
    for i in 0..3 {
        let len = std::fs::metadata(rotated(&path, i)).unwrap().len();
        assert!(len <= 4096, "file {i}: {len} bytes");
        entries(&rotated(&path, i)); // whole entries only
    }
    assert!(!rotated(&path, 3).exists());
    let nums = numbers(&read_all(&path, &ReadOptions::default()));
    assert_eq!(*nums.last().unwrap(), total - 1);
    // `remove` deletes every file of the log, and only those.
    std::fs::write(dir.path().join("ctr.log.json"), "{}").unwrap();
    remove(&path).unwrap();
    remove(&path).unwrap();
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["ctr.log.json"]);
    // The two rotated files are full: each holds more than 4096 - one entry bytes.
    let entry = 30 + 10 + numbered(0).len();
    assert!(
        nums.len() >= 2 * (4096 - entry) / entry,
        "only {} lines kept",
        nums.len()
    );
}

#[test]
fn one_file_is_emptied_when_full() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let limits = limits(1000, 1);
    let mut w = LogWriter::open(&path, limits).unwrap();
    for i in 0..100 {
        w.write(Stream::Stdout, numbered(i).as_bytes()).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() <= 1000);
    }
    drop(w);
    assert!(!rotated(&path, 1).exists());
    let nums = numbers(&read_all(&path, &ReadOptions::default()));
    assert_eq!(*nums.last().unwrap(), 99);
}

#[test]
fn reopening_appends_and_respects_the_size_already_there() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let limits = limits(150, 2);
    let mut w = LogWriter::open(&path, limits).unwrap();
    w.write(Stream::Stdout, numbered(0).as_bytes()).unwrap();
    w.write(Stream::Stdout, numbered(1).as_bytes()).unwrap();
    drop(w);
    let mut w = LogWriter::open(&path, limits).unwrap();
    w.write(Stream::Stdout, numbered(2).as_bytes()).unwrap();
    drop(w);
    // Two entries of 63 bytes, then a third would pass 150: the reopened writer rotated.
    assert!(std::fs::metadata(&path).unwrap().len() <= 150);
    assert!(rotated(&path, 1).exists());
    assert_eq!(
        numbers(&read_all(&path, &ReadOptions::default())),
        [0, 1, 2]
    );
}

#[test]
fn bad_limits_and_unopenable_paths_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let zero = LogLimits {
        max_size: Some(0),
        max_files: 3,
    };
    let e = LogWriter::open(&path, zero).unwrap_err();
    assert!(e.to_string().contains("max_size"), "{e}");
    let none = LogLimits {
        max_size: None,
        max_files: 0,
    };
    let e = LogWriter::open(&path, none).unwrap_err();
    assert!(e.to_string().contains("max_files"), "{e}");
    assert!(!path.exists(), "a refused log was created");
    let missing = dir.path().join("no/such/dir/ctr.log");
    let e = LogWriter::open(&missing, LogLimits::default()).unwrap_err();
    assert!(e.to_string().contains("no/such/dir/ctr.log"), "{e}");
}
