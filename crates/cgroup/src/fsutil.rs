//! Plain-text cgroup file access with errors that name the file.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Reads a whole cgroup file.
/// `fs::read_to_string` for kernel files, which report size 0: with a page-sized buffer up
/// front the content comes in one read(2) (plus the one that sees the end) rather than a
/// dozen growing ones.
pub(crate) fn read_kernel_file(path: impl AsRef<Path>) -> io::Result<String> {
    use std::io::Read;
    let mut text = String::with_capacity(4096);
    fs::File::open(path)?.read_to_string(&mut text)?;
    Ok(text)
}

pub(crate) fn read(path: &Path) -> Result<String> {
    read_kernel_file(path).map_err(|err| Error::Read {
        path: path.to_path_buf(),
        err,
    })
}

/// Reads a cgroup file; `None` when it does not exist (controller absent, old kernel).
pub(crate) fn read_opt(path: &Path) -> Result<Option<String>> {
    match read_kernel_file(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(Error::Read {
            path: path.to_path_buf(),
            err,
        }),
    }
}

/// Writes `value` to an existing cgroup file with one write(2): no O_CREAT, no O_TRUNC,
/// so a missing file is ENOENT rather than a confusing EACCES.
pub(crate) fn write_raw(path: &Path, value: &str) -> io::Result<()> {
    write_once(&fs::OpenOptions::new().write(true).open(path)?, value)
}

/// One write(2) of all of `value` to an open cgroup file.
pub(crate) fn write_once(mut f: &fs::File, value: &str) -> io::Result<()> {
    let n = f.write(value.as_bytes())?;
    if n != value.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("short write ({n} of {} bytes)", value.len()),
        ));
    }
    Ok(())
}

/// Writes `value` to a cgroup file, naming `setting` (the OCI field) in the error.
pub(crate) fn write(path: &Path, value: &str, setting: Option<&str>) -> Result<()> {
    write_raw(path, value).map_err(|err| write_error(setting, path, value, err))
}

/// The error for a failed write; on ENOENT it says whether the cgroup or only the file is
/// missing.
pub(crate) fn write_error(
    setting: Option<&str>,
    path: &Path,
    value: &str,
    err: io::Error,
) -> Error {
    let hint = if err.kind() != io::ErrorKind::NotFound {
        String::new()
    } else if path.parent().is_some_and(|d| !d.is_dir()) {
        " (the cgroup directory does not exist)".to_owned()
    } else {
        " (this kernel or controller has no such file here)".to_owned()
    };
    Error::Write {
        setting: setting.map(str::to_owned),
        path: path.to_path_buf(),
        value: value.to_owned(),
        err,
        hint,
    }
}

/// Parses the pids of a `cgroup.procs` file.
pub(crate) fn parse_pids(path: &Path, text: &str) -> Result<Vec<i32>> {
    text.split_whitespace()
        .map(|w| {
            w.parse::<i32>().map_err(|_| Error::Parse {
                path: path.to_path_buf(),
                reason: format!("{w:?} is not a pid"),
            })
        })
        .collect()
}

/// The pids in `dir/cgroup.procs` and in every descendant cgroup's. A directory that vanished
/// meanwhile contributes nothing.
pub(crate) fn pids_recursive(dir: &Path, out: &mut Vec<i32>) -> Result<()> {
    let procs = dir.join("cgroup.procs");
    if let Some(text) = read_opt(&procs)? {
        out.extend(parse_pids(&procs, &text)?);
    }
    for child in child_dirs(dir)? {
        pids_recursive(&child, out)?;
    }
    Ok(())
}

/// The sub-directories (child cgroups) of a cgroup directory; none if it is gone.
pub(crate) fn child_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => {
            return Err(Error::Read {
                path: dir.to_path_buf(),
                err,
            });
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|err| Error::Read {
            path: dir.to_path_buf(),
            err,
        })?;
        match entry.file_type() {
            Ok(t) if t.is_dir() => out.push(entry.path()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(err) => {
                return Err(Error::Read {
                    path: entry.path(),
                    err,
                });
            }
        }
    }
    Ok(out)
}

/// Polls with a growing pause (1 ms up to 20 ms) until `f` returns `Some` or `limit` passes.
pub(crate) fn poll<T>(
    limit: Duration,
    mut f: impl FnMut() -> Result<Option<T>>,
) -> Result<Option<T>> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(v) = f()? {
            return Ok(Some(v));
        }
        if start.elapsed() >= limit {
            return Ok(None);
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}
