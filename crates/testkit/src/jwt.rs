//! Signing keys and tokens for JWT tests: RSA, EC and Ed25519 key pairs
//! generated per test (rcgen on aws-lc-rs), their public keys as PEM and
//! JWK, and tokens signed with any header (also hostile ones).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};

/// A signing key with its public halves.
pub struct TestKey {
    /// The `kid` its tokens carry.
    pub kid: String,
    /// Its algorithm.
    pub alg: Algorithm,
    encoding: EncodingKey,
    /// The public key, PEM (SPKI); empty for HMAC keys.
    pub public_pem: String,
    /// The raw public key (for the Ed25519 JWK).
    public_raw: Vec<u8>,
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TestKey({}, {:?})", self.kid, self.alg)
    }
}

impl TestKey {
    /// A fresh RSA 2048 key for RS256.
    pub fn rsa(kid: &str) -> Self {
        let pair =
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .expect("RSA key");
        Self::from_pair(kid, Algorithm::RS256, &pair, EncodingKey::from_rsa_pem)
    }

    /// A fresh P-256 key for ES256.
    pub fn ec256(kid: &str) -> Self {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("EC key");
        Self::from_pair(kid, Algorithm::ES256, &pair, EncodingKey::from_ec_pem)
    }

    /// A fresh Ed25519 key for EdDSA.
    pub fn ed25519(kid: &str) -> Self {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("Ed25519 key");
        Self::from_pair(kid, Algorithm::EdDSA, &pair, EncodingKey::from_ed_pem)
    }

    /// An HMAC key with `secret`.
    pub fn hmac(kid: &str, alg: Algorithm, secret: &[u8]) -> Self {
        Self {
            kid: kid.to_string(),
            alg,
            encoding: EncodingKey::from_secret(secret),
            public_pem: String::new(),
            public_raw: Vec::new(),
        }
    }

    fn from_pair(
        kid: &str,
        alg: Algorithm,
        pair: &rcgen::KeyPair,
        encoding: fn(&[u8]) -> jsonwebtoken::errors::Result<EncodingKey>,
    ) -> Self {
        Self {
            kid: kid.to_string(),
            alg,
            encoding: encoding(pair.serialize_pem().as_bytes()).expect("encoding key"),
            public_pem: pair.public_key_pem(),
            public_raw: pair.public_key_raw().to_vec(),
        }
    }

    /// The public key as a JWK with this key's `kid` and `alg`.
    pub fn jwk(&self) -> Value {
        if self.alg == Algorithm::EdDSA {
            // jsonwebtoken cannot export Ed25519 keys as JWK.
            let x = URL_SAFE_NO_PAD.encode(&self.public_raw);
            return json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": self.kid, "alg": "EdDSA"});
        }
        let jwk = Jwk::from_encoding_key(&self.encoding, self.alg).expect("JWK");
        let mut v = serde_json::to_value(jwk).expect("JWK as JSON");
        v["kid"] = json!(self.kid);
        v
    }

    /// A token with header `{alg, kid, typ: JWT}` and `claims`.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": format!("{:?}", self.alg), "kid": self.kid, "typ": "JWT"});
        self.sign_with_header(&header, claims)
    }

    /// A token with exactly `header` (however hostile) signed by this key.
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64_json(header), b64_json(claims));
        let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &self.encoding, self.alg)
            .expect("signature");
        format!("{input}.{sig}")
    }
}

/// base64url (no padding) of a JSON value.
pub fn b64_json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("JSON"))
}

/// A JWKS document of `keys`' public halves.
pub fn jwks(keys: &[&TestKey]) -> String {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}).to_string()
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What a [`JwksServer`] does with the next requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwksMode {
    /// Serves the current key set.
    Serve,
    /// Answers 503.
    Fail,
    /// Answers only after this long (a stalled identity provider).
    Stall(std::time::Duration),
}

struct JwksState {
    doc: String,
    max_age: Option<u64>,
    mode: JwksMode,
}

/// A JWKS endpoint on 127.0.0.1:0 (a scripted [`crate::Upstream`]): serves
/// a key set with `Cache-Control: max-age`, counts fetches, and can rotate
/// keys, fail or stall on demand.
pub struct JwksServer {
    upstream: crate::Upstream,
    state: std::sync::Arc<std::sync::Mutex<JwksState>>,
}

impl std::fmt::Debug for JwksServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JwksServer({})", self.upstream.addr())
    }
}

impl JwksServer {
    /// Serves `keys` with `max-age` (seconds, none when `None`).
    pub fn start(keys: &[&TestKey], max_age: Option<u64>) -> Self {
        let state = std::sync::Arc::new(std::sync::Mutex::new(JwksState {
            doc: jwks(keys),
            max_age,
            mode: JwksMode::Serve,
        }));
        let shared = state.clone();
        let upstream = crate::Upstream::scripted(move |_| {
            let s = shared.lock().unwrap();
            let reply = match s.mode {
                JwksMode::Fail => return crate::Reply::new(503),
                JwksMode::Stall(d) => crate::Reply::ok(s.doc.clone()).delay(d),
                JwksMode::Serve => crate::Reply::ok(s.doc.clone()),
            };
            let reply = reply.header("Content-Type", "application/jwk-set+json");
            match s.max_age {
                Some(age) => reply.header("Cache-Control", &format!("public, max-age={age}")),
                None => reply,
            }
        });
        Self { upstream, state }
    }

    /// Its address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.upstream.addr()
    }

    /// How many times the key set was asked for.
    pub fn fetches(&self) -> usize {
        self.upstream.request_count()
    }

    /// Serves `keys` from now on (a rotation).
    pub fn rotate(&self, keys: &[&TestKey]) {
        self.state.lock().unwrap().doc = jwks(keys);
    }

    /// Serves, fails or stalls from now on.
    pub fn set_mode(&self, mode: JwksMode) {
        self.state.lock().unwrap().mode = mode;
    }
}
