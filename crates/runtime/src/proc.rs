//! Facts about processes read from /proc, used to tell a live container init from a dead one
//! or from an unrelated process that reused its pid.

use std::time::{Duration, Instant};

/// What /proc says about a pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// The one-letter state (R, S, D, Z, T, …).
    pub(crate) state: char,
    /// Start time in clock ticks after boot: with the pid, it identifies a process.
    pub(crate) start_time: u64,
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) may hold spaces and parentheses,
/// so fields are counted from the last `)`.
pub(crate) fn parse_stat(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // After the state (field 3), start time is field 22: 18 more fields on.
    let start_time = fields.nth(18)?.parse().ok()?;
    Some(ProcStat { state, start_time })
}

/// Reads `/proc/<pid>/stat`; `None` if the process does not exist.
pub(crate) fn stat(pid: i32) -> Option<ProcStat> {
    use std::io::Read;
    // Size 0 to stat(2): one big read rather than read_to_string's growing ones.
    let mut text = String::with_capacity(1024);
    std::fs::File::open(format!("/proc/{pid}/stat"))
        .and_then(|mut f| f.read_to_string(&mut text))
        .ok()
        .and_then(|_| parse_stat(&text))
}

/// A process's start time in clock ticks after boot (`/proc/<pid>/stat` field 22): with the
/// pid, it names one process, so a caller can tell it from a later one that reused the pid.
/// `None` if there is no such process.
pub fn start_time(pid: i32) -> Option<u64> {
    stat(pid).map(|s| s.start_time)
}

/// Whether `pid` is still the process that started at `start_time` and has not exited.
pub(crate) fn is_alive(pid: i32, start_time: u64) -> bool {
    stat(pid).is_some_and(|s| s.start_time == start_time && !matches!(s.state, 'Z' | 'X'))
}

/// Waits until [`is_alive`] turns false, up to `timeout`; returns whether it did.
pub(crate) fn wait_dead(pid: i32, start_time: u64, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(200);
    while is_alive(pid, start_time) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_awkward_names_parse() {
        let line =
            "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100";
        assert_eq!(
            parse_stat(line),
            Some(ProcStat {
                state: 'S',
                start_time: 987_654
            })
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_is_alive_and_a_wrong_start_time_is_not() {
        let me = std::process::id() as i32;
        let s = stat(me).unwrap();
        assert!(is_alive(me, s.start_time));
        assert!(!is_alive(me, s.start_time + 1));
        assert!(!is_alive(i32::MAX, 0));
    }
}
