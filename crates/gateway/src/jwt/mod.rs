//! `jwt`: a signed token identifies the consumer (RFC 7519, RFC 7515, with
//! the RFC 8725 practices as defaults).
//!
//! - The token is read from `Authorization: Bearer` (or the configured
//!   header, query parameter or cookie) and left in place.
//! - Size cap first, then the header and payload are decoded (`token`);
//!   `crit` refuses the token; `jku`, `x5u`, `x5c`, `jwk` are never read.
//! - The unverified `iss` picks the issuer; the `kid` picks the key (a
//!   key configured without `kid` serves any; a token without `kid` tries
//!   the keys of its algorithm, at most four); the key's own algorithm
//!   must be the header's `alg` (`none` is never one), so an RSA public key
//!   can never serve as an HMAC secret.
//! - Signature (aws-lc-rs, with each key parsed once when loaded), then
//!   claims (`claims`).
//! - A verified token is remembered (`cache`: by a keyed hash, the whole
//!   token compared on a hit) until its `exp`, so a client reusing it
//!   skips the signature; `exp`/`nbf` are checked again on every reuse.
//! - The consumer is the one whose `jwt` mapping names the issuer and the
//!   claim's value, else the issuer's `consumer`, else the token is refused.

pub mod cache;
pub mod claims;
pub mod jwks;
pub mod keys;
mod outcome;
pub mod source;
pub mod token;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tollgate_config::{ConfigError, JwtAlgorithm, JwtPolicy};

use crate::{Consumer, Directory};
use claims::Times;
use keys::Key;
pub use outcome::{claim_text, JwtOutcome};
pub use token::Claims;

/// Why a token was refused; `reason` goes to the access log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtError {
    /// Longer than `max_token_size`.
    TooLarge,
    /// Not three base64url parts of JSON objects, or a claim of the wrong type.
    Malformed,
    /// `alg` missing, `none`, unknown, or not the key's algorithm.
    Algorithm,
    /// A `crit` header (no extension is implemented).
    Crit,
    /// No configured issuer has this `iss`.
    Issuer,
    /// No key with this `kid` (or none verified the token).
    UnknownKey,
    /// The signature does not verify.
    Signature,
    /// `exp` is missing and required.
    MissingExp,
    /// `exp` has passed.
    Expired,
    /// `nbf` is still ahead.
    NotYetValid,
    /// `iat` is in the future.
    IssuedInFuture,
    /// `aud` names none of the issuer's audiences.
    Audience,
    /// `typ` is not the configured one.
    Type,
    /// No consumer is mapped to this token.
    NoConsumer,
}

impl JwtError {
    /// For the access log: `jwt:expired`, ...
    pub fn reason(self) -> &'static str {
        match self {
            JwtError::TooLarge => "jwt:too_large",
            JwtError::Malformed => "jwt:malformed",
            JwtError::Algorithm => "jwt:algorithm",
            JwtError::Crit => "jwt:crit",
            JwtError::Issuer => "jwt:issuer",
            JwtError::UnknownKey => "jwt:unknown_key",
            JwtError::Signature => "jwt:signature",
            JwtError::MissingExp => "jwt:missing_exp",
            JwtError::Expired => "jwt:expired",
            JwtError::NotYetValid => "jwt:not_yet_valid",
            JwtError::IssuedInFuture => "jwt:issued_in_future",
            JwtError::Audience => "jwt:audience",
            JwtError::Type => "jwt:type",
            JwtError::NoConsumer => "jwt:no_consumer",
        }
    }

    /// The RFC 6750 `error_description`: what is wrong, never the token.
    pub fn description(self) -> &'static str {
        match self {
            JwtError::Expired => "the token has expired",
            JwtError::NotYetValid | JwtError::IssuedInFuture => "the token is not valid yet",
            JwtError::Issuer | JwtError::Audience => "the token is not for this service",
            JwtError::NoConsumer => "the token names no known consumer",
            _ => "the token is invalid",
        }
    }
}

/// A verified token: its claims and the consumer it maps to.
#[derive(Debug)]
pub struct Verified {
    /// The claims.
    pub claims: Claims,
    /// The consumer.
    pub consumer: Arc<Consumer>,
    times: Times,
    /// The issuer's index and, for a fetched key set, its generation:
    /// after a new set arrives the token is verified again (its key may
    /// be gone).
    issuer: usize,
    generation: Option<u64>,
}

/// One issuer's keys: those the file names, and a fetched set.
#[derive(Debug)]
struct IssuerKeys {
    keys: Vec<Key>,
    jwks: Option<Arc<jwks::JwksCache>>,
}

/// A fetch of a key set in progress: the body and its `Cache-Control`
/// max-age, or why it failed.
pub type FetchFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<(String, Option<Duration>), String>> + Send>,
>;

/// Most keys tried for a token without `kid` (a bound on the work one
/// request can cause).
const MAX_KEYS_TRIED: usize = 4;

/// A `jwt` policy ready to run: its keys loaded, its cache.
#[derive(Debug)]
pub struct JwtAuth {
    policy: Arc<JwtPolicy>,
    issuers: Vec<IssuerKeys>,
    cache: Option<cache::TokenCache>,
}

impl JwtAuth {
    /// Loads every key the policy names; problems are located errors.
    pub fn build(policy: &Arc<JwtPolicy>) -> Result<Self, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut issuers = Vec::new();
        for issuer in &policy.issuers {
            let mut keys = Vec::new();
            for k in &issuer.keys {
                match keys::load(k) {
                    Ok(loaded) => keys.extend(loaded),
                    Err(e) => errors.push(e),
                }
            }
            let jwks = issuer
                .jwks_endpoint
                .clone()
                .map(|e| Arc::new(jwks::JwksCache::new(e)));
            issuers.push(IssuerKeys { keys, jwks });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let cache = (policy.cache_size > 0).then(|| cache::TokenCache::new(policy.cache_size));
        Ok(Self {
            policy: policy.clone(),
            issuers,
            cache,
        })
    }

    /// The policy this was built from.
    pub fn policy(&self) -> &Arc<JwtPolicy> {
        &self.policy
    }

    /// Verifies `token` like [`JwtAuth::verify`], fetching its issuer's
    /// key set through `fetch` when it has a `jwks_endpoint` and the set
    /// is empty, names no such `kid`, or is due for a refresh (in the
    /// background). Fetches run as tasks of their own, so a request that
    /// goes away never leaves one half done.
    pub async fn verify_fetching(
        &self,
        dir: &Directory,
        token: &str,
        fetch: &(dyn Fn(&tollgate_config::JwksEndpoint) -> FetchFuture + Sync),
    ) -> Result<Arc<Verified>, JwtError> {
        let first = self.verify(dir, token);
        let jwks = match &first {
            Err(JwtError::UnknownKey) => self.jwks_of(token),
            Ok(v) => {
                // Refresh ahead of expiry, without holding the request (the
                // verified token names its issuer: no second parse).
                if let Some(j) = self.issuers.get(v.issuer).and_then(|i| i.jwks.as_ref()) {
                    if j.refresh_due(Instant::now()) {
                        fetch_in_background(j, jwks::Reason::Refresh, fetch);
                    }
                }
                None
            }
            Err(_) => None,
        };
        let Some(j) = jwks else { return first };
        let reason = if j.keys().is_none() {
            jwks::Reason::Empty
        } else {
            jwks::Reason::UnknownKid
        };
        if !fetch_in_background(&j, reason, fetch) {
            return first;
        }
        j.wait(j.settings().timeout).await;
        self.verify(dir, token)
    }

    /// The generation of issuer `index`'s fetched key set, if it has one.
    fn generation(&self, index: usize) -> Option<u64> {
        self.issuers
            .get(index)?
            .jwks
            .as_ref()
            .map(|j| j.generation())
    }

    /// The fetched key set of the issuer `token` names, if it has one.
    fn jwks_of(&self, token: &str) -> Option<Arc<jwks::JwksCache>> {
        let t = token::parse(token, self.policy.max_token_size).ok()?;
        let iss = t.claims.get("iss").and_then(Value::as_str)?;
        let index = self.policy.issuers.iter().position(|i| i.issuer == iss)?;
        self.issuers[index].jwks.clone()
    }

    /// Verifies `token` and finds its consumer.
    pub fn verify(&self, dir: &Directory, token: &str) -> Result<Arc<Verified>, JwtError> {
        let now = now();
        let leeway = self.policy.leeway.as_secs();
        if token.len() > self.policy.max_token_size {
            return Err(JwtError::TooLarge);
        }
        if let Some(hit) = self.cache.as_ref().and_then(|c| c.get(token, now)) {
            if hit.generation == self.generation(hit.issuer) {
                hit.times.check(now, leeway)?;
                return Ok(hit);
            }
        }
        let verified = Arc::new(self.verify_uncached(dir, token, now)?);
        if let Some(c) = &self.cache {
            c.insert(token, verified.clone(), now);
        }
        Ok(verified)
    }

    fn verify_uncached(
        &self,
        dir: &Directory,
        token: &str,
        now: u64,
    ) -> Result<Verified, JwtError> {
        let t = token::parse(token, self.policy.max_token_size)?;
        let alg = JwtAlgorithm::from_name(&t.header.alg).ok_or(JwtError::Algorithm)?;
        let iss = t.claims.get("iss").and_then(Value::as_str);
        let (index, issuer) = self
            .policy
            .issuers
            .iter()
            .enumerate()
            .find(|(_, i)| Some(i.issuer.as_str()) == iss)
            .ok_or(JwtError::Issuer)?;
        let own = &self.issuers[index];
        // Read before the keys: a set arriving in between makes the entry
        // look older, never newer, than the key that verified it.
        let generation = own.jwks.as_ref().map(|j| j.generation());
        let fetched = own.jwks.as_ref().and_then(|j| j.keys());
        let mut candidates = candidates(&own.keys, t.header.kid.as_deref(), alg);
        if let Some(set) = &fetched {
            if candidates.is_empty() {
                candidates = self::candidates(set, t.header.kid.as_deref(), alg);
            }
        }
        if candidates.is_empty() {
            return Err(JwtError::UnknownKey);
        }
        if !candidates.iter().any(|k| k.alg == alg) {
            return Err(JwtError::Algorithm);
        }
        let verified = candidates
            .iter()
            .filter(|k| k.alg == alg)
            .any(|k| k.verifies(t.signing_input, t.signature));
        if !verified {
            return Err(JwtError::Signature);
        }
        let times = claims::check(&t.claims, &t.header, &self.policy, issuer, now)?;
        let claim = |name: &str| t.claims.get(name).and_then(Value::as_str);
        let consumer = dir
            .by_jwt(&issuer.issuer, claim)
            .or_else(|| issuer.consumer.as_deref().and_then(|n| dir.by_name(n)))
            .cloned()
            .ok_or(JwtError::NoConsumer)?;
        Ok(Verified {
            claims: t.claims,
            consumer,
            times,
            issuer: index,
            generation,
        })
    }
}

/// The keys to try: those named by `kid`; else (or without a `kid`) the
/// keys configured without one that verify `alg`, at most a few.
fn candidates<'k>(keys: &'k [Key], kid: Option<&str>, alg: JwtAlgorithm) -> Vec<&'k Key> {
    if let Some(kid) = kid {
        let named: Vec<&Key> = keys
            .iter()
            .filter(|k| k.kid.as_deref() == Some(kid))
            .collect();
        if !named.is_empty() {
            return named;
        }
    }
    keys.iter()
        .filter(|k| k.kid.is_none() || kid.is_none())
        .filter(|k| k.alg == alg)
        .take(MAX_KEYS_TRIED)
        .collect()
}

/// Starts a fetch for `reason` unless one runs or it is not due; true
/// when one runs now (started here or before), so waiting makes sense.
fn fetch_in_background(
    cache: &Arc<jwks::JwksCache>,
    reason: jwks::Reason,
    fetch: &(dyn Fn(&tollgate_config::JwksEndpoint) -> FetchFuture + Sync),
) -> bool {
    match cache.begin(reason, Instant::now()) {
        jwks::Begin::NotNow => false,
        jwks::Begin::InFlight => true,
        jwks::Begin::Fetch => {
            let work = fetch(cache.settings());
            let cache = cache.clone();
            tokio::spawn(async move {
                let limit = cache.settings().timeout;
                let result = match tokio::time::timeout(limit, work).await {
                    Ok(r) => r,
                    Err(_) => Err(format!("no answer within {limit:?}")),
                };
                match cache.finish(result, Instant::now()) {
                    Ok(n) => tracing::debug!(keys = n, "JWKS fetched"),
                    Err(e) => tracing::warn!(
                        path = %cache.settings().path,
                        "JWKS fetch failed, keeping the last good key set (if any): {e}"
                    ),
                }
            });
            true
        }
    }
}

/// Seconds since the Unix epoch.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;
    use tollgate_config::{Gateway, JwtIssuer, JwtKey, JwtMapping, KeyMaterial, TokenSource};

    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn setup() -> (JwtAuth, Directory) {
        let policy = Arc::new(JwtPolicy {
            issuers: vec![JwtIssuer {
                issuer: "iss".into(),
                audiences: vec![],
                keys: vec![JwtKey {
                    material: KeyMaterial::Secret(SECRET.to_vec()),
                    kid: None,
                    algorithm: None,
                }],
                jwks_endpoint: None,
                consumer: None,
            }],
            source: TokenSource::Bearer,
            leeway: Duration::from_secs(30),
            max_token_size: 8192,
            require_exp: true,
            typ: None,
            claims_to_headers: vec![],
            cache_size: 100,
            anonymous: None,
        });
        let dir = Directory::build(&Gateway {
            consumers: vec![tollgate_config::Consumer {
                name: "svc".into(),
                groups: vec![],
                metadata: vec![],
                api_keys: vec![],
                basic_auth: vec![],
                jwt: vec![JwtMapping {
                    issuer: "iss".into(),
                    claim: "client_id".into(),
                    value: "svc-1".into(),
                }],
                mtls: vec![],
            }],
            identity_headers: Default::default(),
        });
        (JwtAuth::build(&policy).unwrap(), dir)
    }

    fn sign(secret: &[u8], claims: Value) -> String {
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    #[test]
    fn verified_tokens_are_cached_and_map_to_their_consumer() {
        let (auth, dir) = setup();
        let token = sign(
            SECRET,
            json!({"iss": "iss", "client_id": "svc-1", "exp": now() + 60}),
        );
        let v = auth.verify(&dir, &token).unwrap();
        assert_eq!(v.consumer.name(), "svc");
        let cache = auth.cache.as_ref().unwrap();
        assert!(cache.get(&token, now()).is_some());
        assert!(Arc::ptr_eq(&v, &auth.verify(&dir, &token).unwrap()));
        // A refusal is not cached, and another secret never verifies.
        let forged = sign(
            b"another-secret-another-secret-00",
            json!({"iss": "iss", "client_id": "svc-1", "exp": now() + 60}),
        );
        assert_eq!(auth.verify(&dir, &forged).unwrap_err(), JwtError::Signature);
        assert!(cache.get(&forged, now()).is_none());
        // Another token ending as a cached one does (same signature, other
        // claims) is no hit: it is verified, and refused.
        let other = sign(
            b"another-secret-another-secret-00",
            json!({"iss": "iss", "client_id": "svc-2", "exp": now() + 60}),
        );
        let (_, signature) = token.rsplit_once('.').unwrap();
        let (forged_input, _) = other.rsplit_once('.').unwrap();
        let spliced = format!("{forged_input}.{signature}");
        assert!(cache.get(&spliced, now()).is_none());
        assert_eq!(
            auth.verify(&dir, &spliced).unwrap_err(),
            JwtError::Signature
        );
        let nobody = sign(
            SECRET,
            json!({"iss": "iss", "client_id": "x", "exp": now() + 60}),
        );
        assert_eq!(
            auth.verify(&dir, &nobody).unwrap_err(),
            JwtError::NoConsumer
        );
        // A cached entry is checked again: past its `exp` it is refused.
        let expired = Times {
            exp: Some(now() - 100),
            nbf: None,
        };
        assert_eq!(expired.check(now(), 30), Err(JwtError::Expired));
    }

    #[test]
    fn the_cache_stays_within_its_size_and_drops_the_oldest() {
        let (auth, dir) = setup();
        let cache = auth.cache.as_ref().unwrap();
        let tokens: Vec<String> = (0..1000)
            .map(|n| {
                sign(
                    SECRET,
                    json!({"iss": "iss", "client_id": "svc-1", "exp": now() + 60, "n": n}),
                )
            })
            .collect();
        for t in &tokens {
            auth.verify(&dir, t).unwrap();
            assert!(cache.len() <= 100, "{}", cache.len());
        }
        assert!(cache.len() >= 50, "{}", cache.len());
        assert!(cache.get(&tokens[999], now()).is_some());
        assert!(cache.get(&tokens[0], now()).is_none());
        // Past the cache's own age limit an entry is gone, whatever its `exp`.
        assert!(cache.get(&tokens[999], now() + cache::MAX_AGE).is_none());
    }

    #[test]
    fn claims_become_header_text() {
        assert_eq!(claim_text(&json!("a")).unwrap(), "a");
        assert_eq!(claim_text(&json!(5)).unwrap(), "5");
        assert_eq!(claim_text(&json!(["x", 1, true])).unwrap(), "x,1,true");
        assert!(claim_text(&json!({"a": 1})).is_none());
        assert!(claim_text(&json!([["nested"]])).is_none());
    }
}
