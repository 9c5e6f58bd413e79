//! The request's way through, top to bottom: route, check limits, then
//! answer from the route's target (fixed response, redirect, or upstream).
//! Errors become responses in [`error_response`] and nowhere else.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, Response, StatusCode, Uri, Version};
use tollgate_balance::{Available, PickContext};
use tollgate_config::{
    Balance, FixedResponse, HashOn, HostRewrite, Redirect, Route, RouteTarget, UpstreamProtocol,
};
use tollgate_core::{ErrorKind, ErrorSource, ProxyError};

use crate::body::{too_large, RequestBody, ResponseBody};
use crate::forward::{self, ClientInfo};
use crate::health::UpstreamHealth;
use crate::router::RouteInput;
use crate::snapshot::{InFlightTicket, Worker};
use crate::upstream::{exchange, OutgoingRequest, UpstreamBody};

/// The request id header read before a route is known.
pub(crate) static DEFAULT_REQUEST_ID: http::HeaderName =
    http::HeaderName::from_static("x-request-id");

/// A request as the pipeline sees it, whichever protocol brought it.
#[derive(Debug)]
pub(crate) struct Incoming<'a> {
    /// Index of the listener.
    pub(crate) listener: usize,
    /// The client connection.
    pub(crate) client: ClientInfo,
    /// Method.
    pub(crate) method: Method,
    /// Request target.
    pub(crate) uri: Uri,
    /// Protocol version of the client side.
    pub(crate) version: Version,
    /// Header fields as received.
    pub(crate) headers: HeaderMap,
    /// Body.
    pub(crate) body: RequestBody<'a>,
    /// The client asked to switch protocols (HTTP/1.1 Upgrade).
    pub(crate) upgrade: bool,
    /// Request id, received or generated.
    pub(crate) request_id: HeaderValue,
}

/// What happened, for the access log.
#[derive(Debug, Default)]
pub(crate) struct Exchange {
    /// Index of the route taken.
    pub(crate) route: Option<usize>,
    /// Upstream and target index used.
    pub(crate) upstream: Option<(usize, usize)>,
    /// Time the upstream took to answer with a head.
    pub(crate) upstream_time: Option<Duration>,
}

impl Exchange {
    /// Address of the upstream target used, if any.
    pub(crate) fn upstream_address<'w>(&self, worker: &'w Worker) -> Option<&'w str> {
        self.upstream
            .map(|(u, t)| worker.pools[u][t].address.as_str())
    }
}

/// The host a request is for: lowercase, without port.
pub(crate) fn request_host<'h>(uri: &'h Uri, headers: &'h HeaderMap) -> Cow<'h, str> {
    let host = strip_port(request_host_with_port(uri, headers));
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

/// The Host as sent, with port (for X-Forwarded-Host and Forwarded).
fn request_host_with_port<'h>(uri: &'h Uri, headers: &'h HeaderMap) -> &'h str {
    uri.authority()
        .map(|a| a.as_str())
        .or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()))
        .unwrap_or("")
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest
            .split_once(']')
            .map_or(host, |(v6, _)| &host[..v6.len() + 2]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// Runs the request through its route.
pub(crate) async fn handle(
    worker: &Worker,
    req: &mut Incoming<'_>,
    ex: &mut Exchange,
) -> Result<Response<ResponseBody>, ProxyError> {
    let snapshot = &*worker.snapshot;
    if req.method == Method::CONNECT {
        // tollgate is a reverse proxy: it opens no tunnels to arbitrary hosts.
        return Err(ProxyError::client(
            ErrorKind::NotImplemented,
            "CONNECT is not supported",
        ));
    }
    let host = request_host(&req.uri, &req.headers);
    let input = RouteInput {
        listener: req.listener,
        host: &host,
        path: req.uri.path(),
        query: req.uri.query(),
        method: &req.method,
        headers: &req.headers,
    };
    let index = snapshot.router.route(&input).ok_or_else(|| {
        ProxyError::new(
            ErrorSource::Config,
            ErrorKind::NoRoute,
            "no route matches this request",
        )
    })?;
    ex.route = Some(index);
    let route = &snapshot.config.routes[index];
    let id_header = &route.forwarding.request_id_header;
    // The servers read X-Request-Id before routing; a route that names
    // another header takes the client's id from there.
    if *id_header != DEFAULT_REQUEST_ID {
        if let Some(v) = req.headers.get(id_header) {
            if !v.is_empty() && v.len() <= 200 {
                req.request_id = v.clone();
            }
        }
    }
    req.body.set_limit(route.max_body);
    if req.body.known_length().is_some_and(|n| n > route.max_body) {
        return Err(too_large());
    }
    match &route.target {
        RouteTarget::Respond(fixed) => {
            let mut resp = fixed_response(fixed);
            resp.headers_mut().insert(id_header, req.request_id.clone());
            Ok(resp)
        }
        RouteTarget::Redirect(r) => {
            let mut resp = redirect(r, &req.uri);
            resp.headers_mut().insert(id_header, req.request_id.clone());
            Ok(resp)
        }
        RouteTarget::Upstream(u) => {
            let deadline = tokio::time::Instant::now() + route.timeout;
            let forward = forward_upstream(worker, route, *u, req, ex, deadline);
            match tokio::time::timeout_at(deadline, forward).await {
                Ok(result) => result,
                Err(_) => Err(ProxyError::upstream(
                    ErrorKind::UpstreamTimeout,
                    "request timed out",
                )),
            }
        }
    }
}

fn fixed_response(fixed: &FixedResponse) -> Response<ResponseBody> {
    let mut resp = Response::new(ResponseBody::full(fixed.body.clone()));
    *resp.status_mut() = fixed.status;
    for (name, value) in &fixed.headers {
        resp.headers_mut().append(name, value.clone());
    }
    resp
}

fn redirect(r: &Redirect, uri: &Uri) -> Response<ResponseBody> {
    let mut location = if r.location.contains('$') {
        r.location
            .replace("$path", uri.path())
            .replace("$query", uri.query().unwrap_or(""))
    } else {
        r.location.clone()
    };
    if r.keep_path {
        let pq = uri.path_and_query().map_or("/", |pq| pq.as_str());
        location.push_str(if location.ends_with('/') {
            pq.trim_start_matches('/')
        } else {
            pq
        });
    }
    let mut resp = Response::new(ResponseBody::Empty);
    *resp.status_mut() = r.status;
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// Forwards to a target of upstream `u`, retrying once on a fresh
/// connection when a reused one turned out dead before answering an
/// idempotent request.
async fn forward_upstream(
    worker: &Worker,
    route: &Route,
    u: usize,
    req: &mut Incoming<'_>,
    ex: &mut Exchange,
    deadline: tokio::time::Instant,
) -> Result<Response<ResponseBody>, ProxyError> {
    let snapshot = &*worker.snapshot;
    let upstream = &snapshot.config.upstreams[u];
    let balancer = &snapshot.balancers[u];
    let health = snapshot.health[u].as_deref();
    // Without a `health` section every target is always available; with
    // one, the set is the health state's current one (healthy, not ejected).
    let current;
    let available: &Available = match health {
        None => &snapshot.available[u],
        Some(h) => {
            current = h
                .current()
                .ok_or_else(|| ProxyError::upstream(ErrorKind::Unavailable, "no healthy target"))?;
            &current
        }
    };
    let mut t = pick_target(worker, u, req, available).ok_or_else(|| {
        ProxyError::upstream(ErrorKind::Unavailable, "upstream has no available target")
    })?;
    // Failover: a target that cannot be connected to got nothing of the
    // request, so another one is tried (each at most once).
    let mut fresh = None;
    if upstream.protocol == UpstreamProtocol::Http1 {
        let mut excluded: Option<Available> = None;
        loop {
            match worker.pools[u][t].checkout().await {
                Ok(conn) => {
                    fresh = Some(conn);
                    break;
                }
                Err(e) if e.retryable => {
                    report(health, t, false);
                    let available = excluded.get_or_insert_with(|| available.clone());
                    available.set(t, false);
                    match pick_target(worker, u, req, available) {
                        Some(next) => t = next,
                        None => return Err(e),
                    }
                }
                Err(e) => {
                    report(health, t, false);
                    return Err(e);
                }
            }
        }
    }
    // In flight from here until the response body is over (or this
    // request fails and the ticket drops).
    let ticket = InFlightTicket::acquire(&worker.snapshot, u, t);
    let pool = &worker.pools[u][t];
    ex.upstream = Some((u, t));

    let mut headers = std::mem::take(&mut req.headers);
    let host_sent: Cow<'_, str> = match req.uri.authority() {
        Some(a) => Cow::Borrowed(a.as_str()),
        None => Cow::Owned(request_host_with_port(&req.uri, &headers).to_owned()),
    };
    forward::strip_hop_by_hop(&mut headers, req.upgrade, false);
    headers.remove(header::EXPECT);
    forward::request_headers(
        &mut headers,
        &route.forwarding,
        &req.client,
        &host_sent,
        req.version,
    );
    headers.insert(&route.forwarding.request_id_header, req.request_id.clone());
    let upstream_host: &str = match &route.forwarding.host {
        HostRewrite::Preserve => &host_sent,
        HostRewrite::Target => &pool.address,
        HostRewrite::Fixed(h) => h,
    };
    let target: Cow<'_, str> = match &route.rewrite {
        Some(rw) => {
            let path = tollgate_edge::rewrite_path(rw, req.uri.path());
            match req.uri.query() {
                Some(q) => Cow::Owned(format!("{path}?{q}")),
                None => Cow::Owned(path.into_owned()),
            }
        }
        None => match req.uri.path_and_query().map(|pq| pq.as_str()) {
            Some(pq) if pq.starts_with('/') => Cow::Borrowed(pq),
            // An absolute-form target with an empty path (`http://a?b=1`)
            // goes upstream as `/?b=1` (RFC 9112 §3.2.1).
            Some(pq) => Cow::Owned(format!("/{pq}")),
            None => Cow::Borrowed("/"),
        },
    };
    let started = Instant::now();

    if upstream.protocol == UpstreamProtocol::H2c {
        let uri = format!("http://{upstream_host}{target}");
        let mut builder = http::Request::builder()
            .method(req.method.clone())
            .uri(uri)
            .version(Version::HTTP_2);
        headers.remove(header::HOST);
        headers.remove(header::CONNECTION);
        headers.remove(header::UPGRADE);
        if let Some(h) = builder.headers_mut() {
            *h = headers;
        }
        let resp = tokio::time::timeout(
            upstream.response_header_timeout,
            // Boxed: the h2c client's state would otherwise enlarge every request's future.
            Box::pin(worker.h2[u][t].send(pool, builder, &mut req.body)),
        )
        .await
        .map_err(|_| {
            ProxyError::upstream(
                ErrorKind::UpstreamTimeout,
                "upstream did not answer in time",
            )
        })
        .and_then(|r| r)
        .inspect_err(|e| {
            if e.source == ErrorSource::Upstream {
                report(health, t, false);
            }
        })?;
        report(health, t, resp.status().as_u16() < 500);
        let elapsed = started.elapsed();
        ex.upstream_time = Some(elapsed);
        balancer.record_latency(t, elapsed);
        let (mut parts, body) = resp.into_parts();
        finish_response_headers(&mut parts.headers, route, &req.request_id, false);
        return Ok(Response::from_parts(parts, ResponseBody::H2(body, ticket)));
    }

    // HTTP/1.1 clients' Host is already right (the codec aligned it with an
    // absolute-form target); only a rewrite or an HTTP/2 :authority needs writing.
    let host_in_place =
        route.forwarding.host == HostRewrite::Preserve && headers.contains_key(header::HOST);
    if !host_in_place {
        if let Ok(v) = HeaderValue::from_str(upstream_host) {
            headers.insert(header::HOST, v);
        }
    }
    let idempotent = matches!(
        req.method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    );
    let mut conn = match fresh {
        Some(conn) => conn,
        None => pool
            .checkout()
            .await
            .inspect_err(|_| report(health, t, false))?,
    };
    let head = loop {
        let outgoing = OutgoingRequest {
            method: &req.method,
            target: &target,
            headers: &mut headers,
            body: &mut req.body,
        };
        match exchange(
            &mut conn,
            outgoing,
            upstream.response_header_timeout,
            deadline,
        )
        .await
        {
            Ok(head) => break head,
            Err(e) if e.before_response && idempotent && conn.reused => {
                conn = pool
                    .connect()
                    .await
                    .inspect_err(|_| report(health, t, false))?;
            }
            Err(e) => {
                if e.error.source == ErrorSource::Upstream {
                    report(health, t, false);
                }
                return Err(e.error);
            }
        }
    };
    report(health, t, head.status.as_u16() < 500);
    let elapsed = started.elapsed();
    ex.upstream_time = Some(elapsed);
    balancer.record_latency(t, elapsed);
    let switching = head.status == StatusCode::SWITCHING_PROTOCOLS;
    if switching && !req.upgrade {
        return Err(ProxyError::upstream(
            ErrorKind::UpstreamProtocol,
            "upstream switched protocols unasked",
        ));
    }
    let mut resp_headers = head.headers;
    finish_response_headers(&mut resp_headers, route, &req.request_id, switching);
    let body = if switching {
        UpstreamBody::switched(conn, pool.clone(), ticket)
    } else {
        UpstreamBody::new(
            conn,
            pool.clone(),
            &head.framing,
            head.keep_alive,
            upstream.read_idle_timeout,
            ticket,
        )
    };
    let mut resp = Response::new(ResponseBody::Upstream(body));
    *resp.status_mut() = head.status;
    *resp.headers_mut() = resp_headers;
    Ok(resp)
}

/// Passive health: tells the upstream's health state (if any) how an
/// exchange with target `t` went.
fn report(health: Option<&UpstreamHealth>, t: usize, ok: bool) {
    if let Some(h) = health {
        if ok {
            h.record_success(t);
        } else {
            h.record_failure(t);
        }
    }
}

/// A target of upstream `u` among `available`, by the upstream's algorithm;
/// only the hashing algorithms look at the request.
fn pick_target(
    worker: &Worker,
    u: usize,
    req: &Incoming<'_>,
    available: &Available,
) -> Option<usize> {
    let snapshot = &*worker.snapshot;
    let mut ip_key = [0u8; 16];
    let mut ctx = PickContext::new(available);
    match &snapshot.config.upstreams[u].balance {
        Balance::IpHash => ctx = ctx.with_client_ip(req.client.peer.ip()),
        Balance::ConsistentHash(on) => {
            if let Some(key) = hash_key(on, req, &mut ip_key) {
                ctx = ctx.with_hash_key(key);
            }
        }
        _ => {}
    }
    snapshot.balancers[u].pick(&ctx)
}

/// The bytes a consistent hash is computed from, when the request has them
/// (without, the balancer falls back to round robin). Borrows from the
/// request; the client address is written into `ip_key`.
fn hash_key<'r>(on: &HashOn, req: &'r Incoming<'_>, ip_key: &'r mut [u8; 16]) -> Option<&'r [u8]> {
    match on {
        HashOn::Header(name) => req.headers.get(name).map(HeaderValue::as_bytes),
        HashOn::Cookie(name) => req
            .headers
            .get_all(header::COOKIE)
            .iter()
            .find_map(|v| cookie_value(v.as_bytes(), name.as_bytes())),
        HashOn::Query(name) => query_value(req.uri.query()?, name),
        HashOn::Path => Some(req.uri.path().as_bytes()),
        HashOn::ClientIp => match req.client.peer.ip().to_canonical() {
            std::net::IpAddr::V4(v4) => {
                let (head, _) = ip_key.split_at_mut(4);
                head.copy_from_slice(&v4.octets());
                Some(head)
            }
            std::net::IpAddr::V6(v6) => {
                *ip_key = v6.octets();
                Some(&ip_key[..])
            }
        },
    }
}

/// The value of cookie `name` in a `Cookie` field (`a=1; b=2`), without
/// surrounding quotes.
fn cookie_value<'v>(field: &'v [u8], name: &[u8]) -> Option<&'v [u8]> {
    field.split(|&b| b == b';').find_map(|pair| {
        let pair = pair.trim_ascii();
        let eq = pair.iter().position(|&b| b == b'=')?;
        let (n, v) = (&pair[..eq], &pair[eq + 1..]);
        if n.trim_ascii() != name {
            return None;
        }
        let v = v.trim_ascii();
        Some(
            v.strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
                .unwrap_or(v),
        )
    })
}

/// The value of the first query parameter `name` (compared and returned as
/// sent, not percent-decoded); a parameter without `=` has an empty value.
fn query_value<'q>(query: &'q str, name: &str) -> Option<&'q [u8]> {
    query.split('&').find_map(|pair| {
        let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
        (n == name).then_some(v.as_bytes())
    })
}

/// Response fields on the way back: hop-by-hop out (Content-Length stays:
/// HEAD and 304 answers need it), the route's rules, the request id.
fn finish_response_headers(
    headers: &mut HeaderMap,
    route: &Route,
    request_id: &HeaderValue,
    upgrade: bool,
) {
    forward::strip_hop_by_hop(headers, upgrade, true);
    forward::response_headers(headers, &route.forwarding);
    if !headers.contains_key(&route.forwarding.request_id_header) {
        headers.insert(&route.forwarding.request_id_header, request_id.clone());
    }
}

/// The one place an error becomes an answer: status from the error's kind,
/// a small JSON body with the request id.
pub(crate) fn error_response(err: &ProxyError, request_id: &HeaderValue) -> Response<ResponseBody> {
    let id = request_id.to_str().unwrap_or("");
    let mut resp = Response::new(ResponseBody::full(err.json_body(id)));
    *resp.status_mut() = err.status();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(id) {
        h.insert("x-request-id", v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_lowercased_without_port() {
        let h = HeaderMap::new();
        assert_eq!(
            request_host(&"http://API.Example.com:8080/x".parse().unwrap(), &h),
            "api.example.com"
        );
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("[::1]:80"));
        assert_eq!(request_host(&"/x".parse().unwrap(), &h), "[::1]");
        h.insert(header::HOST, HeaderValue::from_static("a.b"));
        assert_eq!(request_host(&"/x".parse().unwrap(), &h), "a.b");
    }

    #[test]
    fn cookie_and_query_values() {
        let field = b"a=1; sid=\"xyz\";  other = 2 ;empty=;noeq";
        assert_eq!(cookie_value(field, b"a"), Some(&b"1"[..]));
        assert_eq!(cookie_value(field, b"sid"), Some(&b"xyz"[..]));
        assert_eq!(cookie_value(field, b"other"), Some(&b"2"[..]));
        assert_eq!(cookie_value(field, b"empty"), Some(&b""[..]));
        assert_eq!(cookie_value(field, b"noeq"), None);
        assert_eq!(cookie_value(field, b"b"), None);
        assert_eq!(cookie_value(b"", b"a"), None);

        assert_eq!(query_value("a=1&t=x%20y&t=2&f", "t"), Some(&b"x%20y"[..]));
        assert_eq!(query_value("a=1&f", "f"), Some(&b""[..]));
        assert_eq!(query_value("a=1", "b"), None);
    }
}
