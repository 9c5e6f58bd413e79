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
    if !policy.claims_to_headers.is_empty() {
        let names: Vec<_> = policy
            .claims_to_headers
            .iter()
            .map(|(_, h)| h.clone())
            .collect();
        identity::strip(&mut req.headers, &names);
    }
    match auth.authenticate(dir, &req.headers, &req.uri, fetch).await {
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
