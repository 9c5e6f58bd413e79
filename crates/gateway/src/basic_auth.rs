//! `basic_auth` (RFC 7617): a user name and password identify the consumer.
//!
//! - Credentials from `Authorization: Basic base64(user:password)`; the
//!   scheme without case; user names cannot hold `:`.
//! - Passwords are checked against bcrypt (`$2a$`/`$2b$`/`$2y$`) or
//!   argon2id hashes. That is CPU-heavy by design, so it runs off the
//!   event loop ([`Pending::verify`] is meant for a blocking pool) and only
//!   on a cache miss: a success is remembered, bounded and for a TTL, under
//!   a keyed hash (HMAC-SHA-256 with a key made at start) of user,
//!   password and the stored hash, so a hash changed by a reload never
//!   matches an old entry and the cache never holds a password.
//! - An unknown user costs a verification too (against a fixed hash), so
//!   it answers like a wrong password.
//! - No credentials: the `anonymous` consumer, else 401 with
//!   `WWW-Authenticate: Basic realm="..."`.

use std::sync::{Arc, OnceLock};

use aws_lc_rs::hmac;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::header::AUTHORIZATION;
use http::HeaderMap;
use tollgate_config::{BasicAuth, HashScheme, KeyDigest, PasswordHash};

use crate::{Challenge, Consumer, Directory, Outcome, Refusal};

/// A `basic_auth` policy ready to run: its verification cache.
#[derive(Debug)]
pub struct BasicAuthRt {
    policy: Arc<BasicAuth>,
    key: hmac::Key,
    cache: Option<moka::sync::Cache<KeyDigest, ()>>,
}

/// What the policy needs next for a request.
#[derive(Debug)]
pub enum Step {
    /// Decided without hashing (cached, anonymous, or refused).
    Done(Outcome),
    /// A password to verify (CPU-heavy: run [`Pending::verify`] off the
    /// event loop), then [`BasicAuthRt::finish`].
    Verify(Pending),
}

/// A password verification to run.
pub struct Pending {
    consumer: Option<Arc<Consumer>>,
    hash: PasswordHash,
    password: String,
    cache_key: KeyDigest,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("Pending")
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

impl Pending {
    /// Checks the password against the hash (slow on purpose).
    pub fn verify(&self) -> bool {
        let ok = check_password(&self.password, &self.hash);
        ok && self.consumer.is_some()
    }
}

impl BasicAuthRt {
    /// The runtime of `policy`, with an empty cache.
    pub fn new(policy: &Arc<BasicAuth>) -> Self {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng).expect("random HMAC key");
        let cache = (policy.cache_size > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(policy.cache_size)
                .time_to_live(policy.cache_ttl)
                .build()
        });
        Self {
            policy: policy.clone(),
            key,
            cache,
        }
    }

    /// The policy this was built from.
    pub fn policy(&self) -> &Arc<BasicAuth> {
        &self.policy
    }

    /// Reads the request's credentials and answers what it can without hashing.
    pub fn start(&self, dir: &Directory, headers: &HeaderMap) -> Step {
        let (user, password) = match credentials(headers) {
            Ok(Some(c)) => c,
            Ok(None) => {
                return Step::Done(
                    match self
                        .policy
                        .anonymous
                        .as_deref()
                        .and_then(|n| dir.by_name(n))
                    {
                        Some(c) => Outcome::Anonymous(c.clone()),
                        None => Outcome::Refused(
                            self.refusal("basic_auth:missing", "credentials required"),
                        ),
                    },
                )
            }
            Err(Malformed) => {
                return Step::Done(Outcome::Refused(
                    self.refusal("basic_auth:malformed", "invalid credentials"),
                ))
            }
        };
        let (consumer, hash) = match dir.by_user(&user) {
            Some((c, h)) => (Some(c.clone()), h.clone()),
            None => (None, dummy_hash().clone()),
        };
        let cache_key = self.cache_key(&user, &password, &hash);
        if let (Some(c), Some(cache)) = (&consumer, &self.cache) {
            if cache.contains_key(&cache_key) {
                return Step::Done(Outcome::Identified(c.clone()));
            }
        }
        Step::Verify(Pending {
            consumer,
            hash,
            password,
            cache_key,
        })
    }

    /// The outcome of a verification `ok` ([`Pending::verify`]), remembered when good.
    pub fn finish(&self, pending: Pending, ok: bool) -> Outcome {
        match (ok, pending.consumer) {
            (true, Some(c)) => {
                if let Some(cache) = &self.cache {
                    cache.insert(pending.cache_key, ());
                }
                Outcome::Identified(c)
            }
            _ => Outcome::Refused(self.refusal("basic_auth:invalid", "invalid credentials")),
        }
    }

    /// The 401 of a credential that could not be checked.
    pub fn refused(&self) -> Refusal {
        self.refusal("basic_auth:invalid", "invalid credentials")
    }

    fn refusal(&self, reason: &'static str, message: &'static str) -> Refusal {
        Refusal::unauthorized(reason, message, Challenge::Basic(self.policy.realm.clone()))
    }

    /// HMAC of user, password and stored hash, each length-prefixed.
    fn cache_key(&self, user: &str, password: &str, hash: &PasswordHash) -> KeyDigest {
        let mut ctx = hmac::Context::with_key(&self.key);
        for part in [user, password, hash.text.as_str()] {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part.as_bytes());
        }
        let tag = ctx.sign();
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        KeyDigest(out)
    }
}

/// Credentials that are there but not Basic credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// The `Authorization: Basic` user and password, if sent.
pub fn credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, Malformed> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(v) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Malformed);
    }
    parse(v.as_bytes()).map(Some)
}

/// `Basic <base64(user:password)>` → (user, password).
pub fn parse(value: &[u8]) -> Result<(String, String), Malformed> {
    let text = std::str::from_utf8(value).map_err(|_| Malformed)?;
    let (scheme, rest) = text.split_once(' ').ok_or(Malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(Malformed);
    }
    let decoded = STANDARD
        .decode(rest.trim_matches(' '))
        .map_err(|_| Malformed)?;
    let text = String::from_utf8(decoded).map_err(|_| Malformed)?;
    let (user, password) = text.split_once(':').ok_or(Malformed)?;
    if user.is_empty() || text.bytes().any(|b| b.is_ascii_control()) {
        return Err(Malformed);
    }
    Ok((user.to_string(), password.to_string()))
}

/// Whether `password` matches `hash`; a malformed hash matches nothing.
pub fn check_password(password: &str, hash: &PasswordHash) -> bool {
    match hash.scheme {
        HashScheme::Bcrypt => bcrypt::verify(password, &hash.text).unwrap_or(false),
        HashScheme::Argon2id => {
            use argon2::PasswordVerifier;
            argon2::PasswordHash::new(&hash.text).is_ok_and(|parsed| {
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
        }
    }
}

/// A bcrypt hash no password is known for, verified for unknown users
/// so they cost what a wrong password costs.
fn dummy_hash() -> &'static PasswordHash {
    static DUMMY: OnceLock<PasswordHash> = OnceLock::new();
    DUMMY.get_or_init(|| PasswordHash {
        scheme: HashScheme::Bcrypt,
        text: "$2b$10$aaaaaaaaaaaaaaaaaaaaaOBtO3Yq3cWJv5d/xT8q1qXbF0m0x9Ppe".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use http::HeaderValue;
    use tollgate_config::{BasicUser, Gateway};

    fn header(user_pass: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let v = format!("Basic {}", STANDARD.encode(user_pass));
        h.insert(AUTHORIZATION, HeaderValue::from_str(&v).unwrap());
        h
    }

    #[test]
    fn credentials_are_parsed_strictly() {
        assert_eq!(
            parse(b"Basic dXNlcjpwYTpzcw==").unwrap(),
            ("user".into(), "pa:ss".into())
        );
        assert_eq!(
            parse(b"basic  dXNlcjo=").unwrap(),
            ("user".into(), String::new())
        );
        for bad in [
            &b"Bearer x"[..],
            b"Basic",
            b"Basic !!",
            b"Basic dXNlcg==",
            b"Basic OnB3",
            b"Basic \xff",
        ] {
            assert_eq!(
                parse(bad),
                Err(Malformed),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn bcrypt_and_argon2id_hashes_verify_and_successes_are_cached() {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let bcrypt_hash = bcrypt::hash("pw-ann", 4).unwrap();
        let params = argon2::Params::new(8, 1, 1, None).unwrap();
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let argon_hash = argon.hash_password(b"pw-bob", &salt).unwrap().to_string();
        let user = |name: &str, scheme, text: &str| BasicUser {
            username: name.into(),
            hash: PasswordHash {
                scheme,
                text: text.into(),
            },
        };
        let dir = Directory::build(&Gateway {
            consumers: vec![tollgate_config::Consumer {
                name: "c".into(),
                groups: vec![],
                metadata: vec![],
                api_keys: vec![],
                basic_auth: vec![
                    user("ann", HashScheme::Bcrypt, &bcrypt_hash),
                    user("bob", HashScheme::Argon2id, &argon_hash),
                ],
                jwt: vec![],
                mtls: vec![],
            }],
            identity_headers: Default::default(),
        });
        let rt = BasicAuthRt::new(&Arc::new(BasicAuth {
            realm: "r".into(),
            anonymous: None,
            cache_size: 10,
            cache_ttl: Duration::from_secs(60),
        }));
        let run = |creds: &str| match rt.start(&dir, &header(creds)) {
            Step::Verify(p) => {
                let ok = p.verify();
                (true, rt.finish(p, ok))
            }
            Step::Done(o) => (false, o),
        };
        for creds in ["ann:pw-ann", "bob:pw-bob"] {
            let (hashed, o) = run(creds);
            assert!(hashed && matches!(o, Outcome::Identified(_)), "{creds}");
            // The second time the cache answers: no hashing.
            let (hashed, o) = run(creds);
            assert!(!hashed && matches!(o, Outcome::Identified(_)), "{creds}");
        }
        for creds in ["ann:wrong", "nobody:pw-ann", "bob:pw-ann"] {
            let (hashed, o) = run(creds);
            let Outcome::Refused(r) = o else {
                panic!("{creds} passed")
            };
            assert!(hashed);
            assert_eq!((r.status, r.reason), (401, "basic_auth:invalid"));
            assert_eq!(r.challenge, Some(Challenge::Basic("r".into())));
            // Failures are not cached.
            assert!(run(creds).0);
        }
        let Step::Done(Outcome::Refused(r)) = rt.start(&dir, &HeaderMap::new()) else {
            panic!()
        };
        assert_eq!(r.reason, "basic_auth:missing");
        // A changed hash (a reload) never matches an entry made for the old one.
        let old = rt.cache_key(
            "ann",
            "pw-ann",
            &PasswordHash {
                scheme: HashScheme::Bcrypt,
                text: bcrypt_hash.clone(),
            },
        );
        let new = rt.cache_key(
            "ann",
            "pw-ann",
            &PasswordHash {
                scheme: HashScheme::Bcrypt,
                text: bcrypt::hash("pw-ann", 4).unwrap(),
            },
        );
        assert_ne!(old, new);
        // The stand-in hash for unknown users is a real bcrypt hash (it costs a verification).
        assert_eq!(bcrypt::verify("x", &dummy_hash().text).ok(), Some(false));
    }
}
