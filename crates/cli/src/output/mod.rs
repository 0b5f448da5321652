//! Output for `peapod`: tables padded as docker pads them, `--format json`, Go templates
//! (`--format '{{.ID}}'`, `--format 'table {{.ID}}\t{{.Size}}'`), human sizes and ages.
//!
//! Every listing verb describes its rows as JSON objects (docker's template field names) and
//! a default table template; this module turns them into the table, the JSON or the
//! user's template, so that every verb formats the same way.

pub(crate) mod human;
mod template;

use std::io::Write;

use anyhow::{Context, Result};
use serde_json::Value;

pub(crate) use template::Template;

/// What `--format` asked for.
#[derive(Debug)]
pub(crate) enum Format {
    /// A JSON document (`--format json`).
    Json,
    /// A template per row, with a header row and padded columns when it began `table`.
    Template(Template),
}

impl Format {
    /// Parses `--format`: absent or `table` is `default` (a `table …` template), `json` is
    /// JSON, anything else a Go template (`\t` and `\n` as written on a command line become
    /// a tab and a newline, as docker does).
    pub(crate) fn parse(given: Option<&str>, default: &str) -> Result<Self> {
        match given.map(str::trim) {
            Some("json") => Ok(Self::Json),
            None | Some("table") => Ok(Self::Template(Template::parse(default)?)),
            Some(text) => Ok(Self::Template(Template::parse(text)?)),
        }
    }
}

/// Prints `rows` as `format` says: a JSON array, or one template line per row (under a
/// header of `headers`' names, in padded columns, for a `table` template).
pub(crate) fn print_rows(
    out: &mut impl Write,
    format: &Format,
    rows: &[Value],
    headers: &[(&str, &str)],
) -> Result<()> {
    match format {
        Format::Json => print_json(out, &Value::Array(rows.to_vec())),
        Format::Template(t) => t.print(out, rows, headers),
    }
}

/// `inspect`'s output: `docs` as a JSON array (no `--format`, or `json`), else the Go
/// template once per document.
pub(crate) fn print_docs(format: Option<&str>, docs: Vec<Value>) -> Result<()> {
    match format {
        None | Some("json") => print_json(&mut std::io::stdout().lock(), &Value::Array(docs)),
        Some(text) => {
            let t = Template::parse(text)?;
            let mut s = String::new();
            for d in &docs {
                s.push_str(&t.render(d)?);
                s.push('\n');
            }
            write_stdout(&s)
        }
    }
}

/// Tab-separated lines laid out in columns padded by three spaces (as `top` prints them).
pub(crate) fn write_columns(text: &str) -> Result<()> {
    let mut tw = tabwriter::TabWriter::new(Vec::new()).padding(3);
    tw.write_all(text.as_bytes())
        .context("cannot lay out the table")?;
    let bytes = tw
        .into_inner()
        .map_err(|e| anyhow::anyhow!("cannot lay out the table: {e}"))?;
    write_stdout(&String::from_utf8_lossy(&bytes))
}

/// Pretty JSON with four-space indents (as docker and podman print `inspect`).
pub(crate) fn print_json(out: &mut impl Write, value: &Value) -> Result<()> {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(value, &mut ser).context("cannot encode JSON")?;
    buf.push(b'\n');
    out.write_all(&buf).context("cannot write to stdout")
}

/// Writes `text` to stdout (a closed pipe or a full disk is an error, not a panic).
pub(crate) fn write_stdout(text: &str) -> Result<()> {
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("cannot write to stdout")
}

/// `sha256:0123456789abcdef…` → `0123456789ab` (docker's short id).
pub(crate) fn short_id(id: &str) -> String {
    let hex = id.split_once(':').map_or(id, |(_, h)| h);
    hex.chars().take(12).collect()
}

/// `s` cut to `max` characters, the last replaced by `…` when cut.
pub(crate) fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_text_are_cut_as_docker_cuts_them() {
        assert_eq!(short_id("sha256:0123456789abcdef0123"), "0123456789ab");
        assert_eq!(short_id("0123456789abcdef"), "0123456789ab");
        assert_eq!(ellipsis("abcdef", 4), "abc…");
        assert_eq!(ellipsis("abc", 4), "abc");
    }
}
