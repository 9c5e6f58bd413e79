//! The `jwt` step: verify, keep the consumer and claims, and write the
//! claims the policy forwards (client copies of those headers removed
//! first, in every spelling).

use tollgate_config::{JwksEndpoint, JwtPolicy};
use tollgate_gateway::jwt::{claim_text, FetchFuture, JwtAuth, JwtOutcome};
use tollgate_gateway::{identity, Directory, Refusal};

use crate::pipeline::{Exchange, Incoming};

/// Runs the `jwt` policy; `Some` is its refusal.
pub(super) async fn on_request(
    auth: &JwtAuth,
    policy: &JwtPolicy,
    dir: &Directory,
    fetch: &(dyn Fn(&JwksEndpoint) -> FetchFuture + Sync),
    req: &mut Incoming<'_>,
    ex: &mut Exchange,
) -> Option<Refusal> {
    strip_claim_headers(policy, req);
    let outcome = auth.authenticate(dir, &req.headers, &req.uri, fetch).await;
    settle(outcome, policy, req, ex)
}

/// Runs the `jwt` policy when its keys are all at hand (no `jwks_endpoint`
/// issuer: nothing to wait for); `None` when it may wait, else
/// `Some(refusal)`.
pub(super) fn on_request_now(
    auth: &JwtAuth,
    policy: &JwtPolicy,
    dir: &Directory,
    req: &mut Incoming<'_>,
    ex: &mut Exchange,
) -> Option<Option<Refusal>> {
    if auth.fetches_keys() {
        return None;
    }
    strip_claim_headers(policy, req);
    let outcome = auth.authenticate_with_own_keys(dir, &req.headers, &req.uri);
    Some(settle(outcome, policy, req, ex))
}

/// Removes client copies of the headers the policy writes claims in.
fn strip_claim_headers(policy: &JwtPolicy, req: &mut Incoming<'_>) {
    if !policy.claims_to_headers.is_empty() {
        let names: Vec<_> = policy
            .claims_to_headers
            .iter()
            .map(|(_, h)| h.clone())
            .collect();
        identity::strip(&mut req.headers, &names);
    }
}

/// Records what the policy found (claims forwarded, consumer and token
/// kept); `Some` is its refusal.
fn settle(
    outcome: JwtOutcome,
    policy: &JwtPolicy,
    req: &mut Incoming<'_>,
    ex: &mut Exchange,
) -> Option<Refusal> {
    match outcome {
        JwtOutcome::Verified(token) => {
            for (claim, header) in &policy.claims_to_headers {
                let value = token.claims.get(claim).and_then(claim_text);
                if let Some(v) = value.and_then(|v| http::HeaderValue::from_str(&v).ok()) {
                    req.headers.insert(header, v);
                }
            }
            ex.consumer = Some(token.consumer.clone());
            ex.token = Some(token);
            ex.auth = Some("jwt");
            None
        }
        JwtOutcome::Anonymous(c) => {
            ex.consumer = Some(c);
            ex.auth = Some("anonymous");
            None
        }
        JwtOutcome::Refused(r) => Some(r),
    }
}
