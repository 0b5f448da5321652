//! `peapod-checker`: runs inside a container and checks, from the inside, what the config
//! promised. Each argument is one expectation `KEY=VALUE`; every one is checked, each result
//! printed (`ok …` or `FAIL …: got …`), and the exit code is 1 if any failed.
//!
//! Keys: `hostname`, `domainname`, `uid`, `gid`, `groups` (comma list), `pid`, `cwd`,
//! `env` (`NAME=VALUE` present), `mount` (`PATH:FSTYPE` or `PATH:FSTYPE:ro`), `no-mount`
//! (`PATH`), `file` (`PATH:CONTENT`, trimmed), `missing` (`PATH`), `readonly` (`PATH`:
//! creating a file there fails with EROFS), `masked` (`PATH`: reads empty), `rlimit`
//! (`NOFILE:SOFT:HARD`), `status` (`FIELD:VALUE` from /proc/self/status, e.g.
//! `CapEff:0000000000000000`), `ns` (`KIND:INODE`: same namespace), `ns-not` (`KIND:INODE`),
//! `fds` (`0,1,2`: exactly these fds open, besides the one reading the list), `dev`
//! (`PATH:c:MAJOR:MINOR`), `symlink` (`PATH:TARGET`), `mkdir` (`PATH:ERRNO`, or `PATH:0`
//! for success: how seccomp and read-only mounts answer `mkdir(2)`), `uptime-min` (`SECONDS`:
//! /proc/uptime is at least this, as a boottime offset makes it), `cgroupns` (`1`: every
//! line of /proc/self/cgroup is at its namespace's root), `loopback` (`ADDRESS`, e.g.
//! `127.0.0.1` or `::1`: a TCP connection to a listener on that address carries a byte),
//! `grab-exe` (`STOP:INODE`: the CVE-2019-5736 attacker, see `grab`).

mod grab;

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut failed = false;
    for arg in std::env::args().skip(1) {
        let Some((key, value)) = arg.split_once('=') else {
            println!("FAIL {arg}: not KEY=VALUE");
            failed = true;
            continue;
        };
        match check(key, value) {
            Ok(()) => println!("ok {arg}"),
            Err(got) => {
                println!("FAIL {arg}: got {got}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

type Check = Result<(), String>;

fn check(key: &str, value: &str) -> Check {
    match key {
        "hostname" => equal(&read("/proc/sys/kernel/hostname")?, value),
        "domainname" => equal(&read("/proc/sys/kernel/domainname")?, value),
        "uid" => equal(
            status_field("Uid")?
                .split_whitespace()
                .next()
                .unwrap_or_default(),
            value,
        ),
        "gid" => equal(
            status_field("Gid")?
                .split_whitespace()
                .next()
                .unwrap_or_default(),
            value,
        ),
        "groups" => equal(
            &status_field("Groups")?
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(","),
            value,
        ),
        "pid" => equal(&std::process::id().to_string(), value),
        "cwd" => equal(
            &std::env::current_dir()
                .map_err(|e| e.to_string())?
                .display()
                .to_string(),
            value,
        ),
        "env" => {
            let want = value.split_once('=').ok_or("env wants NAME=VALUE")?;
            let got = std::env::var(want.0).map_err(|e| e.to_string())?;
            equal(&got, want.1)
        }
        "mount" => mount(value),
        "no-mount" => match mount_of(value)? {
            None => Ok(()),
            Some(line) => Err(format!("a mount: {line}")),
        },
        "file" => {
            let (path, want) = value.split_once(':').ok_or("file wants PATH:CONTENT")?;
            equal(&read(path)?, want)
        }
        "missing" => match std::fs::symlink_metadata(value) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => Err(format!("{other:?}")),
        },
        "readonly" => readonly(value),
        "masked" => masked(value),
        "rlimit" => rlimit(value),
        "status" => {
            let (field, want) = value.split_once(':').ok_or("status wants FIELD:VALUE")?;
            equal(&status_field(field)?, want)
        }
        "ns" | "ns-not" => {
            let (kind, inode) = value.split_once(':').ok_or("ns wants KIND:INODE")?;
            let link =
                std::fs::read_link(format!("/proc/self/ns/{kind}")).map_err(|e| e.to_string())?;
            let got = link.display().to_string();
            let same = got == format!("{kind}:[{inode}]");
            if same == (key == "ns") {
                Ok(())
            } else {
                Err(got)
            }
        }
        "fds" => fds(value),
        "dev" => dev(value),
        "symlink" => {
            let (path, target) = value.split_once(':').ok_or("symlink wants PATH:TARGET")?;
            equal(
                &std::fs::read_link(path)
                    .map_err(|e| e.to_string())?
                    .display()
                    .to_string(),
                target,
            )
        }
        "mkdir" => {
            let (path, want) = value.rsplit_once(':').ok_or("mkdir wants PATH:ERRNO")?;
            let got = match std::fs::create_dir(path) {
                Ok(()) => 0,
                Err(e) => e.raw_os_error().unwrap_or(-1),
            };
            equal(&got.to_string(), want)
        }
        "uptime-min" => {
            let uptime = read("/proc/uptime")?;
            let secs: f64 = uptime
                .split_whitespace()
                .next()
                .and_then(|s| s.parse().ok())
                .ok_or("bad /proc/uptime")?;
            let min: f64 = value.parse().map_err(|_| "uptime-min wants SECONDS")?;
            if secs >= min {
                Ok(())
            } else {
                Err(format!("{secs}"))
            }
        }
        "cgroupns" => {
            let cgroup = read("/proc/self/cgroup")?;
            let at_root = cgroup.lines().all(|l| l.ends_with(":/"));
            if at_root == (value == "1") {
                Ok(())
            } else {
                Err(cgroup.replace('\n', " "))
            }
        }
        "loopback" => loopback(value),
        "grab-exe" => grab::grab_exe(value),
        _ => Err(format!("unknown check {key:?}")),
    }
}

fn equal(got: &str, want: &str) -> Check {
    if got == want {
        Ok(())
    } else {
        Err(format!("{got:?}"))
    }
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| format!("{path}: {e}"))
}

fn status_field(field: &str) -> Result<String, String> {
    let status = read("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_owned())
        .ok_or_else(|| format!("no {field} in /proc/self/status"))
}

/// The last mountinfo line whose mount point is `path` (the one visible on top).
fn mount_of(path: &str) -> Result<Option<String>, String> {
    let info = read("/proc/self/mountinfo")?;
    Ok(info
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some(path))
        .map(str::to_owned))
}

fn mount(value: &str) -> Check {
    let mut parts = value.split(':');
    let (path, fstype, ro) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next(),
    );
    let line = mount_of(path)?.ok_or("no mount there")?;
    let fields: Vec<&str> = line.split(' ').collect();
    let sep = fields
        .iter()
        .position(|f| *f == "-")
        .ok_or("bad mountinfo line")?;
    let got_type = fields.get(sep + 1).copied().unwrap_or_default();
    if got_type != fstype {
        return Err(format!("type {got_type}"));
    }
    let options = fields.get(5).copied().unwrap_or_default();
    if ro == Some("ro") && !options.split(',').any(|o| o == "ro") {
        return Err(format!("options {options}"));
    }
    Ok(())
}

fn readonly(path: &str) -> Check {
    let probe = format!("{}/.peapod-checker-probe", path.trim_end_matches('/'));
    let target = if std::path::Path::new(path).is_dir() {
        probe.as_str()
    } else {
        path
    };
    match std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(target)
    {
        Err(e) if e.raw_os_error() == Some(30) => Ok(()),
        Err(e) => Err(format!("{e} (not EROFS)")),
        Ok(_) => Err("writable".into()),
    }
}

fn masked(path: &str) -> Check {
    let meta = std::fs::metadata(path).map_err(|e| format!("{path}: {e}"))?;
    if meta.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|e| e.to_string())?.count();
        if entries == 0 {
            Ok(())
        } else {
            Err(format!("{entries} entries"))
        }
    } else {
        let contents = std::fs::read(path).map_err(|e| e.to_string())?;
        if contents.is_empty() {
            Ok(())
        } else {
            Err(format!("{} bytes", contents.len()))
        }
    }
}

fn rlimit(value: &str) -> Check {
    let mut parts = value.split(':');
    let name = parts.next().unwrap_or_default();
    let (soft, hard) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let wanted = match name {
        "NOFILE" => "Max open files",
        "NPROC" => "Max processes",
        "CORE" => "Max core file size",
        "STACK" => "Max stack size",
        "CPU" => "Max cpu time",
        other => return Err(format!("unknown rlimit {other}")),
    };
    let limits = read("/proc/self/limits")?;
    let line = limits
        .lines()
        .find(|l| l.starts_with(wanted))
        .ok_or("no such limit")?;
    let numbers: Vec<&str> = line[wanted.len()..].split_whitespace().collect();
    let got = format!(
        "{}:{}",
        numbers.first().unwrap_or(&"?"),
        numbers.get(1).unwrap_or(&"?")
    );
    equal(&got, &format!("{soft}:{hard}"))
}

fn fds(value: &str) -> Check {
    let dir = std::fs::read_dir("/proc/self/fd").map_err(|e| e.to_string())?;
    let mut open: Vec<u32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    open.sort_unstable();
    // read_dir itself holds one fd: the highest, opened last.
    open.pop();
    let got = open
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    equal(&got, value)
}

fn dev(value: &str) -> Check {
    let parts: Vec<&str> = value.split(':').collect();
    let [path, kind, major, minor] = parts[..] else {
        return Err("dev wants PATH:c:MAJOR:MINOR".into());
    };
    let meta = std::fs::metadata(path).map_err(|e| format!("{path}: {e}"))?;
    let is_kind = if kind == "c" {
        meta.file_type().is_char_device()
    } else {
        meta.file_type().is_block_device()
    };
    let rdev = meta.rdev();
    // glibc's gnu_dev_major/minor encoding.
    let got_major = ((rdev >> 32) & 0xffff_f000) | ((rdev >> 8) & 0xfff);
    let got_minor = ((rdev >> 12) & 0xffff_ff00) | (rdev & 0xff);
    let got = format!(
        "{}:{got_major}:{got_minor}",
        if is_kind { kind } else { "?" }
    );
    equal(&got, &format!("{kind}:{major}:{minor}"))
}

/// A listener on `address` (any port), a connection to it, one byte across.
fn loopback(address: &str) -> Check {
    use std::io::{Read, Write};
    let ip: std::net::IpAddr = address
        .parse()
        .map_err(|_| "loopback wants an IP address")?;
    let listener = std::net::TcpListener::bind((ip, 0)).map_err(|e| format!("bind: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let mut client =
        std::net::TcpStream::connect((ip, port)).map_err(|e| format!("connect: {e}"))?;
    client.write_all(b"x").map_err(|e| format!("send: {e}"))?;
    let (mut server, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
    let mut byte = [0u8; 1];
    server
        .read_exact(&mut byte)
        .map_err(|e| format!("receive: {e}"))?;
    equal(&String::from_utf8_lossy(&byte), "x")
}
