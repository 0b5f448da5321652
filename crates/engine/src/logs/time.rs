//! Times: the entries' timestamps, and `--since`/`--until` values as docker accepts them
//! (docker's `api/types/time.GetTimestamp`).

use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::LogError;

/// Bytes of an entry's timestamp: `2026-11-30T22:40:33.123456789Z`.
pub(super) const TS_LEN: usize = 30;

/// `t` as RFC 3339 UTC with nine fraction digits, the width every entry we write has.
pub(super) fn format_ts(t: SystemTime) -> [u8; TS_LEN] {
    let mut buf = [b'0'; TS_LEN];
    // Times before 1970 or after 9999 do not fit; the clock is never there.
    let t = t.clamp(
        UNIX_EPOCH,
        UNIX_EPOCH + Duration::from_secs(253_402_300_799),
    );
    // A 30-byte buffer always fits the 30 bytes this writes.
    let _ = write!(&mut buf[..], "{}", humantime::format_rfc3339_nanos(t));
    buf
}

/// An RFC 3339 timestamp: `2006-01-02T15:04:05` with an optional fraction and an optional
/// zone (`Z` or `±hh:mm`; none means UTC), `T` or a space between date and time, seconds
/// optional. `None` if it is not one.
pub(super) fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() < 16 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (base, offset) = if let Some(base) = text.strip_suffix(['Z', 'z']) {
        (base, 0i64)
    } else if b.len() >= 22 && matches!(b[b.len() - 6], b'+' | b'-') && b[b.len() - 3] == b':' {
        let (base, zone) = text.split_at(text.len() - 6);
        let hours: i64 = zone.get(1..3)?.parse().ok()?;
        let minutes: i64 = zone.get(4..6)?.parse().ok()?;
        if hours > 23 || minutes > 59 {
            return None;
        }
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        (base, sign * (hours * 3600 + minutes * 60))
    } else {
        (text, 0)
    };
    let local = if base.len() == 16 {
        // 2006-01-02T15:04: no seconds.
        humantime::parse_rfc3339_weak(&format!("{base}:00")).ok()?
    } else {
        humantime::parse_rfc3339_weak(base).ok()?
    };
    // local = utc + offset.
    let shift = Duration::from_secs(offset.unsigned_abs());
    if offset >= 0 {
        local.checked_sub(shift)
    } else {
        local.checked_add(shift)
    }
}

/// Parses a `--since`/`--until` value as docker does, relative to `now`:
///
/// - RFC 3339, with or without a fraction and a zone (`2006-01-02T15:04:05Z`,
///   `2006-01-02T15:04:05.999999999+07:00`, `2006-01-02T15:04`); no zone means UTC (docker
///   takes the client's zone; peapod's logs and machines are UTC);
/// - a date, `2006-01-02` (midnight UTC);
/// - unix seconds with an optional fraction, `1700000000`, `1700000000.5`;
/// - a Go duration before `now`: `10m`, `1h30m`, `42s`, `1.5h`, `300ms`.
///
/// # Errors
///
/// [`LogError::Time`] naming the text and what is wrong with it.
pub fn parse_time(text: &str, now: SystemTime) -> Result<SystemTime, LogError> {
    let err = |reason: &str| LogError::Time {
        text: text.to_owned(),
        reason: reason.to_owned(),
    };
    let t = text.trim();
    if t.is_empty() {
        return Err(err("empty"));
    }
    if t.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        let (secs, frac) = t.split_once('.').unwrap_or((t, ""));
        if secs.is_empty() || frac.contains('.') || frac.len() > 9 {
            return Err(err("not a number of seconds"));
        }
        let secs: u64 = secs.parse().map_err(|_| err("seconds out of range"))?;
        let nanos: u32 = format!("{frac:0<9}")
            .parse()
            .map_err(|_| err("not a fraction of a second"))?;
        return UNIX_EPOCH
            .checked_add(Duration::new(secs, nanos))
            .ok_or_else(|| err("seconds out of range"));
    }
    let b = t.as_bytes();
    if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' {
        if b.len() == 10 {
            return humantime::parse_rfc3339_weak(&format!("{t}T00:00:00"))
                .map_err(|e| err(&format!("not a date: {e}")));
        }
        return parse_rfc3339(t).ok_or_else(|| err("not an RFC 3339 time"));
    }
    if t.starts_with('-') {
        return Err(err("a duration must not be negative"));
    }
    // humantime takes Go's units (and more: `1h 30m`, `2days`).
    let d = humantime::parse_duration(t).map_err(|e| err(&format!("not a duration: {e}")))?;
    now.checked_sub(d)
        .filter(|t| *t >= UNIX_EPOCH)
        .ok_or_else(|| err("the duration reaches back before 1970"))
}
