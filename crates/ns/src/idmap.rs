//! User-namespace uid and gid maps.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

use oci_spec::runtime::LinuxIdMapping;

use crate::{Error, Result};

/// The kernel accepts at most this many lines in a map.
const MAX_LINES: usize = 340;

/// One line of a uid or gid map: `size` ids from `container_id` map to `host_id` onwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

impl From<&LinuxIdMapping> for IdMap {
    fn from(m: &LinuxIdMapping) -> Self {
        Self {
            container_id: m.container_id(),
            host_id: m.host_id(),
            size: m.size(),
        }
    }
}

impl IdMap {
    /// Checks a whole map: at least one line, no empty or overflowing range, no overlap on
    /// either side, and no more lines than the kernel takes.
    pub fn validate(which: &'static str, maps: &[IdMap]) -> Result<()> {
        let bad = |why| {
            Err(Error::BadMapping {
                which,
                map: render(maps).trim_end().replace('\n', ", "),
                why,
            })
        };
        if maps.is_empty() {
            return bad("a new user namespace needs at least one mapping");
        }
        if maps.len() > MAX_LINES {
            return bad("more than 340 lines");
        }
        for (i, a) in maps.iter().enumerate() {
            if a.size == 0 {
                return bad("a mapping has size 0");
            }
            if a.container_id.checked_add(a.size - 1).is_none()
                || a.host_id.checked_add(a.size - 1).is_none()
            {
                return bad("a range runs past 4294967295");
            }
            for b in &maps[i + 1..] {
                if overlaps(a.container_id, a.size, b.container_id, b.size) {
                    return bad("two container ranges overlap");
                }
                if overlaps(a.host_id, a.size, b.host_id, b.size) {
                    return bad("two host ranges overlap");
                }
            }
        }
        Ok(())
    }
}

fn overlaps(a: u32, a_len: u32, b: u32, b_len: u32) -> bool {
    u64::from(a) < u64::from(b) + u64::from(b_len) && u64::from(b) < u64::from(a) + u64::from(a_len)
}

/// The text the kernel expects in `uid_map`/`gid_map`.
fn render(maps: &[IdMap]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
        .collect()
}

/// Writes the uid and gid maps of process `pid`'s user namespace. With `deny_setgroups`
/// (required when the writer is unprivileged: CVE-2014-8989), `setgroups` is set to `deny`
/// first; a privileged writer leaves it allowed so the container can set its groups.
pub fn write_id_maps(
    pid: i32,
    uid_maps: &[IdMap],
    gid_maps: &[IdMap],
    deny_setgroups: bool,
) -> Result<()> {
    IdMap::validate("uid", uid_maps)?;
    IdMap::validate("gid", gid_maps)?;
    let proc = PathBuf::from(format!("/proc/{pid}"));
    if deny_setgroups {
        write_once(proc.join("setgroups"), "deny")?;
    }
    write_once(proc.join("uid_map"), &render(uid_maps))?;
    write_once(proc.join("gid_map"), &render(gid_maps))
}

/// Maps must be written in a single `write(2)`.
fn write_once(path: PathBuf, contents: &str) -> Result<()> {
    OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut file| file.write_all(contents.as_bytes()))
        .map_err(|source| Error::WriteMap { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(container_id: u32, host_id: u32, size: u32) -> IdMap {
        IdMap {
            container_id,
            host_id,
            size,
        }
    }

    #[test]
    fn maps_render_one_line_each() {
        assert_eq!(
            render(&[m(0, 1000, 1), m(1, 100000, 65536)]),
            "0 1000 1\n1 100000 65536\n"
        );
    }

    #[test]
    fn good_maps_pass() {
        IdMap::validate("uid", &[m(0, 100000, 65536)]).unwrap();
        IdMap::validate("uid", &[m(0, 1000, 1), m(1, 100000, 65535)]).unwrap();
    }

    #[test]
    fn bad_maps_are_refused_with_the_reason() {
        let cases = [
            (vec![], "a new user namespace needs at least one mapping"),
            (vec![m(0, 0, 0)], "a mapping has size 0"),
            (vec![m(u32::MAX, 0, 2)], "a range runs past 4294967295"),
            (
                vec![m(0, 1000, 10), m(5, 2000, 10)],
                "two container ranges overlap",
            ),
            (
                vec![m(0, 1000, 10), m(100, 1005, 10)],
                "two host ranges overlap",
            ),
            (vec![m(0, 0, 1); 341], "more than 340 lines"),
        ];
        for (maps, why) in cases {
            let err = IdMap::validate("gid", &maps).unwrap_err().to_string();
            assert!(err.starts_with("invalid gid mapping"), "{err}");
            assert!(err.ends_with(why), "{err} should end with {why}");
        }
    }

    #[test]
    fn writing_to_a_process_that_does_not_exist_names_the_file() {
        let err = write_id_maps(i32::MAX, &[m(0, 0, 1)], &[m(0, 0, 1)], false)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("cannot write /proc/{}/uid_map", i32::MAX)),
            "{err}"
        );
    }
}
