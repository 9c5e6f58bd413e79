//! Forwarding to an upstream: pick a target (with failover on connect),
//! apply the forwarding rules, run the exchange, report health, and shape
//! the answer.

use std::borrow::Cow;
use std::time::Instant;

use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, Response, StatusCode, Version};
use tollgate_balance::{Available, PickContext};
use tollgate_config::{Balance, HostRewrite, Route, UpstreamProtocol};
use tollgate_core::{ErrorKind, ErrorSource, ProxyError};

use super::hash_key::hash_key;
use super::{request_host_with_port, Exchange, Incoming};
use crate::body::ResponseBody;
use crate::forward;
use crate::health::UpstreamHealth;
use crate::snapshot::{InFlightTicket, Worker};
use crate::upstream::{exchange, OutgoingRequest, UpstreamBody};

/// Forwards to a target of upstream `u`, retrying once on a fresh
/// connection when a reused one turned out dead before answering an
/// idempotent request.
pub(super) async fn forward_upstream(
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
    let listener = &snapshot.config.listeners[req.listener];
    forward::client_cert_headers(
        &mut headers,
        &snapshot.client_cert_headers,
        listener.tls.as_ref().and_then(|t| t.client_auth.as_ref()),
        req.client.cert.as_deref(),
    );
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

    if upstream.protocol != UpstreamProtocol::Http1 {
        let scheme = if upstream.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let uri = format!("{scheme}://{upstream_host}{target}");
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
