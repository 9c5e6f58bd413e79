//! `oauth2_introspection`: an authorization server says whether a token
//! is active (RFC 7662).
//!
//! - The token comes from `Authorization: Bearer` (or the configured
//!   header, query parameter or cookie), as for `jwt`; it stays in place.
//! - It is sent as `token=...&token_type_hint=access_token` in a form
//!   `POST`, tollgate authenticating with HTTP Basic (RFC 7662 §2.1,
//!   RFC 6749 §2.3.1: id and secret form-encoded).
//! - Answers are remembered under a keyed hash (HMAC-SHA-256, key made at
//!   start) of the token, never the token: an active one until
//!   min(`exp`, `cache_ttl`), an inactive one for `negative_cache_ttl`.
//! - One call per token at a time: concurrent requests with the same
//!   token wait for the same answer (single flight).
//! - No answer within the timeout, a non-200 answer, or one that is not
//!   an RFC 7662 object: 503, never 500, never a pass; not remembered.
//! - Inactive, expired or for another audience: 401 with an RFC 6750
//!   `invalid_token` challenge; missing a required scope: 403
//!   `insufficient_scope`.
//! - The consumer: the issuer's `jwt` mappings (when `issuer` is set),
//!   then the first of `consumer_claims` whose value is a consumer's
//!   name, then `consumer`; else the token is refused.

pub mod response;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use tokio::sync::OnceCell;
use tollgate_config::{Introspection, KeyDigest};

use crate::jwt::source;
use crate::{Challenge, Consumer, Directory, Outcome, Refusal};
use response::Answer;

/// The call the proxy makes for the policy: `POST` of `body` with
/// `Authorization: authorization`; the status and body of the answer, or
/// why there is none.
pub type CallFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(u16, Vec<u8>), String>> + Send>>;

/// What is remembered about a token.
#[derive(Debug, Clone)]
enum Known {
    /// Active, until `until`.
    Active(Arc<Answer>, Instant),
    /// Inactive (or expired), until `until`.
    Inactive(Instant),
}

/// The shared result of one call: what it learned, or why it failed.
type Flight = Arc<OnceCell<Result<Known, String>>>;

/// An `oauth2_introspection` policy ready to run: its cache and the calls
/// in flight.
#[derive(Debug)]
pub struct IntrospectionAuth {
    policy: Arc<Introspection>,
    key: hmac::Key,
    authorization: String,
    cache: Option<moka::sync::Cache<KeyDigest, Known>>,
    in_flight: Mutex<HashMap<KeyDigest, Flight>>,
}

impl IntrospectionAuth {
    /// The runtime of `policy`, with an empty cache.
    pub fn new(policy: &Arc<Introspection>) -> Self {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng).expect("random HMAC key");
        let pair = format!(
            "{}:{}",
            form_encode(&policy.client_id),
            form_encode(&policy.client_secret.0)
        );
        let longest = policy.cache_ttl.max(policy.negative_cache_ttl);
        let cache = (policy.cache_size > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(policy.cache_size)
                // An upper bound; each entry's own time is checked on use.
                .time_to_live(longest.max(Duration::from_secs(1)))
                .build()
        });
        Self {
            policy: policy.clone(),
            key,
            authorization: format!("Basic {}", STANDARD.encode(pair)),
            cache,
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    /// The policy this was built from.
    pub fn policy(&self) -> &Arc<Introspection> {
        &self.policy
    }

    /// The `Authorization` value tollgate sends (HTTP Basic of its client
    /// credentials; a secret: never logged).
    pub fn authorization(&self) -> &str {
        &self.authorization
    }

    /// Runs the policy on a request's fields; `call` asks the endpoint.
    pub async fn authenticate(
        &self,
        dir: &Directory,
        headers: &http::HeaderMap,
        uri: &http::Uri,
        call: &(dyn Fn(Vec<u8>) -> CallFuture + Sync),
    ) -> Outcome {
        let token = match source::token(&self.policy.source, headers, uri) {
            Ok(Some(t)) => t,
            Ok(None) => return self.no_token(dir),
            Err(source::NotAToken) => return invalid("oauth2_introspection:malformed"),
        };
        match self.lookup(token, call).await {
            Ok(Known::Active(answer, _)) => self.decide(dir, &answer),
            Ok(Known::Inactive(_)) => invalid("oauth2_introspection:inactive"),
            Err(e) => {
                tracing::warn!("token introspection unavailable: {e}");
                Outcome::Refused(Refusal::unavailable("oauth2_introspection:unavailable"))
            }
        }
    }

    fn no_token(&self, dir: &Directory) -> Outcome {
        match self
            .policy
            .anonymous
            .as_deref()
            .and_then(|n| dir.by_name(n))
        {
            Some(c) => Outcome::Anonymous(c.clone()),
            None => Outcome::Refused(Refusal::unauthorized(
                "oauth2_introspection:missing",
                "token required",
                Challenge::Bearer,
            )),
        }
    }

    /// What is known about `token`: remembered, or asked (once for all
    /// the requests that want it now).
    async fn lookup(
        &self,
        token: &str,
        call: &(dyn Fn(Vec<u8>) -> CallFuture + Sync),
    ) -> Result<Known, String> {
        let digest = self.digest(token);
        let now = Instant::now();
        if let Some(known) = self.cache.as_ref().and_then(|c| c.get(&digest)) {
            match &known {
                Known::Active(_, until) | Known::Inactive(until) if *until > now => {
                    return Ok(known)
                }
                _ => {}
            }
        }
        let flight = {
            let mut map = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(digest).or_default().clone()
        };
        let result = flight
            .get_or_init(|| async {
                let body = form_body(token);
                let limit = self.policy.endpoint.timeout;
                let answer = match tokio::time::timeout(limit, call(body)).await {
                    Ok(r) => r,
                    Err(_) => Err(format!("no answer within {limit:?}")),
                };
                let known = answer.and_then(|(status, body)| self.learn(status, &body));
                if let (Ok(k), Some(cache)) = (&known, &self.cache) {
                    cache.insert(digest, k.clone());
                }
                known
            })
            .await
            .clone();
        let mut map = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        if map.get(&digest).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
            map.remove(&digest);
        }
        result
    }

    /// What an answer teaches, and until when.
    fn learn(&self, status: u16, body: &[u8]) -> Result<Known, String> {
        if status != 200 {
            return Err(format!("the endpoint answered {status}"));
        }
        let answer = response::parse(body).map_err(|e| e.0.to_string())?;
        let now = Instant::now();
        let negative = now + self.policy.negative_cache_ttl;
        if !answer.active {
            return Ok(Known::Inactive(negative));
        }
        let mut ttl = self.policy.cache_ttl;
        if let Some(exp) = answer.exp {
            let left = exp.saturating_sub(unix_now());
            if left == 0 {
                return Ok(Known::Inactive(negative));
            }
            ttl = ttl.min(Duration::from_secs(left));
        }
        Ok(Known::Active(Arc::new(answer), now + ttl))
    }

    /// The checks on an active token, and its consumer.
    fn decide(&self, dir: &Directory, answer: &Answer) -> Outcome {
        if answer.exp.is_some_and(|exp| exp <= unix_now()) {
            return invalid("oauth2_introspection:expired");
        }
        let p = &self.policy;
        if !p.audiences.is_empty() && !answer.audiences.iter().any(|a| p.audiences.contains(a)) {
            return Outcome::Refused(Refusal::unauthorized(
                "oauth2_introspection:audience",
                "invalid token",
                Challenge::InvalidToken("the token is not for this service"),
            ));
        }
        if !p.scopes.iter().all(|s| answer.scopes.contains(s)) {
            return Outcome::Refused(Refusal {
                status: 403,
                reason: "oauth2_introspection:scope",
                message: "forbidden",
                challenge: Some(Challenge::InsufficientScope),
            });
        }
        match self.consumer(dir, answer) {
            Some(c) => Outcome::Identified(c),
            None => Outcome::Refused(Refusal::unauthorized(
                "oauth2_introspection:no_consumer",
                "invalid token",
                Challenge::InvalidToken("the token names no known consumer"),
            )),
        }
    }

    fn consumer(&self, dir: &Directory, answer: &Answer) -> Option<Arc<Consumer>> {
        let p = &self.policy;
        let claim = |name: &str| answer.claims.get(name).and_then(|v| v.as_str());
        let mapped = p.issuer.as_deref().and_then(|iss| dir.by_jwt(iss, claim));
        let named = || {
            p.consumer_claims
                .iter()
                .find_map(|c| claim(c).and_then(|v| dir.by_name(v)))
        };
        let fallback = || p.consumer.as_deref().and_then(|n| dir.by_name(n));
        mapped.or_else(named).or_else(fallback).cloned()
    }

    fn digest(&self, token: &str) -> KeyDigest {
        let tag = hmac::sign(&self.key, token.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        KeyDigest(out)
    }
}

fn invalid(reason: &'static str) -> Outcome {
    Outcome::Refused(Refusal::unauthorized(
        reason,
        "invalid token",
        Challenge::InvalidToken("the token is invalid"),
    ))
}

/// The form body of an introspection request.
fn form_body(token: &str) -> Vec<u8> {
    format!("token={}&token_type_hint=access_token", form_encode(token)).into_bytes()
}

/// `application/x-www-form-urlencoded` encoding of a value.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Seconds since the Unix epoch.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests;
