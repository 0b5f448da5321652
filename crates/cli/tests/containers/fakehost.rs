//! A fake host: a network namespace the test creates (`ip netns add`) holding the bridges and
//! the nft table, with `peapod` run inside it; no traffic leaves this machine.

use std::process::{Command, Output, Stdio};

use crate::support::{Engine, text};

/// A named network namespace, deleted on drop.
pub(crate) struct FakeHost {
    pub(crate) name: String,
}

impl FakeHost {
    pub(crate) fn new(engine: &Engine) -> Self {
        let unique = engine
            .tmp
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let name = format!("pp-{}", &unique[unique.len() - 6..]);
        for args in [
            &["netns", "add", &name][..],
            &["-n", &name, "link", "set", "lo", "up"][..],
        ] {
            let out = Command::new("ip").args(args).output().unwrap();
            assert!(out.status.success(), "ip {args:?}: {}", text(&out));
        }
        Self { name }
    }

    pub(crate) fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }

    /// `peapod ARGS` run inside the fake host (its network namespace only).
    pub(crate) fn peapod(&self, e: &Engine, args: &[&str]) -> Output {
        let inner = e.cmd(args);
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net={}", self.path()))
            .arg(inner.get_program())
            .args(inner.get_args());
        cmd.stdin(Stdio::null()).output().unwrap()
    }

    pub(crate) fn ok(&self, e: &Engine, args: &[&str]) -> String {
        let out = self.peapod(e, args);
        assert!(out.status.success(), "peapod {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The links of the fake host.
    pub(crate) fn links(&self) -> String {
        let out = Command::new("ip")
            .args(["-n", &self.name, "-br", "link"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for FakeHost {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}
