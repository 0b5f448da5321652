//! Reader tests: tail, since/until, timestamps, following across rotations, times.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::super::*;
use super::{Rng, limits, numbered, numbers, read_all};

fn tail(n: usize) -> ReadOptions {
    ReadOptions {
        tail: Some(n),
        ..Default::default()
    }
}

fn texts(lines: &[(Stream, Vec<u8>)]) -> Vec<String> {
    lines
        .iter()
        .map(|(s, l)| format!("{}:{}", s.as_str(), String::from_utf8_lossy(l)))
        .collect()
}

fn write_lines(path: &Path, limits: LogLimits, range: std::ops::Range<usize>) {
    let mut w = LogWriter::open(path, limits).unwrap();
    for i in range {
        w.write(Stream::Stdout, numbered(i).as_bytes()).unwrap();
    }
}

#[test]
fn tail_counts_lines_across_rotated_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let limits = limits(2000, 4);
    write_lines(&path, limits, 0..200);
    let all = numbers(&read_all(&path, &ReadOptions::default()));
    assert!(rotated(&path, 3).exists());
    assert_eq!(
        numbers(&read_all(&path, &tail(5))),
        [195, 196, 197, 198, 199]
    );
    assert!(read_all(&path, &tail(0)).is_empty());
    // More lines than the newest file holds: the tail reaches into the rotated ones.
    let n = all.len() - 3;
    assert_eq!(numbers(&read_all(&path, &tail(n))), all[3..]);
    assert_eq!(numbers(&read_all(&path, &tail(100_000))), all);
    assert!(read_all(&dir.path().join("none.log"), &tail(3)).is_empty());
}

#[test]
fn tail_counts_joined_and_unfinished_lines_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let mut w = LogWriter::open(&path, LogLimits::default()).unwrap();
    w.write(Stream::Stdout, b"zero\n").unwrap();
    w.write(Stream::Stdout, b"ab").unwrap();
    w.flush_partial().unwrap();
    w.write(Stream::Stderr, b"x\n").unwrap();
    w.write(Stream::Stdout, b"cd\n").unwrap();
    w.write(Stream::Stderr, &vec![b'y'; 40_000]).unwrap();
    w.flush_partial().unwrap();
    drop(w);
    let y = format!("stderr:{}", "y".repeat(40_000));
    assert_eq!(texts(&read_all(&path, &tail(1))), [y.as_str()]);
    assert_eq!(texts(&read_all(&path, &tail(2))), ["stdout:abcd\n", &y]);
    assert_eq!(
        texts(&read_all(&path, &tail(3))),
        ["stderr:x\n", "stdout:abcd\n", &y]
    );
    assert_eq!(
        texts(&read_all(&path, &tail(9))),
        ["stdout:zero\n", "stderr:x\n", "stdout:abcd\n", &y]
    );
}

#[test]
fn tail_of_a_large_log_reads_only_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    let limits = limits(10 << 20, 2);
    let mut w = LogWriter::open(&path, limits).unwrap();
    let chunk: String = (0..1000).map(numbered).collect();
    while std::fs::metadata(&path).unwrap().len() < 9 << 20 {
        w.write(Stream::Stdout, chunk.as_bytes()).unwrap();
    }
    drop(w);
    let len = std::fs::metadata(&path).unwrap().len();
    let files = vec![reader::Cursor::open(&path, 0).unwrap().unwrap()];
    let (first, offset) = tail::start(&files, 5).unwrap();
    assert_eq!(first, 0);
    assert!(
        len - offset < 1024,
        "tail 5 starts {} bytes before the end",
        len - offset
    );
    let started = Instant::now();
    assert_eq!(
        numbers(&read_all(&path, &tail(5))),
        [995, 996, 997, 998, 999]
    );
    let tail_time = started.elapsed();
    let started = Instant::now();
    let mut all = 0;
    read(&path, &ReadOptions::default(), &mut |_, _: &[u8]| all += 1).unwrap();
    println!(
        "{} MiB, {all} lines: --tail 5 {tail_time:?}, everything {:?}",
        len >> 20,
        started.elapsed()
    );
}

#[test]
fn since_until_and_timestamps_use_each_lines_first_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    std::fs::write(
        &path,
        "2026-01-01T00:00:01.000000000Z stdout F one\n\
         2026-01-01T00:00:02.000000000Z stdout P tw\n\
         2026-01-01T00:00:03.5+00:00 stdout F o\n\
         not an entry\n\
         2026-01-01T01:00:04Z stderr F three\n\
         2026-01-01T00:00:05.000000000-01:00 stdout F four\n",
    )
    .unwrap();
    let at = |s| time::parse_rfc3339(s).unwrap();
    let opts = ReadOptions {
        since: Some(at("2026-01-01T00:00:02Z")),
        until: Some(at("2026-01-01T01:00:05Z")),
        ..Default::default()
    };
    assert_eq!(
        texts(&read_all(&path, &opts)),
        ["stdout:two\n", "stderr:three\n"]
    );
    let opts = ReadOptions {
        since: Some(at("2026-01-01T00:30:00Z")),
        timestamps: true,
        ..Default::default()
    };
    assert_eq!(
        texts(&read_all(&path, &opts)),
        [
            "stderr:2026-01-01T01:00:04Z three\n",
            "stdout:2026-01-01T00:00:05.000000000-01:00 four\n"
        ]
    );
}

type Printed = Arc<Mutex<Vec<(Stream, Vec<u8>)>>>;
/// Lines printed by [`follow_many`], with their log's index.
type PrintedMany = Arc<Mutex<Vec<(usize, Vec<u8>)>>>;

/// Follows `path` on a thread: the lines printed so far, and a receiver that gets `()`
/// when follow returns.
fn follow_in_thread(
    path: &Path,
    opts: ReadOptions,
    running: Arc<AtomicBool>,
) -> (Printed, std::sync::mpsc::Receiver<()>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let printed = Printed::default();
    let (path, out) = (path.to_path_buf(), printed.clone());
    std::thread::spawn(move || {
        follow(
            &path,
            &opts,
            || running.load(Ordering::SeqCst),
            &mut |s, l: &[u8]| out.lock().unwrap().push((s, l.to_vec())),
        )
        .unwrap();
        let _ = tx.send(());
    });
    (printed, rx)
}

/// Waits (10 s at most) until `printed` holds `n` lines.
fn wait_for_lines<T>(printed: &Mutex<Vec<T>>, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while printed.lock().unwrap().len() < n {
        assert!(
            Instant::now() < deadline,
            "follow printed no {n} lines in 10 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn follow_survives_rotations_without_losing_or_repeating_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    // Eight files, so that a follower slowed down (a loaded machine, an emulated guest)
    // still finds every file it has not read yet.
    let limits = limits(16 << 10, 8);
    write_lines(&path, limits, 0..100);
    let running = Arc::new(AtomicBool::new(true));
    let (printed, done) = follow_in_thread(&path, ReadOptions::default(), running.clone());
    let total = 6000;
    let mut w = LogWriter::open(&path, limits).unwrap();
    for i in 100..total {
        w.write(Stream::Stdout, numbered(i).as_bytes()).unwrap();
        if i % 20 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    w.write(Stream::Stdout, b"the end, unfinished").unwrap();
    drop(w);
    running.store(false, Ordering::SeqCst);
    done.recv_timeout(Duration::from_secs(30))
        .expect("follow did not return");
    let mut lines = printed.lock().unwrap().clone();
    assert!(rotated(&path, 7).exists(), "the test did not rotate");
    let last = lines.pop().unwrap();
    assert_eq!(last, (Stream::Stdout, b"the end, unfinished".to_vec()));
    let nums = numbers(&lines);
    assert_eq!((nums[0], nums.len()), (0, total), "lost or repeated lines");
}

#[test]
fn follow_with_tail_prints_the_tail_then_new_lines_and_returns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctr.log");
    write_lines(&path, LogLimits::default(), 0..50);
    let running = Arc::new(AtomicBool::new(true));
    let (printed, done) = follow_in_thread(&path, tail(2), running.clone());
    wait_for_lines(&printed, 2);
    write_lines(&path, LogLimits::default(), 50..52);
    wait_for_lines(&printed, 4);
    write_lines(&path, LogLimits::default(), 52..53);
    running.store(false, Ordering::SeqCst);
    done.recv_timeout(Duration::from_secs(30))
        .expect("follow did not return");
    assert_eq!(numbers(&printed.lock().unwrap()), [48, 49, 50, 51, 52]);

    // With `until`, following ends when that time comes, the writer still running.
    let opts = ReadOptions {
        until: Some(SystemTime::now() + Duration::from_millis(300)),
        ..tail(1)
    };
    let started = Instant::now();
    let mut lines = Vec::new();
    follow(&path, &opts, || true, &mut |_, l: &[u8]| {
        lines.push(l.to_vec())
    })
    .unwrap();
    assert_eq!(lines, [numbered(52).into_bytes()]);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(10),
        "{took:?}"
    );

    // A log not created yet: follow waits for it; a writer already gone ends it at once.
    let later = dir.path().join("later.log");
    let started = Instant::now();
    let mut n = 0;
    follow(
        &later,
        &ReadOptions::default(),
        || false,
        &mut |_, _: &[u8]| n += 1,
    )
    .unwrap();
    assert_eq!(n, 0);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn follow_many_interleaves_logs_as_written_and_ends_when_every_writer_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    // Two logs in two directories, as a pod's members' are.
    let paths: Vec<PathBuf> = ["a", "b"]
        .iter()
        .map(|d| {
            std::fs::create_dir(dir.path().join(d)).unwrap();
            dir.path().join(d).join("ctr.log")
        })
        .collect();
    write_lines(&paths[0], LogLimits::default(), 0..3);
    write_lines(&paths[1], LogLimits::default(), 10..13);
    let running = [
        Arc::new(AtomicBool::new(true)),
        Arc::new(AtomicBool::new(true)),
    ];
    let printed = PrintedMany::default();
    let (tx, done) = std::sync::mpsc::channel();
    let (out, flags, logs) = (printed.clone(), running.clone(), paths.clone());
    std::thread::spawn(move || {
        follow_many(
            &logs,
            &tail(2),
            |i| flags[i].load(Ordering::SeqCst),
            &mut |i, _, l: &[u8]| out.lock().unwrap().push((i, l.to_vec())),
        )
        .unwrap();
        let _ = tx.send(());
    });
    let wait_for = |n: usize| wait_for_lines(&printed, n);
    // The tail of each, log after log; then lines in the order they are written.
    wait_for(4);
    for (k, (log, line)) in [(1, 20), (0, 21), (1, 22)].into_iter().enumerate() {
        write_lines(&paths[log], LogLimits::default(), line..line + 1);
        wait_for(5 + k);
    }
    // The first writer gone: the second is still followed.
    running[0].store(false, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(200));
    write_lines(&paths[1], LogLimits::default(), 23..24);
    wait_for(8);
    assert!(done.try_recv().is_err(), "ended with a writer running");
    running[1].store(false, Ordering::SeqCst);
    done.recv_timeout(Duration::from_secs(30))
        .expect("follow_many did not return");
    let got: Vec<(usize, usize)> = printed
        .lock()
        .unwrap()
        .iter()
        .map(|(i, l)| (*i, numbers(&[(Stream::Stdout, l.clone())])[0]))
        .collect();
    assert_eq!(
        got,
        [
            (0, 1),
            (0, 2),
            (1, 11),
            (1, 12),
            (1, 20),
            (0, 21),
            (1, 22),
            (1, 23)
        ]
    );
}

#[test]
fn parses_times_as_docker_does() {
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let at = |s: &str| parse_time(s, now).unwrap();
    let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    assert_eq!(secs(at("2026-11-30T22:40:33Z")), 1_796_078_433.0);
    assert_eq!(secs(at("2026-11-30T22:40:33")), 1_796_078_433.0);
    assert_eq!(secs(at("2026-11-30 22:40:33")), 1_796_078_433.0);
    assert_eq!(secs(at("2026-11-30T22:40")), 1_796_078_400.0);
    assert_eq!(secs(at("2026-11-30T23:40+01:00")), 1_796_078_400.0);
    assert_eq!(secs(at("2026-11-30T22:40:33.25Z")), 1_796_078_433.25);
    assert_eq!(secs(at("2026-11-30T23:40:33.25+01:00")), 1_796_078_433.25);
    assert_eq!(secs(at("2026-11-30T21:10:33-01:30")), 1_796_078_433.0);
    assert_eq!(secs(at("2026-11-30")), 1_795_996_800.0);
    assert_eq!(secs(at("1700000000")), 1_700_000_000.0);
    assert_eq!(secs(at("1700000000.5")), 1_700_000_000.5);
    assert_eq!(secs(at("10m")), 1_800_000_000.0 - 600.0);
    assert_eq!(secs(at("1h30m")), 1_800_000_000.0 - 5400.0);
    assert_eq!(secs(at("42s")), 1_800_000_000.0 - 42.0);
    assert_eq!(secs(at("1.5h")), 1_800_000_000.0 - 5400.0);
    for bad in [
        "",
        "yesterday",
        "2026-13-01",
        "2026-11-31",
        "2026-11-30T25:00:00Z",
        "-5m",
        "1.2.3",
        "2026-11-30T22:40:33+25:00",
        "1000000000000000000000",
        "99999999h",
        "10 parsecs",
    ] {
        let e = parse_time(bad, now).unwrap_err();
        assert!(e.to_string().contains(&format!("{bad:?}")), "{bad}: {e}");
    }
}

#[test]
fn tail_is_the_end_of_a_full_read_for_any_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed);
    for round in 0..20 {
        let path = dir.path().join(format!("round{round}.log"));
        let mut w = LogWriter::open(&path, limits(4096 + rng.below(8192) as u64, 3)).unwrap();
        for _ in 0..rng.below(300) {
            let stream = [Stream::Stdout, Stream::Stderr][rng.below(2)];
            let data = match rng.below(6) {
                0 => vec![b'x'; rng.below(3 * LINE_BUFFER)],
                1 => b"\n".to_vec(),
                2 => b"no newline".to_vec(),
                _ => format!("line {}\n", rng.next()).into_bytes(),
            };
            w.write(stream, &data).unwrap();
            if rng.below(4) == 0 {
                w.flush_partial().unwrap();
            }
        }
        drop(w);
        let all = read_all(&path, &ReadOptions::default());
        for n in [
            0,
            1,
            2,
            3,
            5,
            8,
            13,
            40,
            all.len().saturating_sub(1),
            all.len(),
            all.len() + 1,
        ] {
            let got = read_all(&path, &tail(n));
            let want = &all[all.len().saturating_sub(n)..];
            assert!(
                got == want,
                "round {round}, tail {n}: {} lines, not {}",
                got.len(),
                want.len()
            );
        }
    }
}
