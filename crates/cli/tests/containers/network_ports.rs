//! Published ports inside a fake host: `-P` (the image's exposed ports on free host ports),
//! UDP, ranges, what `peapod port` and inspect show, and bad specs refused.

use std::net::UdpSocket;
use std::time::Duration;

use crate::fake_host::{ask_until, exposing_image};
use crate::support::{Engine, in_netns};

const EXPOSING: &str = "localhost/exposing:latest";

/// Sends `msg` by UDP from the fake host to `to`, where `server` (bound in a container's
/// namespace) must receive it; returns what it received and from which address.
fn udp_exchange(e: &Engine, to: String, server: &UdpSocket, msg: &'static str) -> String {
    e.in_host(move || {
        let client = UdpSocket::bind("0.0.0.0:0").unwrap();
        client.send_to(msg.as_bytes(), &to).unwrap();
    });
    let mut buf = [0; 64];
    let (n, from) = server.recv_from(&mut buf).expect("a datagram within 5 s");
    format!("{}|{}", String::from_utf8_lossy(&buf[..n]), from.ip())
}

#[test]
#[ignore = "root: cargo xtask test"]
fn publish_all_udp_ranges_and_port_show_the_real_mappings() {
    let e = Engine::new();
    exposing_image(&e, &["80/tcp", "53/udp", "8080"]);
    let serve = "while true; do echo web | nc -l -p 80; done & \
                 while true; do echo range | nc -l -p 7101; done";
    e.ok(&[
        "run",
        "-d",
        "--name",
        "pa",
        "--network",
        "bridge",
        "-P",
        "-p",
        "8095:8080",
        "-p",
        "9100-9102:7100-7102",
        EXPOSING,
        "sh",
        "-c",
        serve,
    ]);
    // `port`: -P's choices in the kernel's ephemeral range, -p's as given, one line per
    // port of a range.
    let listing = e.okw("port pa");
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 6, "{listing}");
    let chosen = |what: &str| -> u16 {
        let line = lines.iter().find(|l| l.starts_with(what)).unwrap();
        line.rsplit(':').next().unwrap().parse().unwrap()
    };
    let (web, dns) = (chosen("80/tcp -> 0.0.0.0:"), chosen("53/udp -> 0.0.0.0:"));
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let bounds: Vec<u16> = range
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect();
    for p in [web, dns] {
        assert!((bounds[0]..=bounds[1]).contains(&p), "{p} in {range}");
    }
    for want in [
        "8080/tcp -> 0.0.0.0:8095",
        "7100/tcp -> 0.0.0.0:9100",
        "7101/tcp -> 0.0.0.0:9101",
        "7102/tcp -> 0.0.0.0:9102",
    ] {
        assert!(lines.contains(&want), "{want}: {listing}");
    }
    assert_eq!(e.okw("port pa 80"), format!("0.0.0.0:{web}\n"));
    assert_eq!(e.okw("port pa 53/udp"), format!("0.0.0.0:{dns}\n"));
    e.failsw("port pa 81", "no public port 81");
    let ports = e.ok(&[
        "inspect",
        "--format",
        "{{json .NetworkSettings.Ports}}",
        "pa",
    ]);
    assert!(
        ports.contains(&format!(
            r#""53/udp":[{{"HostIp":"0.0.0.0","HostPort":"{dns}"}}]"#
        )),
        "{ports}"
    );

    // TCP on -P's port and on a range's middle port, from the fake host.
    ask_until(&e, "host", "127.0.0.1", &web.to_string(), "web\n");
    ask_until(&e, "host", "127.0.0.1", "9101", "range\n");
    // UDP: a datagram to the published port, from the fake host's loopback and its
    // address on the bridge, reaches a socket bound in the container's namespace.
    let id = e.okw("inspect --format {{.Id}} pa");
    let pinned = e.runroot().join("netns").join(id.trim());
    let server = in_netns(&pinned, || {
        let s = UdpSocket::bind("0.0.0.0:53").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    });
    assert_eq!(
        udp_exchange(&e, format!("127.0.0.1:{dns}"), &server, "q1"),
        "q1|10.90.0.1"
    );
    assert_eq!(
        udp_exchange(&e, format!("10.90.0.1:{dns}"), &server, "q2"),
        "q2|10.90.0.1"
    );
    drop(server);

    // Bad specs and ports in use: refused, nothing changed.
    let before = e.state();
    for (line, needle) in [
        (
            "run --rm --network bridge -p 70000:80 IMAGE true",
            "out of range",
        ),
        (
            "run --rm --network bridge -p 0:80 IMAGE true",
            "out of range",
        ),
        (
            "run --rm --network bridge -p 80:http IMAGE true",
            "not a port number",
        ),
        (
            "run --rm --network bridge -p 9000-9001:80 IMAGE true",
            "differ in length",
        ),
        (
            "run --rm --network bridge -p 8095:80 IMAGE true",
            "8095/tcp",
        ),
        (
            "run --rm --network bridge -p 9102:80 IMAGE true",
            "already in use",
        ),
        (
            "run --rm --network none -P IMAGE true",
            "needs a bridge network",
        ),
        (
            "run --rm --network host -p 8096:80 IMAGE true",
            "needs a bridge network",
        ),
    ] {
        e.failsw(line, needle);
    }
    assert_eq!(e.state(), before, "nothing changed");

    // Another -P container gets other host ports.
    e.okw(&format!(
        "create --name pb --network bridge -P {EXPOSING} true"
    ));
    let other = e.okw("port pb");
    assert_eq!(other.lines().count(), 3, "{other}");
    for p in [web, dns] {
        assert!(!other.contains(&format!(":{p}\n")), "{p} twice: {other}");
    }
    e.okw("rm -f pa pb");
    e.wait_clean();
    let rules = e.host.ruleset();
    assert!(
        !rules.contains("elements = { tcp") && !rules.contains("udp ."),
        "{rules}"
    );
    e.assert_clean();
}
