//! `top` against this test's own processes.

use std::os::unix::fs::MetadataExt as _;
use std::process::{Child, Command};

use super::*;

/// A `sleep` child, killed when dropped.
struct Sleeper(Child);

impl Sleeper {
    /// Starts `sleep ARG` and waits (5 s at most) until it sleeps.
    fn start(arg: &str) -> Sleeper {
        let s = Sleeper(Command::new("sleep").arg(arg).spawn().unwrap());
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let stat = std::fs::read_to_string(format!("/proc/{}/stat", s.pid())).unwrap();
            if stat.contains("(sleep) S ") {
                return s;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "sleep does not sleep: {stat}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    fn pid(&self) -> i32 {
        self.0.id() as i32
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn column<'a>(r: &'a TopReport, header: &str, row: usize) -> &'a str {
    let i = r.header.iter().position(|h| h == header).unwrap();
    &r.rows[row][i]
}

#[test]
fn default_columns_for_our_own_processes() {
    let child = Sleeper::start("30");
    let me = std::process::id() as i32;
    let r = top::<&str>(&[me, child.pid(), 999_999_999], &[], None).unwrap();
    assert_eq!(
        r.header,
        [
            "USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND"
        ]
    );
    // The pid that does not exist is left out.
    assert_eq!(r.rows.len(), 2, "{r:?}");
    let uid = std::fs::metadata("/proc/self").unwrap().uid();
    assert_eq!(
        column(&r, "USER", 1),
        uid.to_string(),
        "no root given: numbers"
    );
    assert_eq!(column(&r, "PID", 0), me.to_string());
    assert_eq!(column(&r, "PID", 1), child.pid().to_string());
    // Our parent is not in the list: 0, as a container's init shows; the child's is us.
    assert_eq!(column(&r, "PPID", 0), "0");
    assert_eq!(column(&r, "PPID", 1), me.to_string());
    assert_eq!(column(&r, "COMMAND", 1), "sleep 30");
    // A sleeping process: little CPU (a tick or two to start), a young one.
    let pcpu = column(&r, "%CPU", 1);
    assert!(pcpu.len() - pcpu.find('.').unwrap() == 4, "{pcpu}");
    assert!(
        (0.0..=200.0).contains(&pcpu.parse::<f64>().unwrap()),
        "{pcpu}"
    );
    let etime = column(&r, "ELAPSED", 1);
    assert!(
        etime.ends_with('s') && !etime.contains('m') || etime.ends_with("ms"),
        "{etime}"
    );
    let time = column(&r, "TIME", 1);
    assert!(time == "0s" || time.ends_with("ms"), "{time}");
}

#[test]
fn names_come_from_the_containers_files_never_the_hosts() {
    let child = Sleeper::start("31");
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("etc")).unwrap();
    let uid = std::fs::metadata("/proc/self").unwrap().uid();
    let gid = std::fs::metadata("/proc/self").unwrap().gid();
    std::fs::write(
        root.path().join("etc/passwd"),
        format!("# comment\nbroken line\nctruser:x:{uid}:{gid}::/:/bin/sh\n"),
    )
    .unwrap();
    std::fs::write(
        root.path().join("etc/group"),
        format!("ctrgroup:x:{gid}:\n"),
    )
    .unwrap();
    let r = top(
        &[child.pid()],
        &["user,group", "%U", "ruser", "comm"],
        Some(root.path()),
    )
    .unwrap();
    assert_eq!(r.header, ["USER", "GROUP", "USER", "RUSER", "COMMAND"]);
    assert_eq!(
        r.rows,
        [["ctruser", "ctrgroup", "ctruser", "ctruser", "sleep"]]
    );

    // A passwd that is a symlink out of the root resolves inside it: not found, numbers.
    std::fs::remove_file(root.path().join("etc/passwd")).unwrap();
    std::os::unix::fs::symlink(
        "/../../../../etc/passwd-elsewhere",
        root.path().join("etc/passwd"),
    )
    .unwrap();
    std::fs::write(root.path().join("etc/group"), "").unwrap();
    let r = top(&[child.pid()], &["user", "group"], Some(root.path())).unwrap();
    assert_eq!(r.rows, [[uid.to_string(), gid.to_string()]]);
    std::fs::remove_file(root.path().join("etc/passwd")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.path().join("etc/passwd")).unwrap();
    let e = top(&[child.pid()], &["user"], Some(root.path())).unwrap_err();
    assert!(e.to_string().contains("/etc/passwd"), "{e}");
}

#[test]
fn every_descriptor_has_a_value() {
    let child = Sleeper::start("32");
    let all = descriptors();
    let r = top(&[child.pid()], &all, None).unwrap();
    assert_eq!(r.header.len(), all.len());
    let get = |d: &str| r.rows[0][all.iter().position(|x| *x == d).unwrap()].clone();
    assert_eq!(get("hpid"), child.pid().to_string());
    assert_eq!(get("state"), "S");
    assert_eq!(get("nice"), "0");
    assert!(["disabled", "strict", "filter"].contains(&get("seccomp").as_str()));
    assert!(get("vsz").parse::<u64>().unwrap() > 0);
    assert!(get("rss").parse::<u64>().unwrap() > 0);
    assert_eq!(get("pgid"), nix::unistd::getpgrp().to_string());
    for (d, v) in all.iter().zip(&r.rows[0]) {
        assert!(!v.is_empty() || *d == "groups", "{d} is empty");
    }
}

#[test]
fn an_unknown_descriptor_lists_the_valid_ones() {
    let e = top(&[1], &["pid", "colour"], None).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("\"colour\""), "{text}");
    for d in DEFAULT_DESCRIPTORS {
        assert!(text.contains(d), "{d} missing from {text}");
    }
}

#[test]
fn formats_as_podman_does() {
    assert_eq!(go_duration(Duration::ZERO), "0s");
    assert_eq!(go_duration(Duration::from_millis(10)), "10ms");
    assert_eq!(go_duration(Duration::from_micros(1500)), "1.5ms");
    assert_eq!(go_duration(Duration::from_millis(4250)), "4.25s");
    assert_eq!(go_duration(Duration::from_secs(120)), "2m0s");
    assert_eq!(go_duration(Duration::from_millis(3_723_500)), "1h2m3.5s");
    assert_eq!(tty_name(0), "?");
    assert_eq!(tty_name((136 << 8) | 3), "pts/3");
    assert_eq!(tty_name((4 << 8) | 1), "tty1");
    assert_eq!(tty_name((4 << 8) | 65), "ttyS1");

    let mut p = Proc::default();
    let stat = "42 (a (weird) name) S 1 42 42 34816 42 4194560 100 0 0 0 7 3 0 0 20 5 1 0 \
                12345 8388608 200 18446744073709551615";
    parse_stat(stat, &mut p).unwrap();
    assert_eq!(p.comm, "a (weird) name");
    assert_eq!((p.host_ppid, p.pgrp, p.tty_nr), (1, 42, 34816));
    assert_eq!(
        (p.cpu_ticks, p.nice, p.start_ticks, p.vsize),
        (10, 5, 12345, 8388608)
    );
    assert_eq!(tty_name(p.tty_nr), "pts/0");
    assert!(parse_stat("42 (x) S 1", &mut p).is_none());
    let status = "Name:\tsh\nUid:\t1000\t1001\t1000\t1000\nGid:\t50\t51\t50\t50\n\
                  Groups:\t50 60\nNSpid:\t4242\t1\nVmRSS:\t  1234 kB\nSeccomp:\t2\n";
    parse_status(status, &mut p).unwrap();
    assert_eq!(
        (p.uids, p.gids, p.ns_pid, p.rss_kib),
        ([1000, 1001], [50, 51], 1, 1234)
    );
    assert_eq!((p.groups.clone(), p.seccomp.as_str()), (vec![50, 60], "2"));
    assert!(parse_status("Name:\tsh\n", &mut p).is_none());
}
