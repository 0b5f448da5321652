//! How long one container's network takes to set up and tear down: a persisted netns, the
//! veth pair with addresses, routes and lo, and one published port, then all of it removed.
//! Runs as root inside a network namespace of its own (a fake host), so the real host is
//! never touched:
//!
//! ```text
//! cargo run --release -p peapod-net --example setup_time [RUNS]
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: any failure should stop it

use std::net::IpAddr;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::sched::{CloneFlags, unshare};
use peapod_net::{
    Attachment, Bridge, ContainerPorts, Firewall, NetworkRules, Nftables, Subnet, create_netns,
    detach, link_names, remove_netns,
};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .map_or(50, |s| s.parse().expect("RUNS is a number"));
    unshare(CloneFlags::CLONE_NEWNET).expect("unshare a fake host netns (run as root)");
    let dir = tempfile::tempdir().unwrap();
    let subnet: Subnet = "10.79.0.0/24".parse().unwrap();
    Bridge {
        name: "ppbench0".into(),
        addresses: vec![subnet.gateway_net()],
        mtu: None,
    }
    .ensure()
    .unwrap();
    let fw = Nftables::default();
    let net = NetworkRules {
        bridge: "ppbench0".into(),
        subnets: vec![subnet.net()],
        internal: false,
    };
    fw.setup_network(&net).unwrap();

    // Phases, in order: netns, veth, publish, unpublish, veth delete, netns removal; then the
    // same container torn down by unpinning its netns alone (the kernel deletes the veth pair
    // with the namespace, in the background), and how long until the host end is gone.
    let mut phases: [Vec<Duration>; 6] = Default::default();
    let (mut unpin_only, mut gone_after) = (vec![], vec![]);
    for i in 0..runs {
        let path = dir.path().join(format!("bench-{i}"));
        let IpAddr::V4(ip) = subnet.allocate(&Default::default()).unwrap() else {
            unreachable!("a v4 subnet")
        };
        let ports = ContainerPorts {
            id: format!("bench{i}"),
            ipv4: Some(ip),
            ipv6: None,
            ports: vec!["8080:80".parse().unwrap()],
        };
        let attachment = Attachment {
            bridge: "ppbench0".into(),
            host_ifname: "ppbench-veth".into(),
            container_ifname: "eth0".into(),
            addresses: vec![subnet.with_prefix(ip.into())],
            gateways: vec![subnet.gateway()],
            mtu: None,
        };
        let mut marks = vec![Instant::now()];
        let ns = create_netns(&path).unwrap();
        marks.push(Instant::now());
        attachment.attach(ns.as_fd()).unwrap();
        marks.push(Instant::now());
        fw.publish(&ports).unwrap();
        marks.push(Instant::now());
        fw.unpublish(&ports).unwrap();
        marks.push(Instant::now());
        detach("ppbench-veth").unwrap();
        marks.push(Instant::now());
        drop(ns);
        remove_netns(&path).unwrap();
        marks.push(Instant::now());
        for (phase, pair) in phases.iter_mut().zip(marks.windows(2)) {
            phase.push(pair[1] - pair[0]);
        }

        let ns = create_netns(&path).unwrap();
        attachment.attach(ns.as_fd()).unwrap();
        drop(ns);
        let t0 = Instant::now();
        remove_netns(&path).unwrap();
        unpin_only.push(t0.elapsed());
        while link_names().unwrap().iter().any(|l| l == "ppbench-veth") {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "the veth outlived its netns"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        gone_after.push(t0.elapsed());
    }
    fw.teardown_network(&net).unwrap();
    Bridge::remove_if_unused("ppbench0").unwrap();
    let [netns, veth, publish, unpublish, detach, unpin] = phases.map(median);
    println!("peapod-net: one container's network set up and torn down, medians of {runs} runs");
    println!("  netns create + pin + lo up      {}", ms(netns));
    println!("  veth + addresses + route + up   {}", ms(veth));
    println!("  publish one port (nft -f)       {}", ms(publish));
    println!("  unpublish it (nft -f)           {}", ms(unpublish));
    println!("  veth delete                     {}", ms(detach));
    println!("  netns unpin                     {}", ms(unpin));
    println!(
        "  total without published ports   {}",
        ms(netns + veth + detach + unpin)
    );
    println!(
        "  total with one published port   {}",
        ms(netns + veth + publish + unpublish + detach + unpin)
    );
    let (unpin_only, gone_after) = (median(unpin_only), median(gone_after));
    println!("teardown by unpinning the netns alone (the kernel deletes the veth with it):");
    println!("  unpin                           {}", ms(unpin_only));
    println!(
        "  host veth gone after            {} (in the background)",
        ms(gone_after)
    );
    println!(
        "  total without published ports   {}",
        ms(netns + veth + unpin_only)
    );
}
