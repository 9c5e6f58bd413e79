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
//!   exporter's queue; an unsampled request records nothing.
//!
//! Without `tracing:` none of this runs and the client's fields pass
//! through untouched.

use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, Method, Version};
use tollgate_config::PathMatch;
use tollgate_ops::trace::{
    hex_lower, new_span_id, new_trace_id, parse_traceparent, traceparent, Attr, SpanId, SpanKind,
    SpanRecord, TraceId, Tracer,
};

use crate::pipeline::{request_host, Exchange, Incoming};
use crate::snapshot::Worker;

static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
static TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// A request's place in its trace.
#[derive(Debug)]
pub(crate) struct RequestTrace {
    trace_id: TraceId,
    /// tollgate's server span.
    span_id: SpanId,
    /// The caller's span, from a valid `traceparent`.
    parent: Option<SpanId>,
    sampled: bool,
    /// The caller's `tracestate`, passed on unchanged.
    state: Option<HeaderValue>,
    start: SystemTime,
    method: Method,
    /// The server span's attributes known on arrival (sampled only).
    attributes: Vec<(&'static str, Attr)>,
}

impl RequestTrace {
    /// Whether its spans are recorded.
    pub(crate) fn sampled(&self) -> bool {
        self.sampled
    }

    /// The trace id as 32 lowercase hex digits (for the access log).
    pub(crate) fn trace_id_hex(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        hex_lower(&self.trace_id, &mut out);
        out
    }
}

/// A client span begun for one upstream attempt.
#[derive(Debug)]
pub(crate) struct ClientSpan {
    span_id: SpanId,
    start: SystemTime,
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
    let parent = {
        let mut fields = req.headers.get_all(&TRACEPARENT).iter();
        // W3C: more than one `traceparent` is as invalid as a broken one.
        match (fields.next(), fields.next()) {
            (Some(v), None) => parse_traceparent(v.as_bytes()),
            _ => None,
        }
    };
    req.headers.remove(&TRACEPARENT);
    let state = match req.headers.remove(&TRACESTATE) {
        Some(first) if parent.is_some() => Some(joined_state(first, &req.headers)),
        _ => None,
    };
    req.headers.remove(&TRACESTATE);
    let trace_id = parent.map_or_else(new_trace_id, |p| p.trace_id);
    let sampled = tracer.sampled(parent.as_ref(), &trace_id);
    RequestTrace {
        trace_id,
        span_id: new_span_id(),
        parent: parent.map(|p| p.parent_id),
        sampled,
        state,
        // An unsampled request never reads its span's times: no clock read.
        start: if sampled {
            SystemTime::now()
        } else {
            UNIX_EPOCH
        },
        method: req.method.clone(),
        attributes: if sampled {
            server_attributes(req)
        } else {
            Vec::new()
        },
    }
}

/// `tracestate` sent as several fields is one list (RFC 9110 §5.3);
/// `first` was already taken out, the rest are still in `headers`.
fn joined_state(first: HeaderValue, headers: &HeaderMap) -> HeaderValue {
    let rest: Vec<&[u8]> = headers
        .get_all(&TRACESTATE)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    if rest.is_empty() {
        return first;
    }
    let mut all = first.as_bytes().to_vec();
    for v in rest {
        all.push(b',');
        all.extend_from_slice(v);
    }
    HeaderValue::from_bytes(&all).unwrap_or(first)
}

fn server_attributes(req: &Incoming<'_>) -> Vec<(&'static str, Attr)> {
    let host = request_host(&req.uri, &req.headers).into_owned();
    let mut a: Vec<(&'static str, Attr)> = vec![
        ("http.request.method", method_attr(&req.method)),
        ("url.path", req.uri.path().to_string().into()),
        ("url.scheme", req.client.proto.into()),
        ("server.address", host.into()),
        ("client.address", req.client.peer.ip().to_string().into()),
        (
            "network.peer.address",
            req.client.peer.ip().to_string().into(),
        ),
        (
            "network.peer.port",
            i64::from(req.client.peer.port()).into(),
        ),
        (
            "network.protocol.version",
            protocol_version(req.version).into(),
        ),
    ];
    if let Some(ua) = req
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        a.push(("user_agent.original", ua.to_string().into()));
    }
    a
}

/// Known methods by name; others as `_OTHER` (the conventions' rule, which
/// keeps span names low in cardinality).
fn method_attr(m: &Method) -> Attr {
    match *m {
        Method::GET => "GET".into(),
        Method::HEAD => "HEAD".into(),
        Method::POST => "POST".into(),
        Method::PUT => "PUT".into(),
        Method::DELETE => "DELETE".into(),
        Method::CONNECT => "CONNECT".into(),
        Method::OPTIONS => "OPTIONS".into(),
        Method::TRACE => "TRACE".into(),
        Method::PATCH => "PATCH".into(),
        _ => "_OTHER".into(),
    }
}

fn method_name(m: &Method) -> &str {
    match method_attr(m) {
        Attr::Str(s) if s == "_OTHER" => "HTTP",
        _ => m.as_str(),
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
    headers.insert(&TRACEPARENT, traceparent(&t.trace_id, &span_id, t.sampled));
    if let Some(state) = &t.state {
        headers.insert(&TRACESTATE, state.clone());
    }
    ClientSpan {
        span_id,
        start: if t.sampled {
            SystemTime::now()
        } else {
            UNIX_EPOCH
        },
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
    let Some(tracer) = worker.snapshot.tracer.as_deref().filter(|_| t.sampled) else {
        return;
    };
    let mut a: Vec<(&'static str, Attr)> = vec![("http.request.method", method_attr(&t.method))];
    if let Some(addr) = target {
        let (host, port) = split_host_port(addr);
        a.push(("server.address", host.to_string().into()));
        if let Some(p) = port {
            a.push(("server.port", i64::from(p).into()));
        }
        a.push(("url.full", format!("http://{addr}{url_path}").into()));
    }
    if resends > 0 {
        a.push(("http.request.resend_count", i64::from(resends).into()));
    }
    let error = match end {
        AttemptEnd::Status(code) => {
            a.push(("http.response.status_code", i64::from(code).into()));
            (code >= 400).then(|| code.to_string())
        }
        AttemptEnd::Failed(kind) => Some(kind.to_string()),
    };
    if let Some(e) = &error {
        a.push(("error.type", e.clone().into()));
    }
    tracer.submit(SpanRecord {
        trace_id: t.trace_id,
        span_id: span.span_id,
        parent: Some(t.span_id),
        trace_state: state_text(t),
        name: method_name(&t.method).to_string(),
        kind: SpanKind::Client,
        start: span.start,
        end: SystemTime::now(),
        attributes: a,
        error: error.is_some(),
    });
}

/// Ends the request's server span when the answer is over.
pub(crate) fn end_server(worker: &Worker, ex: &mut Exchange, status: u16) {
    let Some(t) = ex.trace.as_deref_mut().filter(|t| t.sampled) else {
        return;
    };
    let Some(tracer) = worker.snapshot.tracer.as_deref() else {
        return;
    };
    let mut a = std::mem::take(&mut t.attributes);
    let route = ex.route.map(|i| &worker.snapshot.config.routes[i]);
    let template = route.and_then(|r| route_template(r.matcher.path.as_ref()));
    let name = match &template {
        Some(tpl) => format!("{} {tpl}", method_name(&t.method)),
        None => method_name(&t.method).to_string(),
    };
    if let Some(tpl) = template {
        a.push(("http.route", tpl.into()));
    }
    if let Some(r) = route {
        a.push(("tollgate.route", r.name.clone().into()));
    }
    a.push(("http.response.status_code", i64::from(status).into()));
    // Server spans: only 5xx is an error (a 4xx is the client's doing).
    if status >= 500 {
        a.push(("error.type", status.to_string().into()));
    }
    tracer.submit(SpanRecord {
        trace_id: t.trace_id,
        span_id: t.span_id,
        parent: t.parent,
        trace_state: state_text(t),
        name,
        kind: SpanKind::Server,
        start: t.start,
        end: SystemTime::now(),
        attributes: a,
        error: status >= 500,
    });
}

fn state_text(t: &RequestTrace) -> Option<String> {
    t.state
        .as_ref()
        .and_then(|s| s.to_str().ok())
        .map(str::to_string)
}

/// `http.route`: the route's path pattern as written (`/api/*` for a prefix).
fn route_template(path: Option<&PathMatch>) -> Option<String> {
    match path? {
        PathMatch::Exact(p) => Some(p.clone()),
        PathMatch::Prefix(p) if p.ends_with('/') => Some(format!("{p}*")),
        PathMatch::Prefix(p) => Some(format!("{p}/*")),
        PathMatch::Regex(r) => Some(r.as_str().to_string()),
    }
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
