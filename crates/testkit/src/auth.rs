//! Auth services for the gateway's tests, on 127.0.0.1:0 (scripted
//! [`crate::Upstream`]s): an OAuth2 token introspection endpoint
//! (RFC 7662) and a forward-auth service. Both count calls and can fail
//! or stall on demand.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;

use crate::upstream::RecordedRequest;
use crate::{Reply, Upstream};

/// What an auth service does with the next requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceMode {
    /// Answers as it should.
    Serve,
    /// Answers 500.
    Fail,
    /// Answers only after this long.
    Stall(Duration),
}

struct IntrospectionState {
    tokens: HashMap<String, Value>,
    mode: ServiceMode,
    delay: Duration,
}

/// An introspection endpoint: answers `POST` with `token=...` (form) from
/// a table of tokens (`{"active": false}` for the others); 401 without
/// the expected HTTP Basic client credentials.
pub struct IntrospectionServer {
    upstream: Upstream,
    state: Arc<Mutex<IntrospectionState>>,
}

impl std::fmt::Debug for IntrospectionServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IntrospectionServer({})", self.upstream.addr())
    }
}

impl IntrospectionServer {
    /// Accepts the client `id` with `secret`.
    pub fn start(id: &str, secret: &str) -> Self {
        let state = Arc::new(Mutex::new(IntrospectionState {
            tokens: HashMap::new(),
            mode: ServiceMode::Serve,
            delay: Duration::ZERO,
        }));
        let shared = state.clone();
        let expected = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
        let upstream = Upstream::scripted(move |req| {
            let s = shared.lock().unwrap();
            let reply = match s.mode {
                ServiceMode::Fail => return Reply::new(500),
                ServiceMode::Stall(d) => answer(&s, &expected, req).delay(d),
                ServiceMode::Serve => answer(&s, &expected, req).delay(s.delay),
            };
            reply.header("Content-Type", "application/json")
        });
        Self { upstream, state }
    }

    /// Its address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.upstream.addr()
    }

    /// Answers `claims` (with `"active": true` added) for `token`.
    pub fn activate(&self, token: &str, mut claims: Value) {
        claims["active"] = Value::Bool(true);
        self.state
            .lock()
            .unwrap()
            .tokens
            .insert(token.to_string(), claims);
    }

    /// How many introspection calls arrived.
    pub fn calls(&self) -> usize {
        self.upstream.request_count()
    }

    /// Every call received.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.upstream.requests()
    }

    /// Serves, fails or stalls from now on.
    pub fn set_mode(&self, mode: ServiceMode) {
        self.state.lock().unwrap().mode = mode;
    }

    /// Waits this long before each answer (to make calls overlap).
    pub fn set_delay(&self, delay: Duration) {
        self.state.lock().unwrap().delay = delay;
    }
}

fn answer(s: &IntrospectionState, expected: &str, req: &RecordedRequest) -> Reply {
    let auth = req
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if req.method != "POST" || auth != Some(expected) {
        return Reply::new(401).body(r#"{"error":"invalid_client"}"#);
    }
    let body = String::from_utf8_lossy(&req.body);
    let token = body
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == "token")
        .map(|(_, v)| form_decode(v))
        .unwrap_or_default();
    let doc = s
        .tokens
        .get(&token)
        .cloned()
        .unwrap_or_else(|| serde_json::json!({"active": false}));
    Reply::ok(doc.to_string())
}

/// `application/x-www-form-urlencoded` decoding (`+`, `%XX`).
fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A forward-auth service: `Authorization: Bearer good-NAME` is allowed
/// (200 with `X-Auth-User: NAME` and `X-Auth-Scope: all`); anything else
/// is denied with 401, `WWW-Authenticate: Bearer realm="ext"`, a
/// `X-Denied-By: ext-auth` field and the body `denied by ext-auth`.
pub struct ForwardAuthServer {
    upstream: Upstream,
    mode: Arc<Mutex<ServiceMode>>,
}

impl std::fmt::Debug for ForwardAuthServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ForwardAuthServer({})", self.upstream.addr())
    }
}

impl ForwardAuthServer {
    /// Starts serving.
    pub fn start() -> Self {
        let mode = Arc::new(Mutex::new(ServiceMode::Serve));
        let shared = mode.clone();
        let upstream = Upstream::scripted(move |req| match *shared.lock().unwrap() {
            ServiceMode::Fail => Reply::new(500).body("broken"),
            ServiceMode::Stall(d) => decide(req).delay(d),
            ServiceMode::Serve => decide(req),
        });
        Self { upstream, mode }
    }

    /// Its address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.upstream.addr()
    }

    /// How many decisions were asked for.
    pub fn calls(&self) -> usize {
        self.upstream.request_count()
    }

    /// The last request it received.
    pub fn last_request(&self) -> RecordedRequest {
        self.upstream.last_request()
    }

    /// Serves, fails or stalls from now on.
    pub fn set_mode(&self, mode: ServiceMode) {
        *self.mode.lock().unwrap() = mode;
    }
}

fn decide(req: &RecordedRequest) -> Reply {
    let auth = req
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    match auth.and_then(|a| a.strip_prefix("Bearer good-")) {
        Some(name) => Reply::new(200)
            .header("X-Auth-User", name)
            .header("X-Auth-Scope", "all"),
        None => Reply::new(401)
            .header("WWW-Authenticate", "Bearer realm=\"ext\"")
            .header("X-Denied-By", "ext-auth")
            .body("denied by ext-auth"),
    }
}
