//! Sizes and ages the way docker prints them: `4.26MB` (SI units, three significant digits)
//! and `2 hours ago`.

use std::time::{Duration, SystemTime};

/// Bytes in SI units with three significant digits and no space: `512B`, `12.3kB`, `4.26MB`.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    // Precision loss above 2^53 bytes is far below the three digits shown.
    #[allow(clippy::cast_precision_loss)]
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    let int_digits = if value >= 100.0 {
        3
    } else if value >= 10.0 {
        2
    } else {
        1
    };
    let text = format!("{value:.prec$}", prec = 3 - int_digits);
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text}{}", UNITS[unit])
}

/// How long ago `then` was, as docker words it (`About an hour ago`, `3 days ago`); `N/A`
/// without a time, and a time in the future counts as now.
pub(crate) fn since(then: Option<SystemTime>, now: SystemTime) -> String {
    let Some(then) = then else {
        return "N/A".to_owned();
    };
    let age = now.duration_since(then).unwrap_or(Duration::ZERO);
    format!("{} ago", duration(age))
}

/// A duration in docker's words: `Less than a second`, `About a minute`, `5 weeks`.
fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    let minutes = secs / 60;
    let hours = (secs + 1800) / 3600;
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if secs < 1 {
        "Less than a second".to_owned()
    } else if secs < 60 {
        plural(secs, "second")
    } else if minutes == 1 {
        "About a minute".to_owned()
    } else if minutes < 60 {
        plural(minutes, "minute")
    } else if hours == 1 {
        "About an hour".to_owned()
    } else if hours < 48 {
        plural(hours, "hour")
    } else if hours < 24 * 7 * 2 {
        plural(hours / 24, "day")
    } else if hours < 24 * 30 * 2 {
        plural(hours / 24 / 7, "week")
    } else if hours < 24 * 365 * 2 {
        plural(hours / 24 / 30, "month")
    } else {
        plural(hours / 24 / 365, "year")
    }
}

/// Parses an RFC 3339 time as image configs carry it (`2024-01-02T03:04:05.123Z`, or with a
/// `+01:00` offset); `None` if it does not parse.
pub(crate) fn parse_time(text: &str) -> Option<SystemTime> {
    if let Ok(t) = humantime::parse_rfc3339_weak(text) {
        return Some(t);
    }
    // humantime reads only `Z`; fold a numeric offset into the time ourselves.
    let (base, sign, offset) = match text.rfind(['+', '-']) {
        Some(i) if i > 10 => (&text[..i], &text[i..=i], &text[i + 1..]),
        _ => return None,
    };
    let (h, m) = offset.split_once(':')?;
    let shift = Duration::from_secs(h.parse::<u64>().ok()? * 3600 + m.parse::<u64>().ok()? * 60);
    let local = humantime::parse_rfc3339_weak(base).ok()?;
    if sign == "+" {
        local.checked_sub(shift)
    } else {
        local.checked_add(shift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_docker_prints_them() {
        for (bytes, want) in [
            (0, "0B"),
            (999, "999B"),
            (1000, "1kB"),
            (12_345, "12.3kB"),
            (4_261_234, "4.26MB"),
            (4_000_000, "4MB"),
            (123_456_789, "123MB"),
            (1_500_000_000, "1.5GB"),
        ] {
            assert_eq!(size(bytes), want, "{bytes}");
        }
    }

    #[test]
    fn ages_read_as_docker_prints_them() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let ago = |s: u64| since(Some(now - Duration::from_secs(s)), now);
        assert_eq!(ago(0), "Less than a second ago");
        assert_eq!(ago(1), "1 second ago");
        assert_eq!(ago(59), "59 seconds ago");
        assert_eq!(ago(90), "About a minute ago");
        assert_eq!(ago(600), "10 minutes ago");
        assert_eq!(ago(3600), "About an hour ago");
        assert_eq!(ago(2 * 3600), "2 hours ago");
        assert_eq!(ago(3 * 86400), "3 days ago");
        assert_eq!(ago(21 * 86400), "3 weeks ago");
        assert_eq!(ago(90 * 86400), "3 months ago");
        assert_eq!(ago(3 * 365 * 86400), "3 years ago");
        assert_eq!(since(None, now), "N/A");
        assert_eq!(
            since(Some(now + Duration::from_secs(5)), now),
            "Less than a second ago"
        );
    }

    #[test]
    fn times_with_zones_parse() {
        let z = parse_time("2024-01-02T03:04:05Z").unwrap();
        assert_eq!(parse_time("2024-01-02T04:04:05+01:00"), Some(z));
        assert_eq!(parse_time("2024-01-02T02:04:05-01:00"), Some(z));
        assert!(parse_time("2024-01-02T03:04:05.123456789Z").is_some());
        assert_eq!(parse_time("yesterday"), None);
    }
}
