//! What /sys shows: the kernel tags a sysfs mount with the network namespace of the process
//! that mounts it, so `/sys/class/net` must list the container's own devices when it has a
//! network namespace (new, or joined by path), never the host's (which leak the host's
//! interfaces), and the runtime's when it shares the runtime's.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::json;

use crate::support::{World, text};

/// The link names `ip -o link` lists in the test's (the host's) network namespace, or in
/// the named one; without the `@ifN` / `@peer` suffix.
fn links(netns: Option<&str>) -> BTreeSet<String> {
    let mut cmd = Command::new("ip");
    if let Some(name) = netns {
        cmd.args(["-n", name]);
    }
    let out = cmd.args(["-o", "link"]).output().unwrap();
    assert!(out.status.success(), "ip -o link: {}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|name| name.split('@').next().unwrap_or(name).to_owned())
        .collect()
}

/// What the container lists in /sys/class/net (its process is `ls -1 /sys/class/net`).
fn listed(world: &World) -> BTreeSet<String> {
    let out = world.run();
    assert!(out.status.success(), "{}", text(&out));
    world.assert_nothing_left();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// A named network namespace (`ip netns add`) holding one end of a veth pair whose other
/// end stays on the host; deleted (with the pair) on drop if the test did not get to it.
struct Netns {
    name: String,
    host_end: String,
    inner_end: String,
}

impl Netns {
    /// `tag`: one letter, unique among the tests of this process (they run in parallel).
    fn with_veth(tag: char) -> Self {
        let pid = std::process::id();
        let netns = Self {
            name: format!("peapod-sysfs-{pid}-{tag}"),
            host_end: format!("psys{pid}{tag}a"),
            inner_end: format!("psys{pid}{tag}b"),
        };
        let run = |args: &[&str]| {
            let out = Command::new("ip").args(args).output().unwrap();
            assert!(out.status.success(), "ip {args:?}: {}", text(&out));
        };
        run(&["netns", "add", &netns.name]);
        run(&[
            "link",
            "add",
            &netns.host_end,
            "type",
            "veth",
            "peer",
            "name",
            &netns.inner_end,
            "netns",
            &netns.name,
        ]);
        netns
    }

    fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }

    /// Deletes the namespace and asserts that neither it nor the host's veth end is left.
    fn delete(self) {
        let out = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .output()
            .unwrap();
        assert!(out.status.success(), "ip netns delete: {}", text(&out));
        assert!(!std::path::Path::new(&self.path()).exists());
        // The pair goes with its end in the namespace; the kernel frees it asynchronously.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while links(None).contains(&self.host_end) {
            assert!(
                std::time::Instant::now() < deadline,
                "veth {} left on the host",
                self.host_end
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .output();
    }
}

/// Joins the network namespace at `path` instead of making one.
fn join_network(world: &mut World, path: &str) {
    let namespaces = world.config["linux"]["namespaces"].as_array_mut().unwrap();
    namespaces.retain(|ns| ns["type"] != "network");
    namespaces.push(json!({"type": "network", "path": path}));
}

#[test]
#[ignore = "root: cargo xtask test"]
fn a_new_network_namespace_shows_only_its_loopback_in_sys() {
    // A link of the host's of our own (a guest may have only lo), so that a leak shows.
    let netns = Netns::with_veth('n');
    let host = links(None);
    assert!(host.contains(&netns.host_end), "{host:?}");
    let world = World::new("sysfs-new", &["ls", "-1", "/sys/class/net"]);
    assert_eq!(listed(&world), set(&["lo"]), "host links: {host:?}");
    netns.delete();
}

/// The bug this guards: a namespace joined by path got the runtime's /sys bound, which
/// listed the host's devices and not the container's own (its veth, its eth0).
#[test]
#[ignore = "root: cargo xtask test"]
fn a_network_namespace_joined_by_path_shows_its_own_devices_in_sys() {
    let netns = Netns::with_veth('j');
    let inside = links(Some(&netns.name));
    assert_eq!(inside, set(&["lo", &netns.inner_end]));
    let host = links(None);
    assert!(host.contains(&netns.host_end), "{host:?}");
    let mut world = World::new("sysfs-joined", &["ls", "-1", "/sys/class/net"]);
    join_network(&mut world, &netns.path());
    let seen = listed(&world);
    assert_eq!(seen, inside, "host links: {host:?}");
    let leaked: Vec<_> = seen.intersection(&host).filter(|l| *l != "lo").collect();
    assert!(leaked.is_empty(), "host links visible inside: {leaked:?}");
    netns.delete();
}

/// Without a network namespace the container shares the runtime's, and /sys shows it.
#[test]
#[ignore = "root: cargo xtask test"]
fn a_container_sharing_the_runtimes_network_namespace_sees_its_devices_in_sys() {
    // A link of the host's of our own (a guest may have only lo) that it must see.
    let netns = Netns::with_veth('s');
    let mut world = World::new("sysfs-shared", &["ls", "-1", "/sys/class/net"]);
    world.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|ns| ns["type"] != "network");
    let before = links(None);
    let seen = listed(&world);
    // Other tests on the machine may add or remove links meanwhile: those present before
    // and after must all be seen.
    let after = links(None);
    let stable: BTreeSet<_> = before.intersection(&after).cloned().collect();
    assert!(stable.contains(&netns.host_end), "{stable:?}");
    assert!(seen.is_superset(&stable), "seen {seen:?}, host {stable:?}");
    netns.delete();
}

/// A new user namespace does not own a network namespace the host made: the kernel refuses
/// it a sysfs, and the runtime says why rather than bind the host's /sys (runc refuses too).
#[test]
#[ignore = "root: cargo xtask test"]
fn a_user_namespace_not_owning_the_joined_network_namespace_is_refused_clearly() {
    let netns = Netns::with_veth('u');
    let mut world = World::new("sysfs-userns", &["ls", "-1", "/sys/class/net"]);
    join_network(&mut world, &netns.path());
    world.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    world.config["linux"]["uidMappings"] = map.clone();
    world.config["linux"]["gidMappings"] = map;
    let out = world.run();
    assert!(!out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot mount sysfs on /sys")
            && stderr.contains("only a user namespace owning the container's network namespace"),
        "{}",
        text(&out)
    );
    assert!(out.stdout.is_empty(), "{}", text(&out));
    world.assert_nothing_left();
    netns.delete();
}
