//! The API gateway's policies (`key_auth`, `acl`): one dispatch for the
//! role. The rules are in `tollgate_gateway`; this file runs them on the
//! request, keeps the consumer in the request's [`Exchange`] for later
//! policies, and turns refusals into answers through `pipeline::refusal`
//! (so every refusal looks alike, whatever the protocol).

use http::header::WWW_AUTHENTICATE;
use http::{HeaderValue, Response};
use tollgate_config::GatewayPolicy;
use tollgate_core::ErrorKind;
use tollgate_gateway::{acl, key_auth, Outcome, Refusal};

use crate::body::ResponseBody;
use crate::pipeline::{refusal, Exchange, Incoming};
use crate::snapshot::Worker;

/// Runs one gateway policy; `Some` is the refusal that ends the request.
pub(super) fn on_request(
    worker: &Worker,
    policy: &GatewayPolicy,
    req: &mut Incoming<'_>,
    ex: &mut Exchange,
) -> Option<Response<ResponseBody>> {
    let dir = &worker.snapshot.directory;
    match policy {
        GatewayPolicy::KeyAuth(p) => {
            let query_len = req.uri.query().map(str::len);
            let outcome = key_auth::authenticate(p, dir, &mut req.headers, &mut req.uri);
            if req.uri.query().map(str::len) != query_len {
                redact_logged_target(req, ex);
            }
            settle(outcome, "key_auth", req, ex)
        }
        GatewayPolicy::Acl(rules) => {
            let Some(consumer) = &ex.consumer else {
                // Validation puts an auth policy first; it identified or refused.
                return Some(answer(Refusal::forbidden("acl:no_consumer"), req, ex));
            };
            match acl::check(rules, consumer) {
                Ok(()) => None,
                Err(r) => Some(answer(r, req, ex)),
            }
        }
    }
}

/// Records what an auth policy found; a refusal becomes the answer.
fn settle(
    outcome: Outcome,
    kind: &'static str,
    req: &Incoming<'_>,
    ex: &mut Exchange,
) -> Option<Response<ResponseBody>> {
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
        Outcome::Refused(r) => Some(answer(r, req, ex)),
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
