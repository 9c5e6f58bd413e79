//! The API gateway's policies (`key_auth`, `basic_auth`, `mtls_auth`,
//! `jwt`, `oauth2_introspection`, `forward_auth`, `auth: {any}`, `acl`,
//! `require`): one dispatch for the role. The rules are in
//! `tollgate_gateway`; this glue runs them on the request, keeps the
//! consumer (and a verified token's claims) in the request's [`Exchange`]
//! for later policies, and turns refusals into answers through
//! `pipeline::refusal` (so every refusal looks alike, whatever the
//! protocol). Calls to other services (JWKS, introspection, external
//! auth) go through tollgate's own upstream client (`call`).

mod any;
mod basic;
mod call;
mod fetch;
mod forward;
mod introspect;
mod jwt;

use std::sync::Arc;

use http::header::WWW_AUTHENTICATE;
use http::{HeaderValue, Response};
use tollgate_config::GatewayPolicy;
use tollgate_core::ErrorKind;
use tollgate_gateway::{acl, key_auth, mtls_auth, require, Challenge, Outcome, Refusal};

use crate::body::ResponseBody;
use crate::gateway::StepRuntime;
use crate::pipeline::{refusal, Exchange, Incoming};
use crate::snapshot::Worker;

/// Runs step `step` (a gateway policy) of route `route`; `Some` is the
/// answer that ends the request (a refusal, or an auth service's own).
pub(super) async fn on_request(
    worker: &Arc<Worker>,
    policy: &GatewayPolicy,
    (route, step): (usize, usize),
    req: &mut Incoming<'_>,
    host: &str,
    ex: &mut Exchange,
) -> Option<Response<ResponseBody>> {
    // The kinds that never wait are run as the synchronous chain runs them.
    if let Some(now) = on_request_now(worker, policy, (route, step), req, ex) {
        return now;
    }
    let gateway = &worker.snapshot.gateway;
    let rt = gateway.step(route, step);
    let refused = match policy {
        GatewayPolicy::ForwardAuth(p) => {
            let dir = &gateway.directory;
            match forward::on_request(worker, p, dir, req, host, ex).await {
                forward::Decision::Allow => None,
                forward::Decision::Deny(resp) => return Some(*resp),
                forward::Decision::Failed(r) => Some(r),
            }
        }
        GatewayPolicy::Any(any) => any::on_request(worker, any, rt, req, ex).await,
        method => identify(worker, method, rt, req, ex).await,
    };
    refused.map(|r| answer(r, req, ex))
}

/// Runs step `step` (a gateway policy) of route `route` when it never
/// waits (`key_auth`, `mtls_auth`, `acl`, `require`, a `jwt` without a
/// fetched key set): `Some(Some(answer))` ends the request, `Some(None)`
/// lets it go on, `None` means the step may wait ([`on_request`] runs it).
pub(super) fn on_request_now(
    worker: &Arc<Worker>,
    policy: &GatewayPolicy,
    (route, step): (usize, usize),
    req: &mut Incoming<'_>,
    ex: &mut Exchange,
) -> Option<Option<Response<ResponseBody>>> {
    let refused = match policy {
        GatewayPolicy::Acl(rules) => match &ex.consumer {
            Some(consumer) => acl::check(rules, consumer).err(),
            // Validation puts an auth policy first; it identified or refused.
            None => Some(Refusal::forbidden("acl:no_consumer")),
        },
        GatewayPolicy::Require(rules) => {
            require::check(rules, ex.token.as_ref().map(|t| &t.claims)).err()
        }
        GatewayPolicy::KeyAuth(_) | GatewayPolicy::MtlsAuth(_) => {
            identify_now(worker, policy, req, ex)?
        }
        GatewayPolicy::Jwt(p) => {
            let Some(StepRuntime::Jwt(auth)) = worker.snapshot.gateway.step(route, step) else {
                return None;
            };
            let dir = &worker.snapshot.gateway.directory;
            jwt::on_request_now(auth, p, dir, req, ex)?
        }
        _ => return None,
    };
    Some(refused.map(|r| answer(r, req, ex)))
}

/// Runs an authentication method that never waits; `Some(Some(_))` is its
/// refusal, `None` a method that may wait.
fn identify_now(
    worker: &Arc<Worker>,
    policy: &GatewayPolicy,
    req: &mut Incoming<'_>,
    ex: &mut Exchange,
) -> Option<Option<Refusal>> {
    let dir = &worker.snapshot.gateway.directory;
    let outcome = match policy {
        GatewayPolicy::KeyAuth(p) => {
            let query_len = req.uri.query().map(str::len);
            let outcome = key_auth::authenticate(p, dir, &mut req.headers, &mut req.uri);
            if req.uri.query().map(str::len) != query_len {
                redact_logged_target(req, ex);
            }
            settle(outcome, "key_auth", ex)
        }
        GatewayPolicy::MtlsAuth(p) => {
            let outcome = match req.client.cert.as_deref() {
                Some(cert) => {
                    let n = &cert.names;
                    let alt: Vec<String> = (n.dns.iter().chain(&n.uris).chain(&n.emails).cloned())
                        .chain(n.ips.iter().map(|ip| ip.to_string()))
                        .collect();
                    let id = mtls_auth::CertIdentity {
                        subject: &n.subject,
                        alt_names: &alt,
                    };
                    mtls_auth::authenticate(p, dir, Some(id))
                }
                None => mtls_auth::authenticate(p, dir, None),
            };
            settle(outcome, "mtls_auth", ex)
        }
        _ => return None,
    };
    Some(outcome)
}

/// Runs one authentication method (a step, or one of `auth: {any}`'s);
/// `Some` is its refusal.
pub(super) async fn identify(
    worker: &Arc<Worker>,
    policy: &GatewayPolicy,
    rt: Option<&StepRuntime>,
    req: &mut Incoming<'_>,
    ex: &mut Exchange,
) -> Option<Refusal> {
    let dir = &worker.snapshot.gateway.directory;
    match (policy, rt) {
        (GatewayPolicy::KeyAuth(_) | GatewayPolicy::MtlsAuth(_), _) => {
            identify_now(worker, policy, req, ex).flatten()
        }
        (GatewayPolicy::BasicAuth(_), Some(StepRuntime::Basic(rt))) => {
            basic::on_request(rt, dir, req, ex).await
        }
        (GatewayPolicy::Jwt(p), Some(StepRuntime::Jwt(auth))) => {
            let fetch = fetch::fetcher(worker);
            jwt::on_request(auth, p, dir, &fetch, req, ex).await
        }
        (GatewayPolicy::Introspection(_), Some(StepRuntime::Introspection(rt))) => {
            introspect::on_request(worker, rt, dir, req, ex).await
        }
        // Cannot happen (the snapshot builds a runtime for each stateful
        // step); never fail open.
        _ => Some(Refusal::unauthorized(
            "auth:unavailable",
            "invalid credentials",
            Challenge::Bearer,
        )),
    }
}

/// Records what an auth policy found; `Some` is its refusal.
pub(super) fn settle(outcome: Outcome, kind: &'static str, ex: &mut Exchange) -> Option<Refusal> {
    match outcome {
        Outcome::Identified(c) => {
            ex.consumer = Some(c);
            ex.auth = Some(kind);
            None
        }
        Outcome::Anonymous(c) => {
            ex.consumer = Some(c);
            ex.auth = Some("anonymous");
            None
        }
        Outcome::Refused(r) => Some(r),
    }
}

/// A 401 with its challenge(s), a 403 or a 503, built by the pipeline's one
/// refusal function; the reason goes to the access log.
fn answer(r: Refusal, req: &Incoming<'_>, ex: &mut Exchange) -> Response<ResponseBody> {
    ex.auth = Some(r.reason);
    let kind = match r.status {
        401 => ErrorKind::Unauthorized,
        403 => ErrorKind::Forbidden,
        _ => ErrorKind::Unavailable,
    };
    let mut resp = refusal(kind, r.message, &req.request_id);
    if let Some(c) = &r.challenge {
        // One field per scheme (RFC 9110 §11.6.1 allows a list, but
        // clients read separate fields more reliably).
        for value in c.header_values() {
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().append(WWW_AUTHENTICATE, v);
            }
        }
    }
    resp
}

/// After a credential left the query string, the access log records the
/// target without it (secrets never reach the log).
fn redact_logged_target(req: &Incoming<'_>, ex: &mut Exchange) {
    let pq = req.uri.path_and_query().map_or("/", |pq| pq.as_str());
    ex.logged_target = Some(pq.to_string());
}
