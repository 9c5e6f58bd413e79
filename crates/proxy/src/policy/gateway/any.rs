//! `auth: {any: [...]}`: the methods run in order. The first that
//! identifies wins; one whose credential is there but wrong refuses the
//! request (no fall-through, so a bad token never becomes a try with
//! another method); one whose credential is absent passes to the next.
//! None present: the `anonymous` consumer, or a 401 carrying every
//! method's challenge.

use std::sync::Arc;

use tollgate_config::AnyAuth;
use tollgate_gateway::{Challenge, Refusal};

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
            None => return None,
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
