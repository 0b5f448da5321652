//! Timestamps as the engine prints them (through `humantime`: small, no dependencies, and
//! the RFC 3339 formatter docker's and the CRI log's shape needs).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Unix nanoseconds → `SystemTime`.
pub fn system_time(ns: i64) -> SystemTime {
    match u64::try_from(ns) {
        Ok(ns) => UNIX_EPOCH + Duration::from_nanos(ns),
        Err(_) => UNIX_EPOCH,
    }
}

/// Unix nanoseconds as RFC 3339 UTC with nanoseconds (`2026-11-30T22:40:33.123456789Z`), as
/// docker's inspect writes them.
pub fn rfc3339(ns: i64) -> String {
    humantime::format_rfc3339_nanos(system_time(ns)).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            super::rfc3339(1_500_000_000_000_000_001),
            "2017-07-14T02:40:00.000000001Z"
        );
    }
}
