//! The API gateway's policies (`key_auth`, `basic_auth`, `mtls_auth`,
//! `jwt`, `acl`, `require`): one
//! dispatch for the role. The rules are in `tollgate_gateway`; this glue
//! runs them on the request, keeps the consumer (and a verified token's
//! claims) in the request's [`Exchange`] for later policies, and turns
//! refusals into answers through `pipeline::refusal` (so every refusal
//! looks alike, whatever the protocol).

mod basic;
mod fetch;
mod jwt;

use std::sync::Arc;

use http::header::WWW_AUTHENTICATE;
use http::{HeaderValue, Response};
use tollgate_config::GatewayPolicy;
use tollgate_core::ErrorKind;
use tollgate_gateway::{acl, key_auth, mtls_auth, require, Outcome, Refusal};

use crate::body::ResponseBody;
use crate::pipeline::{refusal, Exchange, Incoming};
use crate::snapshot::Worker;

/// Runs step `step` (a gateway policy) of route `route`; `Some` is the
/// refusal that ends the request.
pub(super) async fn on_request(
    worker: &Arc<Worker>,
    policy: &GatewayPolicy,
    (route, step): (usize, usize),
    req: &mut Incoming<'_>,
    ex: &mut Exchange,
) -> Option<Response<ResponseBody>> {
    let gateway = &worker.snapshot.gateway;
    let refused = match policy {
        GatewayPolicy::KeyAuth(p) => {
            let query_len = req.uri.query().map(str::len);
            let outcome =
                key_auth::authenticate(p, &gateway.directory, &mut req.headers, &mut req.uri);
            if req.uri.query().map(str::len) != query_len {
                redact_logged_target(req, ex);
            }
            settle(outcome, "key_auth", ex)
        }
        GatewayPolicy::BasicAuth(_) => match gateway.basic(route, step) {
            Some(rt) => basic::on_request(rt, &gateway.directory, req, ex).await,
            None => Some(Refusal::unauthorized(
                "basic_auth:unavailable",
                "invalid credentials",
                tollgate_gateway::Challenge::Basic("tollgate".into()),
            )),
        },
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
                    mtls_auth::authenticate(p, &gateway.directory, Some(id))
                }
                None => mtls_auth::authenticate(p, &gateway.directory, None),
            };
            settle(outcome, "mtls_auth", ex)
        }
        GatewayPolicy::Jwt(p) => match gateway.jwt(route, step) {
            Some(auth) => {
                let fetch = fetch::fetcher(worker);
                jwt::on_request(auth, p, &gateway.directory, &fetch, req, ex).await
            }
            // Cannot happen (the snapshot builds one per step); never fail open.
            None => Some(Refusal::unauthorized(
                "jwt:unavailable",
                "invalid token",
                tollgate_gateway::Challenge::Bearer,
            )),
        },
        GatewayPolicy::Acl(rules) => match &ex.consumer {
            Some(consumer) => acl::check(rules, consumer).err(),
            // Validation puts an auth policy first; it identified or refused.
            None => Some(Refusal::forbidden("acl:no_consumer")),
        },
        GatewayPolicy::Require(rules) => {
            require::check(rules, ex.token.as_ref().map(|t| &t.claims)).err()
        }
    };
    refused.map(|r| answer(r, req, ex))
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

/// A 401 with its challenge or a 403, built by the pipeline's one
/// refusal function; the reason goes to the access log.
fn answer(r: Refusal, req: &Incoming<'_>, ex: &mut Exchange) -> Response<ResponseBody> {
    ex.auth = Some(r.reason);
    let kind = if r.status == 401 {
        ErrorKind::Unauthorized
    } else {
        ErrorKind::Forbidden
    };
    let mut resp = refusal(kind, r.message, &req.request_id);
    if let Some(c) = &r.challenge {
        if let Ok(v) = HeaderValue::from_str(&c.header_value()) {
            resp.headers_mut().insert(WWW_AUTHENTICATE, v);
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
