//! `-p` specs: parsing, ranges and clear errors (no root needed).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test setup should panic

use peapod_net::{NetError, PortMapping, Proto};

fn parse(s: &str) -> PortMapping {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn specs_parse_and_print_back() {
    let p = parse("8080:80");
    assert_eq!(
        (p.host_ip, p.host_port, p.container_port, p.count, p.proto),
        (None, 8080, 80, 1, Proto::Tcp)
    );
    let p = parse("127.0.0.1:5353:53/udp");
    assert_eq!(
        (p.host_ip, p.proto),
        (Some("127.0.0.1".parse().unwrap()), Proto::Udp)
    );
    let p = parse("[::1]:8443:443/tcp");
    assert_eq!(p.host_ip, Some("::1".parse().unwrap()));
    let p = parse("8000-8002:9000-9002");
    assert_eq!(
        p.pairs().collect::<Vec<_>>(),
        [(8000, 9000), (8001, 9001), (8002, 9002)]
    );
    assert_eq!(
        parse("0.0.0.0:80:80").host_ip,
        None,
        "0.0.0.0 means every address"
    );
    for s in [
        "8080:80/tcp",
        "127.0.0.1:5353:53/udp",
        "[::1]:8443:443/tcp",
        "8000-8002:9000-9002/tcp",
    ] {
        assert_eq!(parse(s).to_string(), s);
    }
}

#[test]
fn bad_specs_say_why() {
    for (spec, why) in [
        ("80", "expected [HOSTIP:]HOSTPORT:CONTAINERPORT"),
        ("8080:80/sctp", "the protocol must be tcp or udp"),
        ("0:80", "port 0 is out of range (1-65535)"),
        ("8080:70000", "port 70000 is out of range (1-65535)"),
        ("http:80", "\"http\" is not a port number"),
        ("1.2.3:80:80", "not a host IPv4 address"),
        ("[::1:80:80", "[ADDRESS]:HOSTPORT:PORT"),
        ("9000-8000:80-90", "ends before it starts"),
        ("8000-8002:9000-9005", "ranges differ in length"),
        ("8000-8002:80", "ranges differ in length"),
    ] {
        match spec.parse::<PortMapping>() {
            Err(NetError::InvalidPort { input, reason }) => {
                assert_eq!(input, spec);
                assert!(reason.contains(why), "{spec}: {reason}");
            }
            other => panic!("{spec}: {other:?}"),
        }
    }
}
