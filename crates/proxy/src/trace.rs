//! Tracing glue: the W3C trace context of each request and the spans
//! tollgate records for it, named and attributed per the OpenTelemetry
//! HTTP semantic conventions (v1.26+ stable names).
//!
//! - [`begin`] (when the route's snapshot has a tracer): reads the
//!   client's `traceparent` (exactly one valid field, else a new trace) and
//!   `tracestate` (kept only with a valid `traceparent`), takes both out of
//!   the request, decides sampling and picks the server span's id.
//! - [`begin_client`], once per upstream attempt: a new span id, written
//!   to the upstream as its parent in `traceparent` (and `tracestate` as
//!   received), sampled or not, so the context always travels on.
//! - [`end_client`] / [`end_server`]: the sampled spans go to the
//!   exporter's buffers, as borrowed records encoded there at once (no
//!   owned attribute strings); an unsampled request records nothing,
//!   reads no clock and allocates nothing here beyond its `traceparent`.
//!
//! Without `tracing:` none of this runs and the client's fields pass
//! through untouched.

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};

use http::header::Entry;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Version};
use tollgate_config::PathMatch;
use tollgate_ops::trace::{
    hex_lower, new_span_id, new_trace_id, parse_traceparent, traceparent, unix_nanos_now, Attr,
    SpanId, SpanKind, SpanRecord, TraceId, TraceParent, Tracer,
};

use crate::pipeline::{request_host, Exchange, Incoming};
use crate::snapshot::Worker;

static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
static TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// A request's place in its trace (kept in the exchange, not boxed: an
/// unsampled request allocates nothing for it).
#[derive(Debug)]
pub(crate) struct RequestTrace {
    trace_id: TraceId,
    /// tollgate's server span.
    span_id: SpanId,
    /// The caller's span, from a valid `traceparent`.
    parent: Option<SpanId>,
    /// The caller's `tracestate`, passed on unchanged.
    state: Option<HeaderValue>,
    /// What the server span needs from the request: sampled only.
    server: Option<Box<ServerStart>>,
}

/// The server span's data known on arrival, kept until the answer is
/// over (the request itself is gone by then).
#[derive(Debug)]
struct ServerStart {
    /// Nanoseconds since the Unix epoch.
    start: u64,
    /// `http.request.method` (`_OTHER` for unknown methods).
    method: &'static str,
    scheme: &'static str,
    version: &'static str,
    peer: SocketAddr,
    /// `url.path`, `server.address` and `user_agent.original` one after
    /// the other: one allocation for the three.
    text: String,
    path_end: usize,
    host_end: usize,
    has_user_agent: bool,
}

impl ServerStart {
    fn path(&self) -> &str {
        &self.text[..self.path_end]
    }

    fn host(&self) -> &str {
        &self.text[self.path_end..self.host_end]
    }

    fn user_agent(&self) -> Option<&str> {
        self.has_user_agent.then(|| &self.text[self.host_end..])
    }
}

impl RequestTrace {
    /// Whether its spans are recorded.
    pub(crate) fn sampled(&self) -> bool {
        self.server.is_some()
    }

    /// The trace id as 32 lowercase hex digits (for the access log).
    pub(crate) fn trace_id_hex(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        hex_lower(&self.trace_id, &mut out);
        out
    }

    /// The caller's `tracestate` as text, empty when none (or not text).
    fn state_text(&self) -> &str {
        self.state
            .as_ref()
            .and_then(|s| s.to_str().ok())
            .unwrap_or("")
    }
}

/// A client span begun for one upstream attempt.
#[derive(Debug)]
pub(crate) struct ClientSpan {
    span_id: SpanId,
    /// Nanoseconds since the Unix epoch (0 when unsampled: no clock read).
    start: u64,
}

/// How an upstream attempt ended, for its client span.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AttemptEnd {
    /// The upstream answered with this status.
    Status(u16),
    /// No answer: `error.type` (`connect_error`, `timeout`, ...).
    Failed(&'static str),
}

/// The trace context of `req`, taking the client's fields out of it.
pub(crate) fn begin(tracer: &Tracer, req: &mut Incoming<'_>) -> RequestTrace {
    let parent = take_traceparent(&mut req.headers);
    let state = if parent.is_some() {
        take_state(&mut req.headers)
    } else {
        // Without a valid `traceparent` the caller's state means nothing.
        req.headers.remove(&TRACESTATE);
        None
    };
    let trace_id = parent.map_or_else(new_trace_id, |p| p.trace_id);
    let sampled = tracer.sampled(parent.as_ref(), &trace_id);
    RequestTrace {
        trace_id,
        span_id: new_span_id(),
        parent: parent.map(|p| p.parent_id),
        state,
        server: sampled.then(|| Box::new(server_start(req))),
    }
}

/// Reads and removes `traceparent`: exactly one valid field, else `None`
/// (W3C: more than one is as invalid as a broken one).
fn take_traceparent(headers: &mut HeaderMap) -> Option<TraceParent> {
    // One lookup when absent, as most requests come.
    if !headers.contains_key(&TRACEPARENT) {
        return None;
    }
    let Entry::Occupied(entry) = headers.entry(&TRACEPARENT) else {
        return None;
    };
    let mut fields = entry.iter();
    let parent = match (fields.next(), fields.next()) {
        (Some(v), None) => parse_traceparent(v.as_bytes()),
        _ => None,
    };
    entry.remove();
    parent
}

/// Reads and removes `tracestate`; several fields are one list
/// (RFC 9110 §5.3), joined with commas.
fn take_state(headers: &mut HeaderMap) -> Option<HeaderValue> {
    let Entry::Occupied(entry) = headers.entry(&TRACESTATE) else {
        return None;
    };
    let mut fields = entry.iter();
    let first = fields.next()?.clone();
    let mut joined: Option<Vec<u8>> = None;
    for v in fields {
        let all = joined.get_or_insert_with(|| first.as_bytes().to_vec());
        all.push(b',');
        all.extend_from_slice(v.as_bytes());
    }
    let state = match joined {
        Some(all) => HeaderValue::from_bytes(&all).unwrap_or(first),
        None => first,
    };
    // `remove` takes every field of the name.
    entry.remove();
    Some(state)
}

fn server_start(req: &Incoming<'_>) -> ServerStart {
    let start = unix_nanos_now();
    let path = req.uri.path();
    let host = request_host(&req.uri, &req.headers);
    let user_agent = req
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let mut text = String::with_capacity(path.len() + host.len() + user_agent.map_or(0, str::len));
    text.push_str(path);
    let path_end = text.len();
    text.push_str(&host);
    let host_end = text.len();
    text.push_str(user_agent.unwrap_or(""));
    ServerStart {
        start,
        method: method_attr(&req.method),
        scheme: req.client.proto,
        version: protocol_version(req.version),
        peer: req.client.peer,
        text,
        path_end,
        host_end,
        has_user_agent: user_agent.is_some(),
    }
}

/// Known methods by name; others as `_OTHER` (the conventions' rule, which
/// keeps span names low in cardinality).
fn method_attr(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::CONNECT => "CONNECT",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::PATCH => "PATCH",
        _ => "_OTHER",
    }
}

/// A span's name begins with the method; `HTTP` for an unknown one.
fn method_name(attr: &'static str) -> &'static str {
    if attr == "_OTHER" {
        "HTTP"
    } else {
        attr
    }
}

fn protocol_version(v: Version) -> &'static str {
    match v {
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2",
        _ => "1.1",
    }
}

/// Starts the client span of one attempt: the upstream gets tollgate's
/// `traceparent` with this span as parent (replacing an earlier attempt's).
pub(crate) fn begin_client(t: &RequestTrace, headers: &mut HeaderMap) -> ClientSpan {
    let span_id = new_span_id();
    headers.insert(
        &TRACEPARENT,
        traceparent(&t.trace_id, &span_id, t.sampled()),
    );
    if let Some(state) = &t.state {
        headers.insert(&TRACESTATE, state.clone());
    }
    ClientSpan {
        span_id,
        start: if t.sampled() { unix_nanos_now() } else { 0 },
    }
}

/// Attributes gathered on the stack, at most `N`.
struct Attrs<'a, const N: usize> {
    list: [(&'static str, Attr<'a>); N],
    len: usize,
}

impl<'a, const N: usize> Attrs<'a, N> {
    fn new() -> Self {
        Self {
            list: [("", Attr::Int(0)); N],
            len: 0,
        }
    }

    fn push(&mut self, key: &'static str, value: Attr<'a>) {
        self.list[self.len] = (key, value);
        self.len += 1;
    }

    fn as_slice(&self) -> &[(&'static str, Attr<'a>)] {
        &self.list[..self.len]
    }
}

/// Ends an attempt's client span; `resends` is how many attempts came
/// before it (`http.request.resend_count`, left out on the first).
pub(crate) fn end_client(
    worker: &Worker,
    t: &RequestTrace,
    span: ClientSpan,
    target: Option<&str>,
    url_path: &str,
    end: AttemptEnd,
    resends: u32,
) {
    let (Some(tracer), Some(server)) = (worker.snapshot.tracer.as_deref(), t.server.as_deref())
    else {
        return;
    };
    let mut code_text = [0u8; 8];
    let mut a = Attrs::<7>::new();
    a.push("http.request.method", Attr::Str(server.method));
    let url_full;
    if let Some(addr) = target {
        let (host, port) = split_host_port(addr);
        a.push("server.address", Attr::Str(host));
        if let Some(p) = port {
            a.push("server.port", Attr::Int(i64::from(p)));
        }
        url_full = ["http://", addr, url_path];
        a.push("url.full", Attr::Parts(&url_full));
    }
    if resends > 0 {
        a.push("http.request.resend_count", Attr::Int(i64::from(resends)));
    }
    let error = match end {
        AttemptEnd::Status(code) => {
            a.push("http.response.status_code", Attr::Int(i64::from(code)));
            (code >= 400).then(|| decimal(code, &mut code_text))
        }
        AttemptEnd::Failed(kind) => Some(kind),
    };
    if let Some(e) = error {
        a.push("error.type", Attr::Str(e));
    }
    tracer.submit(&SpanRecord {
        trace_id: t.trace_id,
        span_id: span.span_id,
        parent: Some(t.span_id),
        trace_state: t.state_text(),
        name: &[method_name(server.method)],
        kind: SpanKind::Client,
        start: span.start,
        end: unix_nanos_now(),
        attributes: a.as_slice(),
        error: error.is_some(),
    });
}

/// Ends the request's server span when the answer is over.
pub(crate) fn end_server(worker: &Worker, ex: &Exchange, status: u16) {
    let Some(t) = ex.trace.as_ref() else {
        return;
    };
    let (Some(tracer), Some(server)) = (worker.snapshot.tracer.as_deref(), t.server.as_deref())
    else {
        return;
    };
    let route = ex.route.map(|i| &worker.snapshot.config.routes[i]);
    let template = route.and_then(|r| route_template(r.matcher.path.as_ref()));
    let method = method_name(server.method);
    let name_parts;
    let name: &[&str] = match &template {
        Some([a, b]) => {
            name_parts = [method, " ", a, b];
            &name_parts
        }
        None => &[method],
    };
    let mut ip_text = [0u8; 48];
    let peer_ip = ip(server.peer.ip(), &mut ip_text);
    let mut a = Attrs::<13>::new();
    a.push("http.request.method", Attr::Str(server.method));
    a.push("url.path", Attr::Str(server.path()));
    a.push("url.scheme", Attr::Str(server.scheme));
    a.push("server.address", Attr::Str(server.host()));
    a.push("client.address", Attr::Str(peer_ip));
    a.push("network.peer.address", Attr::Str(peer_ip));
    let port = i64::from(server.peer.port());
    a.push("network.peer.port", Attr::Int(port));
    a.push("network.protocol.version", Attr::Str(server.version));
    if let Some(ua) = server.user_agent() {
        a.push("user_agent.original", Attr::Str(ua));
    }
    if let Some(tpl) = &template {
        a.push("http.route", Attr::Parts(tpl));
    }
    if let Some(r) = route {
        a.push("tollgate.route", Attr::Str(&r.name));
    }
    a.push("http.response.status_code", Attr::Int(i64::from(status)));
    // Server spans: only 5xx is an error (a 4xx is the client's doing).
    let mut code_text = [0u8; 8];
    if status >= 500 {
        a.push("error.type", Attr::Str(decimal(status, &mut code_text)));
    }
    tracer.submit(&SpanRecord {
        trace_id: t.trace_id,
        span_id: t.span_id,
        parent: t.parent,
        trace_state: t.state_text(),
        name,
        kind: SpanKind::Server,
        start: server.start,
        end: unix_nanos_now(),
        attributes: a.as_slice(),
        error: status >= 500,
    });
}

/// `http.route`: the route's path pattern as written (`/api/*` for a
/// prefix), as two parts to write one after the other.
fn route_template(path: Option<&PathMatch>) -> Option<[&str; 2]> {
    match path? {
        PathMatch::Exact(p) => Some([p, ""]),
        PathMatch::Prefix(p) if p.ends_with('/') => Some([p, "*"]),
        PathMatch::Prefix(p) => Some([p, "/*"]),
        PathMatch::Regex(r) => Some([r.as_str(), ""]),
    }
}

/// `n` in decimal, written into `buf`.
fn decimal(n: u16, buf: &mut [u8; 8]) -> &str {
    let mut w = &mut buf[..];
    let _ = write!(w, "{n}");
    let len = 8 - w.len();
    std::str::from_utf8(&buf[..len]).unwrap_or("")
}

/// An address as text (as `Display` writes it), written into `buf`: an
/// IPv4 address by hand, the common case, without the formatter.
fn ip(addr: IpAddr, buf: &mut [u8; 48]) -> &str {
    let len = match addr {
        IpAddr::V4(v4) => {
            let mut n = 0;
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    buf[n] = b'.';
                    n += 1;
                }
                if octet >= 100 {
                    buf[n] = b'0' + octet / 100;
                    n += 1;
                }
                if octet >= 10 {
                    buf[n] = b'0' + octet / 10 % 10;
                    n += 1;
                }
                buf[n] = b'0' + octet % 10;
                n += 1;
            }
            n
        }
        IpAddr::V6(v6) => {
            let mut w = &mut buf[..];
            let _ = write!(w, "{v6}");
            48 - w.len()
        }
    };
    std::str::from_utf8(&buf[..len]).unwrap_or("")
}

fn split_host_port(addr: &str) -> (&str, Option<u16>) {
    match addr.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') => (
            h.trim_start_matches('[').trim_end_matches(']'),
            p.parse().ok(),
        ),
        _ => (addr, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_codes_are_written_as_display_writes_them() {
        for text in ["127.0.0.1", "0.0.0.0", "10.20.100.255", "::1", "fe80::1:2"] {
            let addr: IpAddr = text.parse().unwrap();
            let mut buf = [0u8; 48];
            assert_eq!(ip(addr, &mut buf), addr.to_string());
        }
        let mut buf = [0u8; 8];
        assert_eq!(decimal(503, &mut buf), "503");
        assert_eq!(decimal(u16::MAX, &mut buf), "65535");
    }

    #[test]
    fn several_tracestate_fields_are_one_list() {
        let mut headers = HeaderMap::new();
        headers.append(&TRACESTATE, HeaderValue::from_static("a=1"));
        headers.append(&TRACESTATE, HeaderValue::from_static("b=2"));
        let state = take_state(&mut headers).unwrap();
        assert_eq!(state, "a=1,b=2");
        assert!(headers.is_empty());
    }
}
