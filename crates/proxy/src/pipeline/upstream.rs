//! Forwarding to an upstream: pick a target (with failover on connect),
//! apply the forwarding rules, run the exchange, report health, and shape
//! the answer.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, Response, StatusCode, Uri, Version};
use tollgate_balance::{
    backoff, hash64, Admission, Available, ConcurrencyPermit, PickContext, RetryBudget,
};
use tollgate_config::{Balance, HostRewrite, Retries, Route, Sticky, Upstream, UpstreamProtocol};
use tollgate_core::{ErrorKind, ErrorSource, ProxyError};

use super::hash_key::{cookie_value, hash_key};
use super::{Exchange, Incoming};
use crate::body::{RequestBody, ResponseBody};
use crate::forward;
use crate::health::UpstreamHealth;
use crate::resilience::{now_secs, random_unit};
use crate::snapshot::{InFlightTicket, Snapshot, Worker};
use crate::upstream::{exchange, h2_send, H2Sender, OutgoingRequest, PooledConn, UpstreamBody};

/// Forwards to upstream `u`: admission (concurrency cap, breaker), then
/// attempts with failover and retries; the breaker learns the outcome.
pub(super) async fn forward_upstream(
    worker: &Worker,
    route: &Route,
    u: usize,
    req: &mut Incoming<'_>,
    ex: &mut Exchange,
    deadline: tokio::time::Instant,
) -> Result<Response<ResponseBody>, ProxyError> {
    let guards = &worker.snapshot.resilience[u];
    let slot = guards.request_slot()?;
    let Some(breaker) = &guards.breaker else {
        return attempts(worker, route, u, req, ex, deadline, slot).await;
    };
    let admission = breaker.admit(Instant::now());
    if admission == Admission::Refuse {
        return Err(ProxyError::upstream(
            ErrorKind::Unavailable,
            "circuit breaker open",
        ));
    }
    let result = attempts(worker, route, u, req, ex, deadline, slot).await;
    match &result {
        // tollgate's own refusal (its connection cap, no healthy target)
        // says nothing about how the upstream answers: not an outcome. A
        // probe left unrecorded is freed when the half-open state times out.
        Err(e) if e.kind == ErrorKind::Unavailable => {}
        Ok(r) => breaker.record(admission, r.status().as_u16() < 500, Instant::now()),
        Err(_) => breaker.record(admission, false, Instant::now()),
    }
    result
}

/// Why an attempt did not produce the answer.
enum Failed {
    /// Every target refused or timed out the connection.
    Connect(ProxyError),
    /// The exchange failed after the request (or part of it) was sent.
    Exchange(ProxyError),
    /// The upstream answered with a status `retries.on` names.
    Status(StatusCode),
}

/// What one attempt came to: the target and its answer with the time to
/// its head, or the target tried (if any) and why it failed.
type Attempted = Result<(usize, Response<ResponseBody>, Timing), (Option<usize>, Failed)>;

/// How long an attempt that got an answer took, by phase.
#[derive(Debug, Clone, Copy)]
struct Timing {
    /// Getting a connection (or an HTTP/2 sender): about nothing when an
    /// idle one was reused, else the TCP (and TLS) connect, failovers
    /// included.
    connect: Duration,
    /// The request sent to the answer's head.
    head: Duration,
}

/// The attempts: pick a target (failover on connect), send, and retry on
/// the conditions `retries` allows while the budget lasts.
async fn attempts(
    worker: &Worker,
    route: &Route,
    u: usize,
    req: &mut Incoming<'_>,
    ex: &mut Exchange,
    deadline: tokio::time::Instant,
    mut slot: Option<ConcurrencyPermit>,
) -> Result<Response<ResponseBody>, ProxyError> {
    let snapshot = &*worker.snapshot;
    let upstream = &snapshot.config.upstreams[u];
    let guards = &snapshot.resilience[u];
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
    // Targets drained through the admin API take no new request.
    let undrained;
    let available = match snapshot.drained[u].exclude(available) {
        Some(set) => {
            undrained = set;
            &undrained
        }
        None => available,
    };
    let retry = retry_policy(upstream, &req.method);
    // A body is kept in memory to be sent again only when retries may
    // need it and its announced length is under the limit.
    let replay = match retry {
        Some(r)
            if !req.upgrade
                && req
                    .body
                    .known_length()
                    .is_some_and(|n| n > 0 && n <= r.buffer_body) =>
        {
            Some(req.body.read_all().await?)
        }
        _ => None,
    };
    let resendable = replay.is_some() || req.body.known_length() == Some(0);
    if retry.is_some() {
        if let Some(b) = &guards.budget {
            b.deposit();
        }
    }
    let sticky = sticky_target(snapshot, u, req);
    let key = PickKey::of(worker, u, req);
    let mut headers = forwarded_headers(
        snapshot,
        route,
        req,
        upstream.protocol != UpstreamProtocol::Http1,
    );
    identity_headers(snapshot, &mut headers, ex);

    let mut tried: Option<Available> = None;
    let mut retries_done = 0u32;
    loop {
        let pool_set = tried
            .as_ref()
            .filter(|t| t.count() > 0)
            .unwrap_or(available);
        let first = match sticky.filter(|&t| pool_set.contains(t)) {
            Some(t) => t,
            None => {
                let t = pick_target(worker, u, &key, pool_set).ok_or_else(|| {
                    ProxyError::upstream(ErrorKind::Unavailable, "upstream has no available target")
                })?;
                slow_start(worker, u, &key, pool_set, t)
            }
        };
        let mut body = replay
            .as_ref()
            .map(|bytes| RequestBody::Buffered(Some(bytes.clone())));
        let status_retry = guards
            .budget
            .as_ref()
            .filter(|_| resendable && retry.is_some_and(|r| retries_done < r.attempts));
        let span = ex
            .trace
            .as_ref()
            .map(|t| crate::trace::begin_client(t, &mut headers));
        let outcome = attempt(
            worker,
            route,
            u,
            first,
            pool_set,
            &key,
            req,
            body.as_mut(),
            status_retry,
            &mut headers,
            deadline,
            &mut slot,
        )
        .await;
        if let (Some(span), Some(trace)) = (span, ex.trace.as_ref()) {
            end_attempt_span(worker, route, u, req, trace, span, &outcome, retries_done);
        }
        let (t, failed) = match outcome {
            Ok((t, mut resp, timing)) => {
                ex.upstream = Some((u, t));
                ex.upstream_time = Some(timing.head);
                ex.upstream_connect = Some(timing.connect);
                ex.upstream_head_at = Some(Instant::now());
                if let Some(st) = &upstream.sticky {
                    if sticky != Some(t) {
                        set_sticky_cookie(resp.headers_mut(), st, &guards.sticky_ids[t], req);
                    }
                }
                return Ok(resp);
            }
            Err((t, failed)) => (t, failed),
        };
        ex.upstream = t.map(|t| (u, t));
        if let Some(e) = give_up(
            failed,
            retry,
            retries_done,
            resendable,
            guards.budget.as_ref().map(|b| (b, worker, u)),
        ) {
            return Err(e);
        }
        retries_done += 1;
        worker.metrics.retried(u);
        // Another target next time, while there is one not yet tried.
        if let Some(t) = t {
            let set = tried.get_or_insert_with(|| available.clone());
            set.set(t, false);
        }
        if let Some(r) = retry {
            let wait = backoff(r.backoff_base, r.backoff_max, retries_done, random_unit());
            if tokio::time::Instant::now() + wait >= deadline {
                return Err(ProxyError::upstream(
                    ErrorKind::UpstreamTimeout,
                    "request timed out",
                ));
            }
            tokio::time::sleep(wait).await;
        }
    }
}

/// Ends an attempt's client span with what the attempt came to.
#[allow(clippy::too_many_arguments)]
fn end_attempt_span(
    worker: &Worker,
    route: &Route,
    u: usize,
    req: &Incoming<'_>,
    trace: &crate::trace::RequestTrace,
    span: crate::trace::ClientSpan,
    outcome: &Attempted,
    resends: u32,
) {
    use crate::trace::AttemptEnd;
    if !trace.sampled() {
        return;
    }
    let (target, end) = match outcome {
        Ok((t, resp, _)) => (Some(*t), AttemptEnd::Status(resp.status().as_u16())),
        Err((t, Failed::Status(code))) => (*t, AttemptEnd::Status(code.as_u16())),
        Err((t, Failed::Connect(_))) => (*t, AttemptEnd::Failed("connect_error")),
        Err((t, Failed::Exchange(e))) => (
            *t,
            AttemptEnd::Failed(match e.kind {
                ErrorKind::UpstreamTimeout => "timeout",
                ErrorKind::UpstreamConnect => "connect_error",
                ErrorKind::UpstreamProtocol => "upstream_protocol",
                _ => "_OTHER",
            }),
        ),
    };
    let address = target.map(|t| worker.pools[u][t].address.as_str());
    let path = upstream_target(route, &req.uri);
    crate::trace::end_client(worker, trace, span, address, &path, end, resends);
}

/// One attempt: connect to `first` (failing over to others of `set` on
/// connect errors), send, and read the head. On success returns the target
/// and the answer with its in-flight ticket.
#[allow(clippy::too_many_arguments)]
async fn attempt<'b>(
    worker: &Worker,
    route: &Route,
    u: usize,
    first: usize,
    set: &Available,
    key: &PickKey,
    req: &mut Incoming<'b>,
    replay: Option<&mut RequestBody<'b>>,
    status_retry: Option<&RetryBudget>,
    headers: &mut HeaderMap,
    deadline: tokio::time::Instant,
    slot: &mut Option<ConcurrencyPermit>,
) -> Attempted {
    let snapshot = &*worker.snapshot;
    let upstream = &snapshot.config.upstreams[u];
    let health = snapshot.health[u].as_deref();
    // A status `retries.on` names is retried only while a retry is left;
    // otherwise the answer goes to the client as it is.
    let retry_status = |code: StatusCode| {
        status_retry.is_some_and(|budget| {
            upstream
                .retries
                .as_ref()
                .is_some_and(|r| r.on.statuses.contains(&code.as_u16()))
                && withdrawn(budget.try_withdraw(now_secs()), worker, u)
        })
    };
    // Failover: a target that cannot be connected to got nothing of the
    // request, so another one is tried (each at most once).
    let connecting = Instant::now();
    let (t, opened) = if upstream.protocol == UpstreamProtocol::Http1 {
        let (t, conn) = failover(worker, u, first, set, key, |t| {
            worker.pools[u][t].checkout()
        })
        .await?;
        (t, Opened::H1(conn))
    } else {
        let (t, sender) = failover(worker, u, first, set, key, |t| {
            worker.h2[u][t].sender(&worker.pools[u][t])
        })
        .await?;
        (t, Opened::H2(sender))
    };
    // In flight from here until the response body is over (or this
    // attempt fails and the ticket drops).
    let connect = connecting.elapsed();
    let mut ticket = InFlightTicket::acquire(&worker.snapshot, u, t);
    let pool = &worker.pools[u][t];
    let balancer = &snapshot.balancers[u];
    let started = Instant::now();
    let body: &mut RequestBody<'_> = match replay {
        Some(b) => b,
        None => &mut req.body,
    };
    let target_path = upstream_target(route, &req.uri);
    let upstream_host: &str = match &route.forwarding.host {
        HostRewrite::Preserve => headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or(&pool.address),
        HostRewrite::Target => &pool.address,
        HostRewrite::Fixed(h) => h,
    };

    let mut conn = match opened {
        Opened::H1(conn) => conn,
        Opened::H2(sender) => {
            let scheme = if upstream.tls.is_some() {
                "https"
            } else {
                "http"
            };
            let uri = format!("{scheme}://{upstream_host}{target_path}");
            let mut builder = http::Request::builder()
                .method(req.method.clone())
                .uri(uri)
                .version(Version::HTTP_2);
            if let Some(h) = builder.headers_mut() {
                // Copied only when a retry may need them again.
                *h = if retry_policy(upstream, &req.method).is_some() {
                    headers.clone()
                } else {
                    std::mem::take(headers)
                };
                h.remove(header::HOST);
                h.remove(header::CONNECTION);
                h.remove(header::UPGRADE);
            }
            let resp = tokio::time::timeout(
                upstream.response_header_timeout,
                // Boxed: the h2 client's state would otherwise enlarge every request's future.
                Box::pin(h2_send(
                    sender,
                    builder,
                    body,
                    req.version >= Version::HTTP_11,
                )),
            )
            .await
            .map_err(|_| {
                ProxyError::upstream(
                    ErrorKind::UpstreamTimeout,
                    "upstream did not answer in time",
                )
            })
            .and_then(|r| r)
            .map_err(|e| {
                if e.source == ErrorSource::Upstream {
                    report(health, t, false);
                }
                (Some(t), Failed::Exchange(e))
            })?;
            report(health, t, resp.status().as_u16() < 500);
            let elapsed = started.elapsed();
            balancer.record_latency(t, elapsed);
            pool.record_latency(elapsed);
            if retry_status(resp.status()) {
                return Err((Some(t), Failed::Status(resp.status())));
            }
            ticket.hold(slot.take());
            let (mut parts, body) = resp.into_parts();
            finish_response_headers(&mut parts.headers, route, &req.request_id, false);
            return Ok((
                t,
                Response::from_parts(parts, ResponseBody::H2(body, ticket)),
                Timing {
                    connect,
                    head: elapsed,
                },
            ));
        }
    };
    let host_value = match &route.forwarding.host {
        HostRewrite::Preserve if headers.contains_key(header::HOST) => None,
        _ => HeaderValue::from_str(upstream_host).ok(),
    };
    if let Some(v) = host_value {
        headers.insert(header::HOST, v);
    }
    let idempotent = is_idempotent(&req.method);
    let head = loop {
        let outgoing = OutgoingRequest {
            method: &req.method,
            target: &target_path,
            headers,
            body,
            // RFC 9110 §15.2: never to HTTP/1.0 clients. (A body kept for
            // retries has no client connection: its interim answers drop.)
            forward_interim: req.version >= Version::HTTP_11,
            answer_room: answer_room(route),
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
            // A reused connection the upstream had closed: nothing was
            // processed, so a fresh connection to the same target is safe.
            Err(e) if e.before_response && idempotent && conn.reused => {
                // Boxed like checkout's slow path: a stale pooled connection is rare.
                conn = Box::pin(pool.connect()).await.map_err(|e| {
                    if e.retryable {
                        report(health, t, false);
                    }
                    (Some(t), Failed::Connect(e))
                })?;
            }
            Err(e) => {
                if e.error.source == ErrorSource::Upstream {
                    report(health, t, false);
                }
                return Err((Some(t), Failed::Exchange(e.error)));
            }
        }
    };
    report(health, t, head.status.as_u16() < 500);
    let elapsed = started.elapsed();
    balancer.record_latency(t, elapsed);
    pool.record_latency(elapsed);
    if retry_status(head.status) {
        // The connection is dropped with the unread answer.
        return Err((Some(t), Failed::Status(head.status)));
    }
    let switching = head.status == StatusCode::SWITCHING_PROTOCOLS;
    if switching && !req.upgrade {
        return Err((
            Some(t),
            Failed::Exchange(ProxyError::upstream(
                ErrorKind::UpstreamProtocol,
                "upstream switched protocols unasked",
            )),
        ));
    }
    ticket.hold(slot.take());
    let mut resp_headers = head.headers;
    finish_response_headers(&mut resp_headers, route, &req.request_id, switching);
    let body = if switching {
        UpstreamBody::switched(conn, pool.clone(), ticket, upstream.read_idle_timeout)
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
    Ok((
        t,
        resp,
        Timing {
            connect,
            head: elapsed,
        },
    ))
}

/// What an attempt sends on.
enum Opened {
    /// A pooled HTTP/1.1 connection.
    H1(PooledConn),
    /// The target's shared HTTP/2 connection.
    H2(H2Sender),
}

/// Opens a connection to `first` with `open`, failing over to other targets
/// of `set` while connecting fails; each failure is a passive health failure
/// of its target. A refusal by the upstream's connection limit (not
/// retryable) ends the search: every target shares the limit, and it is no
/// fault of the target.
async fn failover<C, F>(
    worker: &Worker,
    u: usize,
    first: usize,
    set: &Available,
    key: &PickKey,
    mut open: impl FnMut(usize) -> F,
) -> Result<(usize, C), (Option<usize>, Failed)>
where
    F: std::future::Future<Output = Result<C, ProxyError>>,
{
    let health = worker.snapshot.health[u].as_deref();
    let mut t = first;
    let mut excluded: Option<Available> = None;
    loop {
        let e = match open(t).await {
            Ok(conn) => return Ok((t, conn)),
            Err(e) if !e.retryable => return Err((Some(t), Failed::Connect(e))),
            Err(e) => e,
        };
        report(health, t, false);
        let others = excluded.get_or_insert_with(|| set.clone());
        others.set(t, false);
        match pick_target(worker, u, key, others) {
            Some(next) => t = next,
            None => return Err((Some(t), Failed::Connect(e))),
        }
    }
}

/// The error to answer with when `failed` may not be retried, `None` when
/// a retry is allowed (and charged to the budget).
fn give_up(
    failed: Failed,
    retry: Option<&Retries>,
    retries_done: u32,
    resendable: bool,
    budget: Option<(&RetryBudget, &Worker, usize)>,
) -> Option<ProxyError> {
    let (error, condition) = match failed {
        // The budget was charged when the status was judged retryable.
        Failed::Status(_) => return None,
        // Not retryable: refused by the upstream's own connection limit,
        // which every target shares.
        Failed::Connect(e) => {
            let condition = e.retryable && retry.is_some_and(|r| r.on.connect_error);
            (e, condition)
        }
        Failed::Exchange(e) => {
            let on = retry.map(|r| &r.on);
            let condition = resendable
                && on.is_some_and(|on| {
                    (on.reset && e.kind == ErrorKind::UpstreamProtocol)
                        || (on.timeout && e.kind == ErrorKind::UpstreamTimeout)
                });
            (e, condition)
        }
    };
    let allowed = condition
        && retry.is_some_and(|r| retries_done < r.attempts)
        && budget.is_some_and(|(b, worker, u)| withdrawn(b.try_withdraw(now_secs()), worker, u));
    (!allowed).then_some(error)
}

/// `ok`, the outcome of a withdrawal from upstream `u`'s retry budget;
/// a refusal is counted in the worker's metrics.
fn withdrawn(ok: bool, worker: &Worker, u: usize) -> bool {
    if !ok {
        worker.metrics.budget_refused(u);
    }
    ok
}

/// The upstream's retries when they apply to `method` (non-idempotent
/// methods only with `methods: all`).
fn retry_policy<'u>(upstream: &'u Upstream, method: &Method) -> Option<&'u Retries> {
    upstream
        .retries
        .as_ref()
        .filter(|r| r.attempts > 0 && (is_idempotent(method) || r.non_idempotent))
}

fn is_idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// The consumer's identity headers: client-sent copies out (in every
/// spelling), the identified consumer's in.
fn identity_headers(snapshot: &Snapshot, headers: &mut HeaderMap, ex: &Exchange) {
    tollgate_gateway::identity::strip(headers, &snapshot.gateway.identity_headers);
    if let Some(c) = &ex.consumer {
        tollgate_gateway::identity::write(headers, &snapshot.config.gateway.identity_headers, c);
    }
}

/// The request's fields after the forwarding rules (hop-by-hop out,
/// X-Forwarded-*, Forwarded, Via, request id); Host is set per attempt.
/// `TE: trailers` goes on to HTTP/2 upstreams (`h2`): gRPC servers refuse
/// calls without it, and it is the one TE value HTTP/2 allows.
fn forwarded_headers(
    snapshot: &Snapshot,
    route: &Route,
    req: &mut Incoming<'_>,
    h2: bool,
) -> HeaderMap {
    let mut headers = std::mem::take(&mut req.headers);
    // Room for the fields added below (request id, Host, X-Forwarded-*),
    // made once: a map decoded with no spare room would grow on each.
    headers.reserve(4);
    // The Host as sent is read while the fields change below: a handle on
    // the field's value (a reference count on the head's buffer), not a copy.
    let host_field = match req.uri.authority() {
        Some(_) => None,
        None => headers.get(header::HOST).cloned(),
    };
    let host_sent: &str = match (req.uri.authority(), &host_field) {
        (Some(a), _) => a.as_str(),
        (None, Some(h)) => h.to_str().unwrap_or(""),
        (None, None) => "",
    };
    let te_trailers = forward::strip_hop_by_hop(&mut headers, req.upgrade, false);
    if te_trailers && h2 {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
    headers.remove(header::EXPECT);
    forward::request_headers(
        &mut headers,
        &route.forwarding,
        &req.client,
        host_sent,
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
    // HTTP/1.1 clients' Host is already right (the codec aligned it with an
    // absolute-form target); an HTTP/2 :authority needs writing.
    if route.forwarding.host == HostRewrite::Preserve && !headers.contains_key(header::HOST) {
        if let Ok(v) = HeaderValue::from_str(host_sent) {
            headers.insert(header::HOST, v);
        }
    }
    headers
}

/// Fields the route adds to an answer: the request id, and what its
/// policies write (estimates; a wrong one costs a map grow, nothing more).
fn answer_room(route: &Route) -> usize {
    use tollgate_config::Policy;
    route.policies.iter().fold(1, |room, policy| {
        room + match policy {
            Policy::Headers(rules) => rules.response.set.len() + rules.response.add.len(),
            Policy::SecurityHeaders(_) => 6,
            Policy::Cors(_) | Policy::Limit(_) => 3,
            Policy::Cache(_) | Policy::Compress(_) => 2,
            _ => 0,
        }
    })
}

/// The request target sent upstream: the route's rewrite applied, origin form.
fn upstream_target<'u>(route: &Route, uri: &'u Uri) -> Cow<'u, str> {
    match &route.rewrite {
        Some(rw) => {
            let path = tollgate_edge::rewrite_path(rw, uri.path());
            match uri.query() {
                Some(q) => Cow::Owned(format!("{path}?{q}")),
                None => Cow::Owned(path.into_owned()),
            }
        }
        None => match uri.path_and_query().map(|pq| pq.as_str()) {
            Some(pq) if pq.starts_with('/') => Cow::Borrowed(pq),
            // An absolute-form target with an empty path (`http://a?b=1`)
            // goes upstream as `/?b=1` (RFC 9112 §3.2.1).
            Some(pq) => Cow::Owned(format!("/{pq}")),
            None => Cow::Borrowed("/"),
        },
    }
}

/// The target a sticky cookie names, when the upstream has `sticky`.
fn sticky_target(snapshot: &Snapshot, u: usize, req: &Incoming<'_>) -> Option<usize> {
    let st = snapshot.config.upstreams[u].sticky.as_ref()?;
    let value = req
        .headers
        .get_all(header::COOKIE)
        .iter()
        .find_map(|v| cookie_value(v.as_bytes(), st.cookie.as_bytes()))?;
    snapshot.resilience[u]
        .sticky_ids
        .iter()
        .position(|id| id.as_bytes() == value)
}

/// Adds the `Set-Cookie` that binds the client to target id `id`.
fn set_sticky_cookie(headers: &mut HeaderMap, st: &Sticky, id: &str, req: &Incoming<'_>) {
    use std::fmt::Write;
    let mut c = format!("{}={id}; Path={}", st.cookie, st.path);
    if let Some(age) = st.max_age {
        let _ = write!(c, "; Max-Age={}", age.as_secs());
    }
    if st.secure || req.client.proto == "https" {
        c.push_str("; Secure");
    }
    if st.http_only {
        c.push_str("; HttpOnly");
    }
    if let Some(s) = &st.same_site {
        let _ = write!(c, "; SameSite={s}");
    }
    if let Ok(v) = HeaderValue::from_str(&c) {
        headers.append(header::SET_COOKIE, v);
    }
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
fn pick_target(worker: &Worker, u: usize, key: &PickKey, available: &Available) -> Option<usize> {
    let mut ctx = PickContext::new(available);
    match key {
        PickKey::None => {}
        PickKey::Ip(ip) => ctx = ctx.with_client_ip(*ip),
        PickKey::Hash(h) => ctx = ctx.with_key_hash(*h),
    }
    worker.snapshot.balancers[u].pick(&ctx)
}

/// Slow start: a target that came back recently keeps a pick only with
/// probability equal to its ramp; otherwise another available target is
/// picked. So its share grows from 10 % to its full share over the ramp.
fn slow_start(worker: &Worker, u: usize, key: &PickKey, set: &Available, t: usize) -> usize {
    let snapshot = &*worker.snapshot;
    let (Some(ramp), Some(health)) = (
        snapshot.config.upstreams[u].slow_start,
        snapshot.health[u].as_deref(),
    ) else {
        return t;
    };
    let share = health.ramp(t, ramp);
    if share >= 1.0 || random_unit() < share || set.count() < 2 {
        return t;
    }
    let mut others = set.clone();
    others.set(t, false);
    pick_target(worker, u, key, &others).unwrap_or(t)
}

/// What the hashing algorithms pick by, taken from the request once
/// (before its fields move into the upstream request).
pub(super) enum PickKey {
    /// The algorithm does not look at the request.
    None,
    /// `ip_hash`: the client's address.
    Ip(std::net::IpAddr),
    /// `consistent_hash`: the hash of the configured source's bytes
    /// (hashed at once, so nothing is copied out of the request).
    Hash(u64),
}

impl PickKey {
    fn of(worker: &Worker, u: usize, req: &Incoming<'_>) -> Self {
        match &worker.snapshot.config.upstreams[u].balance {
            Balance::IpHash => PickKey::Ip(req.client.peer.ip()),
            Balance::ConsistentHash(on) => {
                let mut ip_key = [0u8; 16];
                match hash_key(on, req, &mut ip_key) {
                    // An empty key counts as none (round robin), as in balance.
                    Some(key) if !key.is_empty() => PickKey::Hash(hash64(key)),
                    _ => PickKey::None,
                }
            }
            _ => PickKey::None,
        }
    }
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
