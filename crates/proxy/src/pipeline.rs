//! The request's way through, top to bottom: route, check limits, then
//! answer from the route's target (fixed response, redirect, or upstream).
//! Errors become responses in [`error_response`] and nowhere else.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, Response, StatusCode, Uri, Version};
use tollgate_config::{FixedResponse, HostRewrite, Redirect, Route, RouteTarget, UpstreamProtocol};
use tollgate_core::{ErrorKind, ErrorSource, ProxyError};

use crate::body::{too_large, RequestBody, ResponseBody};
use crate::forward::{self, ClientInfo};
use crate::router::RouteInput;
use crate::snapshot::Worker;
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
    let t = snapshot.balancers[u]
        .pick()
        .ok_or_else(|| ProxyError::upstream(ErrorKind::Unavailable, "upstream has no targets"))?;
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
        })??;
        ex.upstream_time = Some(started.elapsed());
        let (mut parts, body) = resp.into_parts();
        finish_response_headers(&mut parts.headers, route, &req.request_id, false);
        return Ok(Response::from_parts(parts, ResponseBody::H2(body)));
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
    let mut conn = pool.checkout().await?;
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
                conn = pool.connect().await?;
            }
            Err(e) => return Err(e.error),
        }
    };
    ex.upstream_time = Some(started.elapsed());
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
        UpstreamBody::switched(conn, pool.clone())
    } else {
        UpstreamBody::new(
            conn,
            pool.clone(),
            &head.framing,
            head.keep_alive,
            upstream.read_idle_timeout,
        )
    };
    let mut resp = Response::new(ResponseBody::Upstream(body));
    *resp.status_mut() = head.status;
    *resp.headers_mut() = resp_headers;
    Ok(resp)
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
}
