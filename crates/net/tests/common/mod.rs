//! Shared helpers of the privileged tests: a fake host per test, and what it must look like at
//! the end.

#![allow(dead_code, unreachable_pub)] // each test binary uses some of the helpers
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test setup should panic

use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use nix::sched::{CloneFlags, unshare};

/// Moves the calling test thread into a new network namespace, the "fake host" that holds the
/// bridge and the nft table; it dies with the thread. Loopback is brought up. Returns a
/// temporary directory for the test's namespace files, which unpins whatever is left in it
/// when dropped (a failed test leaves no mount behind either).
pub fn fake_host() -> NsDir {
    unshare(CloneFlags::CLONE_NEWNET).expect("unshare a fake host netns (are we root?)");
    run_ip(None, &["link", "set", "lo", "up"]);
    NsDir(tempfile::tempdir().expect("a temporary directory"))
}

/// A temporary directory of persisted namespaces.
pub struct NsDir(tempfile::TempDir);

impl NsDir {
    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for NsDir {
    fn drop(&mut self) {
        for entry in std::fs::read_dir(self.0.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let _ = peapod_net::remove_netns(&entry.path());
        }
    }
}

/// Runs `ip ARGS` in the current thread's netns, or in `netns` if given; panics on failure.
pub fn run_ip(netns: Option<&OwnedFd>, args: &[&str]) -> String {
    let go = || {
        let out = Command::new("ip").args(args).output().expect("run ip");
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    match netns {
        Some(ns) => peapod_net::in_netns(ns.as_fd(), go).unwrap(),
        None => go().unwrap(),
    }
}

/// A TCP listener inside `netns` on `addr`.
pub fn listen_in(netns: &OwnedFd, addr: &str) -> TcpListener {
    let addr = addr.to_owned();
    peapod_net::in_netns(netns.as_fd(), move || {
        Ok(TcpListener::bind(&addr).expect("bind"))
    })
    .unwrap()
}

/// Connects from `netns` (or the current thread's) to `addr`, sends `msg` and returns what
/// the peer accepted on `listener` read, with every wait bounded.
pub fn exchange(
    netns: Option<&OwnedFd>,
    addr: &str,
    listener: &TcpListener,
    msg: &str,
) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let target: std::net::SocketAddr = addr.parse().expect("socket address");
    let connect = move || {
        let mut s = TcpStream::connect_timeout(&target, Duration::from_secs(5)).map_err(|e| {
            peapod_net::NetError::Io {
                what: format!("connect {target}"),
                source: e,
            }
        })?;
        s.write_all(msg.as_bytes()).expect("write");
        Ok(s)
    };
    let stream = match netns {
        Some(ns) => peapod_net::in_netns(ns.as_fd(), connect),
        None => connect(),
    };
    let _stream = match stream {
        Ok(s) => s,
        Err(peapod_net::NetError::Io { source, .. }) => return Err(source),
        Err(e) => panic!("{e}"),
    };
    listener.set_nonblocking(false)?;
    let (mut conn, peer) = listener.accept()?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut buf = vec![0; msg.len()];
    conn.read_exact(&mut buf)?;
    Ok(format!("{}|{}", String::from_utf8_lossy(&buf), peer.ip()))
}

/// Asserts that `path` is neither a file nor a mount point any more.
pub fn assert_netns_gone(path: &Path) {
    assert!(!path.exists(), "{} still exists", path.display());
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mounted = mountinfo
        .lines()
        .any(|line| line.split(' ').nth(4) == path.to_str());
    assert!(!mounted, "{} is still mounted", path.display());
}

/// A bridge `name` holding the gateway of `subnet`, and its NAT rules set up.
pub fn bridge_network(
    name: &str,
    subnet: &str,
) -> (peapod_net::Nftables, peapod_net::NetworkRules) {
    use peapod_net::Firewall as _;
    let subnet: peapod_net::Subnet = subnet.parse().unwrap();
    peapod_net::Bridge {
        name: name.into(),
        addresses: vec![subnet.gateway_net()],
        mtu: None,
    }
    .ensure()
    .unwrap();
    let fw = peapod_net::Nftables::default();
    let rules = peapod_net::NetworkRules {
        bridge: name.into(),
        subnets: vec![subnet.net()],
        internal: false,
    };
    fw.setup_network(&rules).unwrap();
    (fw, rules)
}
