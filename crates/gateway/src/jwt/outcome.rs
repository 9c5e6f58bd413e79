//! What the `jwt` policy makes of a request: its token read from where
//! the policy says, verified (waiting for a fetched key set, or with the
//! file's keys only), and the result as an outcome the glue acts on.

use std::sync::Arc;

use serde_json::Value;

use super::{source, FetchFuture, JwtAuth, JwtError, Verified};
use crate::{Consumer, Directory};

/// A claim as header text: strings as they are, numbers and booleans
/// printed, arrays of those joined with `,`; objects are not forwarded.
pub fn claim_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => {
            let parts: Option<Vec<String>> = items
                .iter()
                .map(|i| match i {
                    Value::Array(_) | Value::Object(_) => None,
                    other => claim_text(other),
                })
                .collect();
            parts.map(|p| p.join(","))
        }
        _ => None,
    }
}

/// What the `jwt` policy made of a request.
#[derive(Debug)]
pub enum JwtOutcome {
    /// A verified token and its consumer.
    Verified(Arc<Verified>),
    /// No token; the policy's `anonymous` consumer.
    Anonymous(Arc<Consumer>),
    /// No token (and no anonymous consumer), or an invalid one.
    Refused(crate::Refusal),
}

impl JwtAuth {
    /// Runs the policy on a request's fields; key sets of `jwks_endpoint`
    /// issuers are fetched through `fetch`.
    pub async fn authenticate(
        &self,
        dir: &Directory,
        headers: &http::HeaderMap,
        uri: &http::Uri,
        fetch: &(dyn Fn(&tollgate_config::JwksEndpoint) -> FetchFuture + Sync),
    ) -> JwtOutcome {
        match self.token(dir, headers, uri) {
            Ok(token) => outcome(self.verify_fetching(dir, token, fetch).await),
            Err(early) => early,
        }
    }

    /// Whether an issuer's keys come from a `jwks_endpoint`: a request may
    /// wait for them, so [`JwtAuth::authenticate`] must run it.
    pub fn fetches_keys(&self) -> bool {
        self.issuers.iter().any(|i| i.jwks.is_some())
    }

    /// [`JwtAuth::authenticate`] for a policy whose keys are all in the
    /// file ([`JwtAuth::fetches_keys`] false): nothing to wait for.
    pub fn authenticate_with_own_keys(
        &self,
        dir: &Directory,
        headers: &http::HeaderMap,
        uri: &http::Uri,
    ) -> JwtOutcome {
        match self.token(dir, headers, uri) {
            Ok(token) => outcome(self.verify(dir, token)),
            Err(early) => early,
        }
    }

    /// The request's token, or what the policy makes of a request without
    /// one (anonymous, refused).
    fn token<'r>(
        &self,
        dir: &Directory,
        headers: &'r http::HeaderMap,
        uri: &'r http::Uri,
    ) -> Result<&'r str, JwtOutcome> {
        use crate::{Challenge, Refusal};
        match source::token(&self.policy.source, headers, uri) {
            Ok(Some(token)) => Ok(token),
            Ok(None) => Err(
                match self
                    .policy
                    .anonymous
                    .as_deref()
                    .and_then(|n| dir.by_name(n))
                {
                    Some(c) => JwtOutcome::Anonymous(c.clone()),
                    None => JwtOutcome::Refused(Refusal::unauthorized(
                        "jwt:missing",
                        "token required",
                        Challenge::Bearer,
                    )),
                },
            ),
            Err(source::NotAToken) => Err(outcome(Err(JwtError::Malformed))),
        }
    }
}

/// A verification's outcome; a refusal names the reason and describes it.
fn outcome(verified: Result<Arc<Verified>, JwtError>) -> JwtOutcome {
    use crate::{Challenge, Refusal};
    match verified {
        Ok(v) => JwtOutcome::Verified(v),
        Err(e) => JwtOutcome::Refused(Refusal::unauthorized(
            e.reason(),
            "invalid token",
            Challenge::InvalidToken(e.description()),
        )),
    }
}
