//! `peapod events`: the engine's lifecycle events (create, start, die, stop, remove…), as
//! `docker events` prints them. As docker: with `--since` or `--until`, past events are
//! printed first; without `--until` new ones follow until interrupted, and with an
//! `--until` in the future they follow until that time comes.

use std::collections::HashSet;
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use peapod_engine::events::Event;
use serde_json::{Value, json};

use crate::commands::Globals;
use crate::commands::container::logs::time_arg;
use crate::output::{Format, Template};

/// `events [--since T] [--until T] [--filter K=V] [--format F]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Events since (RFC 3339, unix seconds, or a duration ago such as `10m`).
    #[arg(long)]
    since: Option<String>,
    /// Events until, then stop (same forms).
    #[arg(long)]
    until: Option<String>,
    /// `container=NAME|ID`, `event=ACTION`, `type=container`, `image=IMAGE`; several
    /// values of one key match any, different keys all.
    #[arg(short, long)]
    filter: Vec<String>,
    /// `json` (one object per line), or a Go template (`{{.Action}}`).
    #[arg(long)]
    format: Option<String>,
}

/// How often the events file is read again while following.
const POLL: Duration = Duration::from_millis(100);

fn ns(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Parsed `--filter`s.
fn filters(given: &[String]) -> Result<Vec<(String, String)>> {
    given
        .iter()
        .map(|f| {
            let (k, v) = f
                .split_once('=')
                .with_context(|| format!("invalid --filter {f:?}: expected KEY=VALUE"))?;
            if !matches!(k, "container" | "event" | "type" | "image") {
                bail!(
                    "invalid --filter {f:?}: unknown key {k} (known: container, event, type, image)"
                );
            }
            Ok((k.to_owned(), v.to_owned()))
        })
        .collect()
}

fn matches(e: &Event, key: &str, value: &str) -> bool {
    match key {
        "container" => e.kind == "container" && (e.name == value || e.id.starts_with(value)),
        "event" => e.action == value,
        "type" => e.kind == value,
        "image" => e.image == value,
        _ => false,
    }
}

fn wanted(e: &Event, filters: &[(String, String)]) -> bool {
    let mut keys: Vec<&str> = filters.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.iter().all(|key| {
        filters
            .iter()
            .filter(|(k, _)| k == key)
            .any(|(_, v)| matches(e, key, v))
    })
}

/// docker's event message (`docker events --format json`).
fn message(e: &Event) -> Value {
    json!({
        "status": e.action,
        "id": e.id,
        "from": e.image,
        "Type": e.kind,
        "Action": e.action,
        "Actor": {
            "ID": e.id,
            "Attributes": { "image": e.image, "name": e.name },
        },
        "scope": "local",
        "time": e.time / 1_000_000_000,
        "timeNano": e.time,
    })
}

/// One line as `format` says (docker's default: time, type, action, id, attributes).
fn line(e: &Event, format: Option<&Template>, json_lines: bool) -> Result<String> {
    if json_lines {
        return Ok(message(e).to_string());
    }
    if let Some(t) = format {
        return t.render(&message(e));
    }
    Ok(format!(
        "{} {} {} {} (image={}, name={})",
        peapod_engine::time::rfc3339(e.time),
        e.kind,
        e.action,
        e.id,
        e.image,
        e.name
    ))
}

/// Prints past events, then follows new ones until `--until` (or forever).
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let now = SystemTime::now();
    let since = args
        .since
        .as_deref()
        .map(|t| time_arg("--since", t))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|t| time_arg("--until", t))
        .transpose()?;
    let filters = filters(&args.filter)?;
    let (template, json_lines) = match args.format.as_deref() {
        None => (None, false),
        given => match Format::parse(given, "")? {
            Format::Json => (None, true),
            Format::Template(t) => (Some(t), false),
        },
    };
    let engine = globals.engine()?;
    // docker: without --since or --until, only what happens from now on.
    let from = match (since, until) {
        (Some(s), _) => ns(s),
        (None, Some(_)) => 0,
        (None, None) => ns(now),
    };
    let until_ns = until.map(ns);
    let mut after = from;
    let mut seen_at_after: HashSet<(String, String)> = HashSet::new();
    loop {
        let mut out = std::io::stdout().lock();
        for e in peapod_engine::events::read(&engine, Some(after), until_ns) {
            let key = (e.id.clone(), e.action.clone());
            if e.time < after || (e.time == after && seen_at_after.contains(&key)) {
                continue;
            }
            if e.time > after {
                after = e.time;
                seen_at_after.clear();
            }
            seen_at_after.insert(key);
            if wanted(&e, &filters) {
                let text = line(&e, template.as_ref(), json_lines)?;
                writeln!(out, "{text}").context("cannot write to stdout")?;
            }
        }
        out.flush().context("cannot write to stdout")?;
        drop(out);
        if until.is_some_and(|u| SystemTime::now() > u) {
            return Ok(());
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(action: &str, name: &str) -> Event {
        Event {
            time: 1,
            kind: "container".into(),
            action: action.into(),
            id: "abcdef".into(),
            name: name.into(),
            image: "busybox".into(),
        }
    }

    #[test]
    fn filters_match_as_docker_matches_them() {
        let f = filters(&[
            "event=start".into(),
            "event=die".into(),
            "container=web".into(),
        ])
        .unwrap();
        assert!(wanted(&event("start", "web"), &f));
        assert!(wanted(&event("die", "web"), &f));
        assert!(!wanted(&event("create", "web"), &f));
        assert!(!wanted(&event("start", "db"), &f));
        let by_id = filters(&["container=abc".into()]).unwrap();
        assert!(wanted(&event("start", "db"), &by_id));
        assert!(filters(&["bogus=1".into()]).is_err());
        assert!(filters(&["event".into()]).is_err());
    }
}
