//! The cross-check with real tools: `podman build` (Debian's podman, buildah inside, with
//! runc) of the same Containerfile gives the same filesystem (paths, types, modes, owners,
//! contents and link targets), both images saved as oci-archives and unpacked with
//! `skopeo` and `umoci`.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Engine, IMAGE, text};
use crate::{assert_clean, build_ok, context};

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// path → (type and content or target, mode, uid, gid) of every entry below `root`.
fn tree(root: &Path) -> BTreeMap<String, (String, u32, u32, u32)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let what = if m.is_dir() {
                stack.push(p.clone());
                "dir".to_owned()
            } else if m.file_type().is_symlink() {
                format!("link {}", std::fs::read_link(&p).unwrap().display())
            } else if m.is_file() {
                format!(
                    "file {:x?}",
                    std::fs::read(&p)
                        .unwrap()
                        .iter()
                        .fold(0u64, |h, b| h.wrapping_mul(131).wrapping_add(u64::from(*b)))
                )
            } else {
                format!("special {:o}", m.mode() & 0o170000)
            };
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            out.insert(rel, (what, m.mode() & 0o7777, m.uid(), m.gid()));
        }
    }
    out
}

/// Unpacks the oci-archive `archive` with skopeo and umoci; the rootfs.
fn unpack(archive: &Path, work: &Path) -> PathBuf {
    std::fs::create_dir_all(work).unwrap();
    let layout = work.join("layout");
    ok(Command::new("skopeo")
        .args(["copy", "--quiet"])
        .arg(format!("oci-archive:{}", archive.display()))
        .arg(format!("oci:{}:x", layout.display())));
    let bundle = work.join("bundle");
    ok(Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:x", layout.display()))
        .arg(&bundle));
    bundle.join("rootfs")
}

#[test]
#[ignore = "root: cargo xtask test"]
fn podman_build_of_the_same_containerfile_gives_the_same_filesystem() {
    let e = Engine::new();
    let ctx = context(
        &e,
        "cross",
        &[
            ("a.txt", "alpha\n"),
            ("dir/b.txt", "beta\n"),
            ("dir/sub/c", "gamma\n"),
            (
                "Containerfile",
                &format!(
                    "FROM {IMAGE}\nCOPY --chown=1:2 --chmod=640 a.txt /data/a.txt\nCOPY dir /data/dir/\nADD tool.tar /opt/\nRUN mkdir -p /made/deep && echo hi > /made/deep/f && ln -s ../f /made/deep/link && ln /made/deep/f /made/hard && chmod 700 /made && rm -rf /usr/sbin && rm /bin/ls\nWORKDIR /home/x\nRUN echo $PWD > /where\nUSER nobody\nCMD [\"cat\", \"/where\"]\n"
                ),
            ),
        ],
    );
    {
        let mut tar = tar::Builder::new(std::fs::File::create(ctx.join("tool.tar")).unwrap());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o751);
        h.set_uid(7);
        h.set_gid(8);
        tar.append_data(&mut h, "tool/bin", &b"run"[..]).unwrap();
        tar.finish().unwrap();
    }
    build_ok(&e, &["-t", "cross", ctx.to_str().unwrap()]);
    let ours = e.tmp.path().join("ours.tar");
    e.ok(&[
        "save",
        "--format",
        "oci-archive",
        "-o",
        ours.to_str().unwrap(),
        "cross",
    ]);
    // podman in a root of its own (its run root under 50 characters).
    let proot = e.tmp.path().join("podman");
    let runroot = PathBuf::from(format!("/run/pp-build-{}", std::process::id()));
    let podman = || {
        let mut c = Command::new("podman");
        c.arg("--root").arg(&proot).arg("--runroot").arg(&runroot);
        c.args([
            "--storage-driver",
            "overlay",
            "--cgroup-manager",
            "cgroupfs",
        ]);
        c.args(["--events-backend", "file", "--runtime", "runc"]);
        c
    };
    let exe = std::env::current_exe().unwrap();
    let ours_oci = exe.ancestors().nth(3).unwrap().join("fixtures/busybox/oci");
    let id = ok(podman()
        .args(["pull", "-q"])
        .arg(format!("oci:{}:latest", ours_oci.display())));
    ok(podman().args(["tag", id.trim(), IMAGE]));
    ok(podman()
        .args(["build", "-q", "--pull=never", "--network", "none"])
        .args([
            "--ulimit",
            "nofile=20000:20000",
            "--ulimit",
            "nproc=32768:32768",
        ])
        .args(["-t", "cross"])
        .arg(&ctx));
    let theirs = e.tmp.path().join("theirs.tar");
    ok(podman()
        .args(["save", "--format", "oci-archive", "-o"])
        .arg(&theirs)
        .arg("cross"));
    let _ = podman().args(["rmi", "-a", "-f"]).output();
    let _ = podman().args(["system", "reset", "-f"]).output();
    let a = tree(&unpack(&ours, &e.tmp.path().join("u-ours")));
    let mut b = tree(&unpack(&theirs, &e.tmp.path().join("u-theirs")));
    // buildah 1.28 leaves the empty mount point it made for /etc/hostname in the RUN's
    // layer (mode 0755); we take ours out, as docker does.
    if b.get("etc/hostname").is_some_and(|v| v.0 == "file 0") && !a.contains_key("etc/hostname") {
        b.remove("etc/hostname");
    }
    let only_ours: Vec<_> = a.iter().filter(|(k, v)| b.get(*k) != Some(v)).collect();
    let only_theirs: Vec<_> = b.iter().filter(|(k, v)| a.get(*k) != Some(v)).collect();
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "ours differs at {only_ours:#?}\npodman's at {only_theirs:#?}"
    );
    assert!(a.contains_key("made/deep/link") && !a.contains_key("usr/sbin"));
    let _ = std::fs::remove_dir_all(&runroot);
    e.ok(&["rmi", "cross"]);
    assert_clean(&e);
}
