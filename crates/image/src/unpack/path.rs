//! Entry paths as the archive spells them, cleaned lexically into components below the
//! layer root, and recognised as OCI whiteouts (image-spec `layer.md`, "Whiteouts").
//!
//! Cleaning follows docker's `UnpackLayer` (Go's `filepath.Clean`, then a breakout check):
//! leading `/` are stripped (an absolute path names the same file relative to the root),
//! empty and `.` components vanish, `..` removes the component before it; in an absolute path
//! a `..` at the root stays at the root (`/../etc` is `etc`), in a relative one it would climb
//! above the root and is refused as a breakout (`../../etc/x`), as docker refuses it. Symlinks are not
//! looked at here: the components are later resolved inside the root
//! (`RESOLVE_IN_ROOT`), so a symlink among them can never lead out either.

use super::error::UnpackError;

/// The prefix of an OCI whiteout file.
pub(crate) const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// The name of an opaque-directory marker.
pub(crate) const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";

/// A cleaned path: its components, none empty, `.` or `..`; empty for the root itself.
pub(crate) type Components<'a> = Vec<&'a [u8]>;

/// What an entry's final component says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Name<'a> {
    /// An ordinary entry (or the root, when the path is empty).
    Plain,
    /// `.wh.NAME`: hide `NAME` of the lower layers.
    Whiteout(&'a [u8]),
    /// `.wh..wh..opq`: hide everything the lower layers put in the parent directory.
    Opaque,
    /// Another `.wh..wh.` name (aufs metadata such as `.wh..wh.plnk`): skipped, as docker does.
    AufsMeta,
}

/// Cleans `raw` (see the module doc). `what` names the path in errors (`path`, `hard link
/// target`). A NUL byte is refused.
pub(crate) fn clean<'a>(
    raw: &'a [u8],
    entry: &str,
    what: &'static str,
) -> Result<Components<'a>, UnpackError> {
    if raw.contains(&0) {
        return Err(UnpackError::InvalidPath {
            entry: entry.to_owned(),
            reason: "a NUL byte in the path",
        });
    }
    let absolute = raw.first() == Some(&b'/');
    let mut out: Components<'a> = Vec::new();
    for comp in raw.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                if out.pop().is_none() && !absolute {
                    return Err(UnpackError::Breakout {
                        entry: entry.to_owned(),
                        what,
                        path: String::from_utf8_lossy(raw).into_owned(),
                    });
                }
            }
            name => out.push(name),
        }
    }
    Ok(out)
}

/// Classifies the last component.
pub(crate) fn classify<'a>(comps: &Components<'a>) -> Name<'a> {
    let Some(last) = comps.last() else {
        return Name::Plain;
    };
    if *last == OPAQUE_MARKER {
        Name::Opaque
    } else if last.starts_with(b".wh..wh.") {
        Name::AufsMeta
    } else if let Some(hidden) = last.strip_prefix(WHITEOUT_PREFIX) {
        Name::Whiteout(hidden)
    } else {
        Name::Plain
    }
}

/// `comps` joined with `/`, for a path relative to the root (openat2) or a map key.
pub(crate) fn join(comps: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(comps.iter().map(|c| c.len() + 1).sum());
    for (i, c) in comps.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(raw: &str) -> Result<Vec<String>, String> {
        clean(raw.as_bytes(), raw, "path")
            .map(|v| {
                v.iter()
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect()
            })
            .map_err(|e| e.to_string())
    }

    #[test]
    fn cleaning_strips_roots_dots_and_inner_dotdots() {
        assert_eq!(c("etc/passwd").unwrap(), ["etc", "passwd"]);
        assert_eq!(c("/etc//passwd/").unwrap(), ["etc", "passwd"]);
        assert_eq!(c("./a/./b/../c").unwrap(), ["a", "c"]);
        assert_eq!(c("/../etc").unwrap(), ["etc"]);
        assert_eq!(
            c("../etc").unwrap_err(),
            "entry \"../etc\": path \"../etc\" climbs out of the layer root"
        );
        assert!(c("./").unwrap().is_empty());
        assert!(c("").unwrap().is_empty());
        assert!(c("a/../..").is_err());
        assert!(c("../../etc/x").is_err());
        assert!(clean(b"a\0b", "a", "path").is_err());
    }

    #[test]
    fn whiteout_names_are_recognised() {
        let comps = clean(b"d/.wh.x", "", "path").unwrap();
        assert_eq!(classify(&comps), Name::Whiteout(b"x"));
        let comps = clean(b"d/.wh..wh..opq", "", "path").unwrap();
        assert_eq!(classify(&comps), Name::Opaque);
        let comps = clean(b".wh..wh.plnk/1", "", "path").unwrap();
        assert_eq!(classify(&comps), Name::Plain);
        let comps = clean(b".wh..wh.plnk", "", "path").unwrap();
        assert_eq!(classify(&comps), Name::AufsMeta);
        assert_eq!(classify(&Vec::new()), Name::Plain);
        assert_eq!(join(&[b"a", b"b"]), b"a/b");
    }
}
