//! A token server of our own (docker token authentication spec), on 127.0.0.1 over plain
//! HTTP: `GET /token?service=S&scope=repository:NAME:ACTIONS` with optional basic
//! credentials answers `{"token": JWT}`. The JWT is ES256-signed with the test PKI's token
//! key and carries that key's certificate in `x5c`, which distribution 2.8 verifies against
//! its `rootcertbundle` (our CA), then checks `iss`, `aud` (the service), `exp`/`nbf` and the
//! `access` claim.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};

use super::pki::Pki;

pub const SERVICE: &str = "peapod-test-registry";
pub const ISSUER: &str = "peapod-test-issuer";

/// Who may get tokens.
#[derive(Clone)]
pub struct Policy {
    pub user: String,
    pub password: String,
    /// Whether a request without credentials gets a pull-only token.
    pub anonymous_pull: bool,
}

/// The running token server; stopped (and its thread joined) on drop.
pub struct TokenIssuer {
    pub realm: String,
    requests: Arc<AtomicUsize>,
    unavailable: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TokenIssuer {
    pub fn start(pki: &Pki, policy: Policy) -> TokenIssuer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &pki.token_key_pkcs8,
            &SystemRandom::new(),
        )
        .unwrap();
        let x5c = STANDARD.encode(&pki.token_cert_der);
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let unavailable = Arc::new(AtomicUsize::new(0));
        let (r, s, u) = (requests.clone(), stop.clone(), unavailable.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        r.fetch_add(1, Ordering::Relaxed);
                        let down = u.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                            n.checked_sub(1)
                        });
                        let _ = match down {
                            // The request is read first: answering before it has all
                            // arrived, then closing, makes the client see a reset or a
                            // response to a request it has not finished sending.
                            Ok(_) => read_head(&conn)
                                .and_then(|_| respond(conn, "503 Service Unavailable", "{}")),
                            Err(_) => serve(conn, &key, &x5c, &policy),
                        };
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        TokenIssuer {
            realm: format!("http://127.0.0.1:{port}/token"),
            requests,
            unavailable,
            stop,
            thread: Some(thread),
        }
    }

    /// Answers the next `n` requests with 503 Service Unavailable.
    pub fn fail_next(&self, n: usize) {
        self.unavailable.store(n, Ordering::Relaxed);
    }

    /// Token requests answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }
}

impl Drop for TokenIssuer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads a request's line and headers (a GET has no body): `(request line, Authorization)`.
fn read_head(conn: &TcpStream) -> std::io::Result<(String, Option<String>)> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut authorization = None;
    for _ in 0..100 {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.trim().eq_ignore_ascii_case("authorization")
        {
            authorization = Some(v.trim().to_owned());
        }
    }
    Ok((request_line, authorization))
}

fn serve(conn: TcpStream, key: &EcdsaKeyPair, x5c: &str, policy: &Policy) -> std::io::Result<()> {
    let (request_line, authorization) = read_head(&conn)?;
    let target = request_line.split_whitespace().nth(1).unwrap_or("/");
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    let mut scopes = Vec::new();
    let mut service = String::new();
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "scope" => scopes.push(percent_decode(v)),
            "service" => service = percent_decode(v),
            _ => {}
        }
    }
    let user = match authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Basic "))
    {
        Some(b64) => {
            let decoded = STANDARD.decode(b64.trim()).unwrap_or_default();
            let text = String::from_utf8_lossy(&decoded).into_owned();
            if text != format!("{}:{}", policy.user, policy.password) {
                return respond(
                    conn,
                    "401 Unauthorized",
                    r#"{"details":"wrong credentials"}"#,
                );
            }
            Some(policy.user.clone())
        }
        None if policy.anonymous_pull => None,
        None => return respond(conn, "401 Unauthorized", r#"{"details":"login required"}"#),
    };
    if service != SERVICE {
        return respond(conn, "400 Bad Request", r#"{"details":"unknown service"}"#);
    }
    let access: Vec<serde_json::Value> = scopes
        .iter()
        .filter_map(|scope| {
            let (kind, rest) = scope.split_once(':')?;
            let (name, actions) = rest.rsplit_once(':')?;
            let actions: Vec<&str> = actions
                .split(',')
                .filter(|a| user.is_some() || *a == "pull")
                .collect();
            Some(serde_json::json!({"type": kind, "name": name, "actions": actions}))
        })
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "x5c": [x5c]});
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": user.unwrap_or_default(), "aud": SERVICE,
        "exp": now + 300, "nbf": now - 10, "iat": now,
        "jti": format!("{now}-{}", std::process::id()), "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key
        .sign(&SystemRandom::new(), signing_input.as_bytes())
        .unwrap();
    let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()));
    let body = serde_json::json!({"token": token, "expires_in": 300}).to_string();
    respond(conn, "200 OK", &body)
}

fn respond(mut conn: TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    conn.flush()
}
