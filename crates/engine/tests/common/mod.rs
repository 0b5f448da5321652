//! Helpers the engine's privileged tests share: where the build put things, and what a test
//! may have left behind.

#![allow(dead_code, unreachable_pub)] // each test binary uses its own subset

use std::path::{Path, PathBuf};

pub fn target_dir() -> PathBuf {
    std::env::current_exe()
        .unwrap()
        .ancestors()
        .nth(3)
        .unwrap()
        .to_path_buf()
}

pub fn peapod_oci() -> PathBuf {
    let exe = target_dir().join("debug/peapod-oci");
    assert!(
        exe.is_file(),
        "{} is not built: cargo build -p peapod-cli",
        exe.display()
    );
    exe
}

pub fn mounted_under(dir: &Path) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&*dir.to_string_lossy()))
        .map(ToOwned::to_owned)
        .collect()
}

/// The cgroup directories named `peapod-test/<id>` under any hierarchy.
pub fn cgroups_of(id: &str) -> Vec<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    std::iter::once(root.to_path_buf())
        .chain(
            std::fs::read_dir(root)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.is_dir()),
        )
        .map(|h| h.join("peapod-test").join(id))
        .filter(|p| p.exists())
        .collect()
}
