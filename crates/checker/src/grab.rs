//! `grab-exe=STOP:INODE`: the CVE-2019-5736 attacker. Until the file STOP exists (two
//! minutes at most), watch for new pids and open each one's `/proc/<pid>/exe` (a container
//! process holding CAP_SYS_PTRACE may, even for a non-dumpable process); keep the fds whose
//! file has inode INODE (the runtime's binary). Then, once no process runs the binary (it
//! retries while the kernel answers ETXTBSY, 20 s at most), try to reopen each kept fd for
//! writing through `/proc/self/fd/N` (nothing is written). Fails if
//! one reopens; prints how many were grabbed either way.

use std::collections::HashSet;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

pub(crate) fn grab_exe(value: &str) -> Result<(), String> {
    let (stop, inode) = value.split_once(':').ok_or("grab-exe wants STOP:INODE")?;
    let inode: u64 = inode
        .parse()
        .map_err(|_| "grab-exe wants a numeric INODE")?;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = HashSet::new();
    let mut grabbed: Vec<File> = Vec::new();
    while !Path::new(stop).exists() && Instant::now() < deadline {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Err("cannot list /proc".into());
        };
        for name in entries.filter_map(|e| e.ok()?.file_name().into_string().ok()) {
            if !name.bytes().all(|b| b.is_ascii_digit()) || seen.contains(&name) {
                continue;
            }
            // Not yet exec'd, or exited: try again next round, or never see it again.
            if let Ok(exe) = File::open(format!("/proc/{name}/exe")) {
                if exe.metadata().is_ok_and(|m| m.ino() == inode) {
                    grabbed.push(exe);
                }
                seen.insert(name);
            }
        }
        std::thread::yield_now();
    }
    println!("grabbed {} runtime exe(s)", grabbed.len());
    // As the attacker does: wait (ETXTBSY) while some process still runs the binary.
    let deadline = Instant::now() + Duration::from_secs(20);
    let writable: Vec<String> = grabbed
        .iter()
        .filter_map(|exe| {
            let path = format!("/proc/self/fd/{}", exe.as_raw_fd());
            loop {
                match std::fs::OpenOptions::new().write(true).open(&path) {
                    Ok(_) => return Some("writable".to_owned()),
                    Err(e) if e.raw_os_error() == Some(30) => return None, // EROFS
                    Err(e) if e.raw_os_error() == Some(26) && Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(10)); // ETXTBSY
                    }
                    Err(e) => return Some(format!("refused otherwise ({e})")),
                }
            }
        })
        .collect();
    if writable.is_empty() {
        Ok(())
    } else {
        Err(format!("the runtime's binary reopened: {writable:?}"))
    }
}
