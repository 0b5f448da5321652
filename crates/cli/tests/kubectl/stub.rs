//! A stub Kubernetes API server on 127.0.0.1 (a port of its own), serving what
//! `kubectl apply --dry-run=client` asks for: discovery (`/api`, `/api/v1`, `/apis`,
//! `/apis/apps/v1`), the OpenAPI v2 document (protobuf, see [`crate::openapi`]) its
//! client-side validation reads, and a 404 `Status` for everything else, so that the GET of
//! the object says it does not exist yet and apply creates it (in a dry run: nothing is
//! sent). Stopped and joined on drop.
//!
//! Plain `std::net`: the needs are a handful of GETs answered one connection at a time
//! (`Connection: close`), with no TLS, body or keep-alive; an HTTP server crate (and the
//! async runtime most bring) would be more code to read than this.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The running stub.
pub(crate) struct ApiServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

/// The bodies it serves, made once.
struct Routes {
    openapi: Vec<u8>,
}

const JSON: &str = "application/json";
/// What kube-openapi answers with (`mime` in Go would refuse the `@` of the name asked for).
const PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

impl ApiServer {
    /// Listens on 127.0.0.1 (a free port) and serves `openapi` (the protobuf document) at
    /// `/openapi/v2`.
    pub(crate) fn start(openapi: Vec<u8>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let routes = Routes { openapi };
        let thread = {
            let (stop, requests) = (stop.clone(), requests.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream
                        && let Some(line) = serve(stream, &routes)
                    {
                        requests.lock().unwrap().push(line);
                    }
                }
            })
        };
        Self {
            addr,
            stop,
            requests,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The requests served so far, method and path (`GET /api/v1`), in order.
    pub(crate) fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which then sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one request head (bounded in size and time), answers it, closes; its method and path.
fn serve(mut stream: TcpStream, routes: &Routes) -> Option<String> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 || head.len() > 64 * 1024 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let line = head.lines().next().unwrap_or_default().to_owned();
    let mut parts = line.split(' ');
    let (method, target) = (parts.next()?, parts.next()?);
    let path = target.split('?').next().unwrap_or_default();
    let (status, kind, body) = if method == "GET" {
        route(path, routes)
    } else {
        (
            405,
            JSON,
            status_json(405, "MethodNotAllowed", path).into_bytes(),
        )
    };
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let mut response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(&body);
    stream.write_all(&response).ok()?;
    Some(format!("{method} {path}"))
}

fn route(path: &str, routes: &Routes) -> (u16, &'static str, Vec<u8>) {
    let ok = |body: String| (200, JSON, body.into_bytes());
    match path {
        "/openapi/v2" => (200, PROTOBUF, routes.openapi.clone()),
        "/version" => ok(r#"{"major":"1","minor":"20","gitVersion":"v1.20.2","platform":"linux/amd64"}"#.into()),
        "/api" => ok(r#"{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[]}"#.into()),
        "/apis" => ok(
            r#"{"kind":"APIGroupList","apiVersion":"v1","groups":[{"name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],"preferredVersion":{"groupVersion":"apps/v1","version":"v1"}}]}"#.into(),
        ),
        "/api/v1" => ok(resource_list(
            "v1",
            &[("pods", "Pod", true, "po"), ("namespaces", "Namespace", false, "ns")],
        )),
        "/apis/apps/v1" => ok(resource_list(
            "apps/v1",
            &[("deployments", "Deployment", true, "deploy")],
        )),
        _ => (404, JSON, status_json(404, "NotFound", path).into_bytes()),
    }
}

/// An `APIResourceList` of `(plural, kind, namespaced, short name)`.
fn resource_list(group_version: &str, resources: &[(&str, &str, bool, &str)]) -> String {
    let verbs = [
        "create", "delete", "get", "list", "patch", "update", "watch",
    ];
    let list: Vec<serde_json::Value> = resources
        .iter()
        .map(|(name, kind, namespaced, short)| {
            serde_json::json!({
                "name": name, "singularName": kind.to_lowercase(), "namespaced": namespaced,
                "kind": kind, "verbs": verbs, "shortNames": [short],
            })
        })
        .collect();
    serde_json::json!({
        "kind": "APIResourceList", "apiVersion": "v1",
        "groupVersion": group_version, "resources": list,
    })
    .to_string()
}

/// A `Status` failure, as the API server sends for a missing object.
fn status_json(code: u16, reason: &str, path: &str) -> String {
    serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": format!("{path}: {reason} (peapod's stub API server)"),
        "reason": reason, "code": code,
    })
    .to_string()
}
