//! The network probes, in the forked child: `httpGet` and `tcpSocket` from inside the
//! container's network namespace.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use crate::container::ProbeAction;
use crate::monitor::health::OUTPUT_LIMIT;

/// In the forked child: joins the container's network namespace and runs an `httpGet` or
/// `tcpSocket` check; 0 on success, 1 on failure, with a message on `out`.
pub(super) fn check(action: &ProbeAction, init_pid: i32, out: &OwnedFd) -> i32 {
    let (ok, message) = match join_netns(init_pid) {
        Ok(()) => match action {
            ProbeAction::HttpGet {
                host,
                port,
                path,
                headers,
            } => http_get(host.as_deref(), *port, path, headers),
            ProbeAction::TcpSocket { host, port } => {
                tcp_connect(host.as_deref(), *port).map(|_| format!("connected to port {port}"))
            }
            ProbeAction::Exec { .. } => Err("not a network probe".into()),
        }
        .map_or_else(|e| (false, e), |m| (true, m)),
        Err(e) => (false, e),
    };
    let _ = nix::unistd::write(out.as_fd(), message.as_bytes());
    i32::from(!ok)
}

fn join_netns(init_pid: i32) -> Result<(), String> {
    let path = format!("/proc/{init_pid}/ns/net");
    let ns = std::fs::File::open(&path).map_err(|e| format!("cannot open {path}: {e}"))?;
    nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("cannot join the network namespace {path}: {e}"))
}

/// The probe's timeout bounds the whole check (the monitor kills the child then); these
/// bound each socket call so that the child never outlives it by much.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(30);

fn tcp_connect(host: Option<&str>, port: u16) -> Result<TcpStream, String> {
    let ip: IpAddr = match host {
        Some(h) => h
            .parse()
            .map_err(|_| format!("probe host {h:?} is not an IP address"))?,
        None => IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    let addr = SocketAddr::new(ip, port);
    let stream = TcpStream::connect_timeout(&addr, SOCKET_TIMEOUT)
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let _ = stream.set_read_timeout(Some(SOCKET_TIMEOUT));
    let _ = stream.set_write_timeout(Some(SOCKET_TIMEOUT));
    Ok(stream)
}

/// `GET path` over HTTP/1.1; success for a status of 200–399, as Kubernetes'.
fn http_get(
    host: Option<&str>,
    port: u16,
    path: &str,
    headers: &[(String, String)],
) -> Result<String, String> {
    let mut stream = tcp_connect(host, port)?;
    let request = request(host.unwrap_or("127.0.0.1"), port, path, headers);
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("cannot send the request to port {port}: {e}"))?;
    let mut buf = Vec::with_capacity(OUTPUT_LIMIT);
    let mut chunk = [0u8; 1024];
    loop {
        let mut parsed = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut parsed);
        match response.parse(&buf) {
            Ok(httparse::Status::Complete(_)) => {
                let code = response.code.unwrap_or(0);
                let reason = response.reason.unwrap_or("");
                return if (200..400).contains(&code) {
                    Ok(format!("HTTP {code} {reason}"))
                } else {
                    Err(format!("HTTP probe failed with status {code} {reason}"))
                };
            }
            Ok(httparse::Status::Partial) if buf.len() < OUTPUT_LIMIT => {}
            Ok(httparse::Status::Partial) => {
                return Err("the response head is larger than 4 KiB".into());
            }
            Err(e) => return Err(format!("not an HTTP response: {e}")),
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err("the server closed the connection before answering".into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("cannot read the response: {e}")),
        }
    }
}

/// The request as Kubernetes' prober sends it (its `User-Agent` and `Accept`, replaced by
/// the probe's own headers of those names).
fn request(host: &str, port: u16, path: &str, headers: &[(String, String)]) -> String {
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let path = if path.is_empty() { "/" } else { path };
    let mut text = format!("GET {path} HTTP/1.1\r\n");
    if !has("host") {
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        text.push_str(&format!("Host: {host}:{port}\r\n"));
    }
    if !has("user-agent") {
        text.push_str("User-Agent: peapod-probe/1.0\r\n");
    }
    if !has("accept") {
        text.push_str("Accept: */*\r\n");
    }
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("Connection: close\r\n\r\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_has_defaults_unless_overridden() {
        let r = request("127.0.0.1", 8080, "", &[]);
        assert_eq!(
            r,
            "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: peapod-probe/1.0\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        let r = request(
            "::1",
            80,
            "/healthz?x=1",
            &[("Host".into(), "app".into()), ("X-A".into(), "b".into())],
        );
        assert!(r.starts_with("GET /healthz?x=1 HTTP/1.1\r\n"), "{r}");
        assert!(!r.contains("[::1]"), "{r}");
        assert!(r.contains("Host: app\r\nX-A: b\r\n"), "{r}");
    }

    fn serve_once(response: &'static [u8]) -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(response);
        });
        port
    }

    #[test]
    fn http_status_decides() {
        let port = serve_once(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(
            http_get(None, port, "/", &[]),
            Ok("HTTP 204 No Content".into())
        );
        let port = serve_once(b"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n");
        assert!(http_get(None, port, "/", &[]).is_ok());
        let port = serve_once(b"HTTP/1.0 500 Oops\r\n\r\n");
        let err = http_get(None, port, "/", &[]).unwrap_err();
        assert!(err.contains("status 500"), "{err}");
        let port = serve_once(b"SSH-2.0-OpenSSH\r\n\r\n");
        let err = http_get(None, port, "/", &[]).unwrap_err();
        assert!(err.contains("not an HTTP response"), "{err}");
    }

    #[test]
    fn refused_and_bad_host_are_failures() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let err = tcp_connect(None, port).unwrap_err();
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
        let err = tcp_connect(Some("example.org"), 80).unwrap_err();
        assert!(err.contains("not an IP address"), "{err}");
    }
}
