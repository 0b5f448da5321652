//! Lifecycle events (`create`, `start`, `stop`, `kill`, `die`, `remove`, …) appended as JSON
//! lines to `RUNROOT/events.log` (podman's `file` events backend, without journald), read
//! back by `peapod events`. The file is rotated at 1 MiB (one old file kept) so that it
//! never grows without bound.

use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::Engine;
use crate::container::{ContainerRecord, now_ns};

const MAX_SIZE: u64 = 1 << 20;

/// One event.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Event {
    /// Unix nanoseconds.
    pub time: i64,
    /// `container`, `volume`, `image`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `create`, `start`, …
    pub action: String,
    /// The object's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The container's image.
    #[serde(default)]
    pub image: String,
}

fn path(engine: &Engine) -> PathBuf {
    engine.runroot.join("events.log")
}

/// Appends a container event; failures are ignored (events are informative).
pub(crate) fn record(engine: &Engine, action: &str, c: &ContainerRecord) {
    append(&engine.runroot, action, &c.id, &c.name, &c.image_name);
}

/// Appends a container event to `RUNROOT/events.log` (for the monitor, which has no
/// [`Engine`]).
pub(crate) fn append(runroot: &std::path::Path, action: &str, id: &str, name: &str, image: &str) {
    let event = Event {
        time: now_ns(),
        kind: "container".into(),
        action: action.into(),
        id: id.into(),
        name: name.into(),
        image: image.into(),
    };
    let Ok(mut line) = serde_json::to_vec(&event) else {
        return;
    };
    line.push(b'\n');
    let path = runroot.join("events.log");
    if std::fs::metadata(&path).is_ok_and(|m| m.len() > MAX_SIZE) {
        let _ = std::fs::rename(&path, path.with_extension("log.1"));
    }
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    {
        // One write(2) of a whole line with O_APPEND: concurrent writers never interleave.
        let _ = f.write_all(&line);
    }
}

/// Every recorded event between `since` and `until` (unix nanoseconds), oldest first.
pub fn read(engine: &Engine, since: Option<i64>, until: Option<i64>) -> Vec<Event> {
    let path = path(engine);
    let mut events = Vec::new();
    for file in [path.with_extension("log.1"), path] {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        events.extend(
            text.lines()
                .filter_map(|l| serde_json::from_str::<Event>(l).ok())
                .filter(|e| since.is_none_or(|s| e.time >= s) && until.is_none_or(|u| e.time <= u)),
        );
    }
    events
}
