//! The request's way through, top to bottom: the listener's checks
//! (`guard.rs`: per-client rate, path normalization), route, check limits,
//! then answer from the route's target (fixed response, redirect, static
//! files in `static_target.rs`, upstream in `upstream.rs`, or several
//! upstream calls merged in `aggregate.rs`); a route's deprecation and
//! sunset fields are added in `lifecycle.rs`. Errors
//! become responses in [`error_response`] and nowhere else.

mod aggregate;
mod grpc;
mod guard;
mod hash_key;
mod lifecycle;
mod screen;
mod static_target;
mod upstream;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, Response, Uri, Version};
use tollgate_config::{FixedResponse, HttpsRedirect, Redirect, Route, RouteTarget};
use tollgate_core::{ErrorKind, ErrorSource, ProxyError};

use crate::body::{too_large, RequestBody, ResponseBody};
use crate::forward::ClientInfo;
use crate::policy::{self, ChainState, Progress, RequestVars};
use crate::router::RouteInput;
use crate::snapshot::{Snapshot, Worker};
pub(crate) use grpc::{head_status as grpc_head_status, reshape as grpc_reshape, GrpcCall};
pub(crate) use lifecycle::describe_lifecycle;
use upstream::forward_upstream;

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
    /// Set for gRPC calls (HTTP/2 only): their deadline, and errors
    /// answered as gRPC statuses.
    pub(crate) grpc: Option<GrpcCall>,
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
    /// Time the answering attempt took to get its connection.
    pub(crate) upstream_connect: Option<Duration>,
    /// When the upstream's answer head came (its body's time is from here
    /// to the last byte sent).
    pub(crate) upstream_head_at: Option<std::time::Instant>,
    /// Which side a timeout blamed (`client_body`, `client_read`,
    /// `upstream`), when one ended the exchange.
    pub(crate) timeout: Option<&'static str>,
    /// Request fields dropped for a `_` in their name.
    pub(crate) dropped_headers: u16,
    /// The consumer the route's auth policies identified (for later
    /// policies, the identity headers and the access log).
    pub(crate) consumer: Option<Arc<tollgate_gateway::Consumer>>,
    /// The token a `jwt` policy verified (its claims, for `require`).
    pub(crate) token: Option<Arc<tollgate_gateway::jwt::Verified>>,
    /// Which auth policy identified the consumer, or why one refused
    /// (`key_auth`, `key_auth:invalid`), for the access log.
    pub(crate) auth: Option<&'static str>,
    /// The target to log instead of the one received, when a policy took
    /// a credential out of the query string.
    pub(crate) logged_target: Option<String>,
    /// The limiting policy that refused the request
    /// (`rate_limit:<name>`), for the access log.
    pub(crate) limited: Option<String>,
    /// The request's trace context when `tracing:` is on (inline: an
    /// unsampled request allocates nothing for it).
    pub(crate) trace: Option<crate::trace::RequestTrace>,
}

impl Exchange {
    /// Address of the upstream target used, if any; `worker` must be the
    /// one that served the request (its generation gave the indices).
    pub(crate) fn upstream_address<'w>(&self, worker: &'w Worker) -> Option<&'w str> {
        let (u, t) = self.upstream?;
        Some(worker.pools.get(u)?.get(t)?.address.as_str())
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
pub(super) fn request_host_with_port<'h>(uri: &'h Uri, headers: &'h HeaderMap) -> &'h str {
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
    worker: &Arc<Worker>,
    req: &mut Incoming<'_>,
    ex: &mut Exchange,
) -> Result<Response<ResponseBody>, ProxyError> {
    let snapshot = &*worker.snapshot;
    if let Some(tracer) = &snapshot.tracer {
        ex.trace = Some(crate::trace::begin(tracer, req));
    }
    if req.method == Method::CONNECT {
        // tollgate is a reverse proxy: it opens no tunnels to arbitrary hosts.
        return Err(ProxyError::client(
            ErrorKind::NotImplemented,
            "CONNECT is not supported",
        ));
    }
    if let Some(refused) = guard::before_routing(snapshot, req)? {
        return Ok(refused);
    }
    let host = request_host(&req.uri, &req.headers);
    if let Some(r) = &snapshot.config.listeners[req.listener].redirect_https {
        // A listener that only sends clients to HTTPS: no route runs.
        return https_redirect(r, &host, req);
    }
    let index = pick_route(snapshot, req, &host)?;
    ex.route = Some(index);
    let route = &snapshot.config.routes[index];
    adopt_request_id(route, &req.headers, &mut req.request_id);
    req.body.set_limit(route.max_body);
    if req.body.known_length().is_some_and(|n| n > route.max_body) {
        return Err(too_large());
    }
    // Policies read the host; the fields screened next may hold it, so it
    // is copied first (only for routes with policies; inline when short).
    let host = (!route.policies.is_empty()).then(|| policy::HostCopy::of(&host));
    screen_fields(snapshot, route, req, ex)?;
    let mut chain = ChainState::new(index);
    let progress = match &host {
        Some(host) => policy::request_phase_now(worker, route, req, host.as_str(), ex, &mut chain),
        None => Progress::Done,
    };
    // One await of `answer` for routes with and without policies: each
    // await point would add its large future to the connection's (tens of
    // KB copied when a connection's task is spawned).
    let mut answered = match progress {
        // Boxed: the phases that may wait are a large future that routes
        // whose steps never wait (and those without policies) should not
        // carry.
        Progress::Paused => {
            let host = host.as_ref().map_or("", policy::HostCopy::as_str);
            Box::pin(chained(worker, route, req, host, ex, &mut chain)).await
        }
        Progress::Answered(early) => {
            let early = Ok(with_request_id(early, route, req));
            after_steps_now(worker, route, early, &mut chain)
        }
        Progress::Done => {
            let answered = answer(worker, route, req, ex).await;
            match host {
                Some(_) => after_steps_now(worker, route, answered, &mut chain),
                None => answered,
            }
        }
    };
    if let Some(job) = chain.background.take() {
        tokio::spawn(policy::cache::revalidate(worker.clone(), index, job));
    }
    lifecycle::announce(route, &mut answered);
    answered
}

/// The index of the route that takes the request.
fn pick_route(snapshot: &Snapshot, req: &Incoming<'_>, host: &str) -> Result<usize, ProxyError> {
    let input = RouteInput {
        listener: req.listener,
        host,
        path: req.uri.path(),
        query: req.uri.query(),
        method: &req.method,
        headers: &req.headers,
    };
    snapshot.router.route(&input).ok_or_else(|| {
        ProxyError::new(
            ErrorSource::Config,
            ErrorKind::NoRoute,
            "no route matches this request",
        )
    })
}

/// The servers read X-Request-Id before routing; a route that names
/// another header takes the client's id from there.
fn adopt_request_id(route: &Route, headers: &HeaderMap, request_id: &mut HeaderValue) {
    let id_header = &route.forwarding.request_id_header;
    if *id_header != DEFAULT_REQUEST_ID {
        if let Some(v) = headers.get(id_header) {
            if !v.is_empty() && v.len() <= 200 {
                *request_id = v.clone();
            }
        }
    }
}

/// The route's screening of the request's fields before its policies run:
/// upgrades it does not allow, names with `_` (see `screen`).
fn screen_fields(
    snapshot: &Snapshot,
    route: &Route,
    req: &mut Incoming<'_>,
    ex: &mut Exchange,
) -> Result<(), ProxyError> {
    let rules = &route.forwarding;
    let keep = snapshot.config.listeners[req.listener].keep_underscore_headers;
    let certs = &snapshot.client_cert_headers;
    let managed = |n: &http::HeaderName| {
        crate::forward::is_managed_lookalike(
            n,
            std::iter::once(&rules.request_id_header).chain(certs),
        )
    };
    ex.dropped_headers = screen::underscores(
        &mut req.headers,
        keep,
        rules.refuse_underscore_headers,
        managed,
    )?;
    screen::upgrade(req, rules);
    Ok(())
}

/// The route's policy chain around its target, from the step `chain` is
/// at (a background revalidation starts at its cache step; a request,
/// after the steps `policy::request_phase_now` ran).
pub(crate) async fn chained(
    worker: &Arc<Worker>,
    route: &Route,
    req: &mut Incoming<'_>,
    host: &str,
    ex: &mut Exchange,
    chain: &mut ChainState,
) -> Result<Response<ResponseBody>, ProxyError> {
    let mut answered = match policy::request_phase(worker, route, req, host, ex, chain).await {
        Some(early) => Ok(with_request_id(early, route, req)),
        None => answer(worker, route, req, ex).await,
    };
    error_phase(route, &mut answered, chain);
    if let Ok(resp) = &mut answered {
        policy::response_phase(route, resp, chain).await;
        count_chain(worker, chain);
    }
    answered
}

/// The end of a chain whose steps never waited: the error and response
/// phases need no waiting either.
fn after_steps_now(
    worker: &Worker,
    route: &Route,
    mut answered: Result<Response<ResponseBody>, ProxyError>,
    chain: &mut ChainState,
) -> Result<Response<ResponseBody>, ProxyError> {
    error_phase(route, &mut answered, chain);
    if let Ok(resp) = &mut answered {
        policy::response_phase_now(route, resp, chain);
        count_chain(worker, chain);
    }
    answered
}

/// An early answer of a step carries the request id as the target's do.
fn with_request_id(
    mut early: Response<ResponseBody>,
    route: &Route,
    req: &Incoming<'_>,
) -> Response<ResponseBody> {
    early
        .headers_mut()
        .entry(&route.forwarding.request_id_header)
        .or_insert_with(|| req.request_id.clone());
    early
}

/// Lets the steps that ran replace an error with an answer.
fn error_phase(
    route: &Route,
    answered: &mut Result<Response<ResponseBody>, ProxyError>,
    chain: &mut ChainState,
) {
    if let Err(e) = answered {
        if let Some(resp) = policy::error_phase(route, e, chain) {
            *answered = Ok(resp);
        }
    }
}

/// Counts what the chain's edge steps did (a compressed answer, a cache
/// lookup).
fn count_chain(worker: &Worker, chain: &ChainState) {
    let edge = &worker.metrics.carried().edge;
    if let Some(coding) = chain.compressed {
        edge.compressed(coding);
    }
    if let Some(result) = chain.cache_lookup {
        edge.cache_lookup(result);
    }
}

/// A request tollgate makes for itself (a policy fetching a key set)
/// through `route`'s target: no policies, no access log.
pub(crate) async fn internal_request(
    worker: &Worker,
    route: &Route,
    req: &mut Incoming<'_>,
) -> Result<Response<ResponseBody>, ProxyError> {
    answer(worker, route, req, &mut Exchange::default()).await
}

/// The answer of the route's target.
async fn answer(
    worker: &Worker,
    route: &Route,
    req: &mut Incoming<'_>,
    ex: &mut Exchange,
) -> Result<Response<ResponseBody>, ProxyError> {
    let id_header = &route.forwarding.request_id_header;
    match &route.target {
        RouteTarget::Respond(fixed) => {
            let mut resp = fixed_response(fixed);
            resp.headers_mut().insert(id_header, req.request_id.clone());
            Ok(resp)
        }
        RouteTarget::Redirect(r) => {
            let mut resp = redirect(r, route, req);
            resp.headers_mut().insert(id_header, req.request_id.clone());
            Ok(resp)
        }
        RouteTarget::Static(files) => {
            let mut resp = static_target::serve(route, files, req).await;
            resp.headers_mut()
                .entry(id_header)
                .or_insert_with(|| req.request_id.clone());
            Ok(resp)
        }
        RouteTarget::Aggregate(agg) => {
            let deadline = tokio::time::Instant::now() + route.timeout;
            let served = aggregate::serve(worker, route, agg, req, ex, deadline);
            let mut resp = match tokio::time::timeout_at(deadline, served).await {
                Ok(result) => result?,
                Err(_) => {
                    ex.timeout = Some("upstream");
                    return Err(ProxyError::upstream(
                        ErrorKind::UpstreamTimeout,
                        "aggregate timed out",
                    ));
                }
            };
            resp.headers_mut().insert(id_header, req.request_id.clone());
            Ok(resp)
        }
        RouteTarget::Upstream(u) => {
            // A gRPC client's own deadline shortens the route's, never lengthens it.
            let timeout = match req.grpc.and_then(|g| g.timeout) {
                Some(t) => t.min(route.timeout),
                None => route.timeout,
            };
            let deadline = tokio::time::Instant::now() + timeout;
            let forward = forward_upstream(worker, route, *u, req, ex, deadline);
            match tokio::time::timeout_at(deadline, forward).await {
                Ok(result) => result,
                // The deadline found tollgate waiting for the request body:
                // the client was slow (RFC 9110 §15.5.9), not the upstream.
                Err(_) if req.body.waiting_on_client() => {
                    ex.timeout = Some("client_body");
                    Err(ProxyError::client(
                        ErrorKind::RequestTimeout,
                        "request body not received in time",
                    ))
                }
                Err(_) => {
                    ex.timeout = Some("upstream");
                    Err(ProxyError::upstream(
                        ErrorKind::UpstreamTimeout,
                        "request timed out",
                    ))
                }
            }
        }
    }
}

/// The answer of a `redirect_https` listener: same host and path, https.
fn https_redirect(
    r: &HttpsRedirect,
    host: &str,
    req: &Incoming<'_>,
) -> Result<Response<ResponseBody>, ProxyError> {
    let pq = req.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let location = tollgate_edge::https_location(r, host, pq)
        .and_then(|l| HeaderValue::from_str(&l).ok())
        .ok_or_else(|| ProxyError::client(ErrorKind::BadRequest, "no Host to redirect to"))?;
    let mut resp = Response::new(ResponseBody::Empty);
    *resp.status_mut() = r.status;
    resp.headers_mut().insert(header::LOCATION, location);
    resp.headers_mut()
        .insert(&DEFAULT_REQUEST_ID, req.request_id.clone());
    Ok(resp)
}

fn fixed_response(fixed: &FixedResponse) -> Response<ResponseBody> {
    let mut resp = Response::new(ResponseBody::full(fixed.body.clone()));
    *resp.status_mut() = fixed.status;
    for (name, value) in &fixed.headers {
        resp.headers_mut().append(name, value.clone());
    }
    resp
}

fn redirect(r: &Redirect, route: &Route, req: &Incoming<'_>) -> Response<ResponseBody> {
    let mut location = match r.location.as_literal() {
        Some(fixed) => fixed.to_owned(),
        None => {
            let host = request_host(&req.uri, &req.headers);
            let mut out = String::new();
            RequestVars::new(route, req, &host).render(&r.location, &mut out);
            out
        }
    };
    if r.keep_path {
        let pq = req.uri.path_and_query().map_or("/", |pq| pq.as_str());
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
        h.insert(&DEFAULT_REQUEST_ID, v);
    }
    // Error answers only: the extension map is allocated here, never on
    // the way of an ordinary answer.
    resp.extensions_mut().insert(grpc::ErrorAnswer {
        kind: err.kind,
        message: err.message.as_str().into(),
    });
    resp
}

/// The error answer of a request refused by configuration (403, 404, 405,
/// 429, ...), as an answer rather than an error so that the caller can add
/// fields (`Allow`, `Retry-After`) and the connection stays open.
pub(crate) fn refusal(
    kind: ErrorKind,
    message: &str,
    request_id: &HeaderValue,
) -> Response<ResponseBody> {
    error_response(
        &ProxyError::new(ErrorSource::Config, kind, message),
        request_id,
    )
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
