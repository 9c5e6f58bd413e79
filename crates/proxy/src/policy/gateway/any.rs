//! `auth: {any: [...]}`: the methods run in order. The first that
//! identifies wins; one whose credential is there but wrong refuses the
//! request (no fall-through, so a bad token never becomes a try with
//! another method); one whose credential is absent passes to the next.
//! None present: the `anonymous` consumer, or a 401 carrying every
//! method's challenge. API keys of methods that did not run are taken out
//! of the request all the same: no key reaches the upstream.

use std::sync::Arc;

use tollgate_config::{AnyAuth, GatewayPolicy};
use tollgate_gateway::{key_auth, Challenge, Refusal};

use crate::gateway::StepRuntime;
use crate::pipeline::{Exchange, Incoming};
use crate::snapshot::Worker;

/// Runs `any`; `Some` is its refusal.
pub(super) async fn on_request(
    worker: &Arc<Worker>,
    any: &AnyAuth,
    rt: Option<&StepRuntime>,
    req: &mut Incoming<'_>,
    ex: &mut Exchange,
) -> Option<Refusal> {
    let members: &[Option<StepRuntime>] = match rt {
        Some(StepRuntime::Any(m)) => m,
        _ => &[],
    };
    let mut challenges = Vec::new();
    for (i, method) in any.methods.iter().enumerate() {
        let rt = members.get(i).and_then(Option::as_ref);
        match super::identify(worker, method, rt, req, ex).await {
            None => {
                drop_unused_keys(&any.methods[i + 1..], req, ex);
                return None;
            }
            Some(r) if r.is_missing() => challenges.extend(r.challenge),
            Some(r) => return Some(r),
        }
    }
    let dir = &worker.snapshot.gateway.directory;
    if let Some(c) = any.anonymous.as_deref().and_then(|n| dir.by_name(n)) {
        ex.consumer = Some(c.clone());
        ex.auth = Some("anonymous");
        return None;
    }
    Some(Refusal::unauthorized(
        "auth:missing",
        "credentials required",
        Challenge::Several(challenges),
    ))
}

/// Removes the keys of the `key_auth` methods left unrun.
fn drop_unused_keys(rest: &[GatewayPolicy], req: &mut Incoming<'_>, ex: &mut Exchange) {
    for m in rest {
        if let GatewayPolicy::KeyAuth(k) = m {
            let query_len = req.uri.query().map(str::len);
            let _ = key_auth::take_key(&k.sources, &mut req.headers, &mut req.uri);
            if req.uri.query().map(str::len) != query_len {
                super::redact_logged_target(req, ex);
            }
        }
    }
}
