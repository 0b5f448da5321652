//! `peapod images` / `peapod image ls`: one row per name (dangling images as `<none>`).

use std::collections::HashSet;
use std::time::SystemTime;

use anyhow::Result;
use peapod_image::images::ImageSummary;
use serde_json::{Value, json};

use crate::commands::Globals;
use crate::output::{self, Format, human};

/// `images [OPTIONS] [REFERENCE]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Only images whose name matches (`busybox`, `busybox:1`, `docker.io/library/busybox`).
    reference: Option<String>,
    /// Show all images (peapod keeps no intermediate images: the same as without).
    #[arg(short, long)]
    all: bool,
    /// Only image ids, each once.
    #[arg(short, long)]
    quiet: bool,
    /// Show digests.
    #[arg(long)]
    digests: bool,
    /// Do not shorten ids.
    #[arg(long)]
    no_trunc: bool,
    /// `table`, `json`, or a Go template (`{{.ID}}\t{{.Repository}}`; `table …` for columns).
    #[arg(long)]
    format: Option<String>,
}

const TABLE: &str = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
const TABLE_DIGESTS: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
const HEADERS: &[(&str, &str)] = &[
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Digest", "DIGEST"),
    ("ID", "IMAGE ID"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("Containers", "CONTAINERS"),
];
const NONE: &str = "<none>";

/// Lists images.
pub(crate) fn run(globals: &Globals, args: &Args) -> Result<()> {
    let images = globals.images()?;
    let summaries = images.list()?;
    let rows: Vec<Row> = summaries
        .iter()
        .flat_map(rows_of)
        .filter(|r| {
            args.reference
                .as_deref()
                .is_none_or(|want| matches(r.repository, r.tag, want))
        })
        .collect();
    let mut out = std::io::stdout().lock();
    let id = |s: &ImageSummary| {
        if args.no_trunc {
            s.id.to_string()
        } else {
            output::short_id(&s.id.to_string())
        }
    };
    if args.quiet {
        let mut seen = HashSet::new();
        let mut text = String::new();
        for row in &rows {
            if seen.insert(&row.image.id) {
                text.push_str(&id(row.image));
                text.push('\n');
            }
        }
        return output::write_stdout(&text);
    }
    let format = Format::parse(
        args.format.as_deref(),
        if args.digests { TABLE_DIGESTS } else { TABLE },
    )?;
    if let Format::Json = format {
        // One object per image, podman's fields.
        let mut seen = HashSet::new();
        let mut docs = Vec::new();
        for row in &rows {
            if seen.insert(&row.image.id) {
                docs.push(json_of(&images, row.image)?);
            }
        }
        return output::print_json(&mut out, &Value::Array(docs));
    }
    let now = SystemTime::now();
    let values: Vec<Value> = rows
        .iter()
        .map(|r| {
            let created = r.image.created.as_deref().and_then(human::parse_time);
            json!({
                "ID": id(r.image),
                "Repository": r.repository,
                "Tag": r.tag,
                "Digest": r.digest,
                "CreatedSince": human::since(created, now),
                "CreatedAt": r.image.created.clone().unwrap_or_default(),
                "Size": human::size(r.image.size),
                "Containers": "N/A",
            })
        })
        .collect();
    output::print_rows(&mut out, &format, &values, HEADERS)
}

/// One line of the table.
struct Row<'a> {
    image: &'a ImageSummary,
    repository: &'a str,
    tag: &'a str,
    digest: &'a str,
}

/// A row per tag; an image with digests only, a row per repository; else one `<none>` row.
fn rows_of(image: &ImageSummary) -> Vec<Row<'_>> {
    let digest_of = |repo: &str| {
        image
            .digests
            .iter()
            .filter_map(|d| d.split_once('@'))
            .find(|(r, _)| *r == repo)
            .map_or(NONE, |(_, d)| d)
    };
    let mut rows: Vec<Row<'_>> = image
        .tags
        .iter()
        .map(|name| {
            let (repository, tag) = split_tag(name);
            Row {
                image,
                repository,
                tag,
                digest: digest_of(repository),
            }
        })
        .collect();
    if rows.is_empty() {
        rows = image
            .digests
            .iter()
            .filter_map(|d| d.split_once('@'))
            .map(|(repository, digest)| Row {
                image,
                repository,
                tag: NONE,
                digest,
            })
            .collect();
    }
    if rows.is_empty() {
        rows.push(Row {
            image,
            repository: NONE,
            tag: NONE,
            digest: NONE,
        });
    }
    rows
}

/// `registry:5000/app:1` → (`registry:5000/app`, `1`); a name without a tag has `<none>`.
fn split_tag(name: &str) -> (&str, &str) {
    let last = name.rfind('/').map_or(0, |i| i + 1);
    match name[last..].rfind(':') {
        Some(i) => (&name[..last + i], &name[last + i + 1..]),
        None => (name, NONE),
    }
}

/// Whether `want` (`busybox`, `busybox:1`, `library/busybox`, a full name) names this row:
/// the repository equal to it, to its normalised form, or ending in `/` and it.
fn matches(repository: &str, tag: &str, want: &str) -> bool {
    if repository == NONE {
        return false;
    }
    let (want_repo, want_tag) = split_tag(want);
    let normalised = peapod_image::reference::normalize(want_repo)
        .ok()
        .map(|full| split_tag(&full).0.to_owned());
    let repo_ok = repository == want_repo
        || normalised.as_deref() == Some(repository)
        || repository
            .strip_suffix(want_repo)
            .is_some_and(|head| head.ends_with('/'));
    repo_ok && (want_tag == NONE || want_tag == tag)
}

/// An image as `images --format json` prints it (podman's fields).
fn json_of(images: &peapod_image::Images, image: &ImageSummary) -> Result<Value> {
    let id = image.id.to_string();
    let record = images.resolve(&id)?;
    let config = images.config(&record)?;
    let created = image
        .created
        .as_deref()
        .and_then(human::parse_time)
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let names: Vec<&String> = image.tags.iter().chain(&image.digests).collect();
    Ok(json!({
        "Id": id,
        "ParentId": "",
        "RepoTags": image.tags,
        "RepoDigests": image.digests,
        "Size": image.size,
        "SharedSize": 0,
        "VirtualSize": image.size,
        "Labels": config.pointer("/config/Labels").cloned().unwrap_or(Value::Null),
        "Containers": 0,
        "Names": names,
        "Digest": record.manifest_digest.to_string(),
        "Created": created,
        "CreatedAt": image.created,
        "Dangling": image.tags.is_empty() && image.digests.is_empty(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_repository_and_tag() {
        assert_eq!(
            split_tag("docker.io/library/busybox:latest"),
            ("docker.io/library/busybox", "latest")
        );
        assert_eq!(split_tag("registry:5000/app:1"), ("registry:5000/app", "1"));
        assert_eq!(split_tag("registry:5000/app"), ("registry:5000/app", NONE));
    }

    #[test]
    fn a_reference_filter_matches_short_and_full_names() {
        let repo = "docker.io/library/busybox";
        assert!(matches(repo, "latest", "busybox"));
        assert!(matches(repo, "latest", "busybox:latest"));
        assert!(!matches(repo, "latest", "busybox:1"));
        assert!(matches(repo, "1", "docker.io/library/busybox"));
        assert!(matches(repo, "1", "library/busybox"));
        assert!(!matches(repo, "1", "box"));
        assert!(!matches(NONE, NONE, "busybox"));
    }
}
