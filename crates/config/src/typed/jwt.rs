//! Typed `jwt` and `require` policies.

use std::fmt;
use std::time::Duration;

use http::HeaderName;

use super::TlsFile;

/// The `jwt` policy: a signed token (RFC 7519/7515) identifies the
/// consumer, checked with the RFC 8725 practices as defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtPolicy {
    /// The issuers accepted, each with its keys.
    pub issuers: Vec<JwtIssuer>,
    /// Where the token is sent.
    pub source: TokenSource,
    /// Clock skew allowed on `exp`, `nbf` and `iat` (default 30 s, at most 5 min).
    pub leeway: Duration,
    /// Longest token accepted, in bytes (default 8 KiB).
    pub max_token_size: usize,
    /// Whether a token without `exp` is refused (default true).
    pub require_exp: bool,
    /// The `typ` header the token must carry (compared without case), if set.
    pub typ: Option<String>,
    /// Claims copied into request headers.
    pub claims_to_headers: Vec<(String, HeaderName)>,
    /// Verified tokens remembered (by a hash of the token) so a reused
    /// token skips signature checks (default 10000; 0 = off).
    pub cache_size: u64,
    /// The consumer a request without a token becomes (`None`: 401).
    pub anonymous: Option<String>,
}

/// Where a bearer token is looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer <token>` (RFC 6750).
    Bearer,
    /// The whole value of a header.
    Header(HeaderName),
    /// A query parameter.
    Query(String),
    /// A cookie.
    Cookie(String),
}

/// One accepted issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtIssuer {
    /// The `iss` value.
    pub issuer: String,
    /// When not empty, `aud` must hold one of these.
    pub audiences: Vec<String>,
    /// The keys its tokens are signed with (never mixing HS and public keys).
    pub keys: Vec<JwtKey>,
    /// A JWKS fetched through an upstream, besides `keys`.
    pub jwks_endpoint: Option<JwksEndpoint>,
    /// The consumer a verified token of this issuer becomes when no
    /// consumer's `jwt` mapping names it (`None`: refused).
    pub consumer: Option<String>,
}

/// Where an issuer publishes its key set, and how long it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksEndpoint {
    /// Index of the upstream (in `Config::upstreams`) it is fetched from.
    pub upstream: usize,
    /// Path (and query) requested.
    pub path: String,
    /// The Host sent (default: the upstream target's `host:port`).
    pub host: Option<String>,
    /// Shortest time a fetched set is used before it is refreshed, whatever
    /// `Cache-Control` says (default 1 min).
    pub min_ttl: Duration,
    /// Longest (default 1 h; also the time used without `max-age`).
    pub max_ttl: Duration,
    /// Fetches for unknown `kid`s and after failures: at most one per
    /// interval (default 30 s).
    pub refetch_interval: Duration,
    /// How long a request waits for a fetch it needs (default 5 s).
    pub timeout: Duration,
}

/// A key an issuer signs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtKey {
    /// Where the key is.
    pub material: KeyMaterial,
    /// The `kid` tokens name it by (a JWK's own `kid` otherwise).
    pub kid: Option<String>,
    /// The one algorithm it verifies; `None`: from the key (RSA → RS256,
    /// P-256 → ES256, P-384 → ES384, Ed25519 → EdDSA, a JWK's `alg`).
    pub algorithm: Option<JwtAlgorithm>,
}

/// A key's source.
#[derive(Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    /// A PEM public key file (SPKI or PKCS#1 RSA).
    Pem(TlsFile),
    /// A JWK file (one key).
    Jwk(TlsFile),
    /// A JWKS file (a key set).
    Jwks(TlsFile),
    /// An HMAC secret.
    Secret(Vec<u8>),
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyMaterial::Pem(file) => write!(f, "Pem({:?})", file.path),
            KeyMaterial::Jwk(file) => write!(f, "Jwk({:?})", file.path),
            KeyMaterial::Jwks(file) => write!(f, "Jwks({:?})", file.path),
            KeyMaterial::Secret(_) => f.write_str("Secret(..)"),
        }
    }
}

/// The signature algorithms tollgate verifies (`none` is not one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JwtAlgorithm {
    /// HMAC SHA-256.
    HS256,
    /// HMAC SHA-384.
    HS384,
    /// HMAC SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 SHA-512.
    RS512,
    /// RSASSA-PSS SHA-256.
    PS256,
    /// RSASSA-PSS SHA-384.
    PS384,
    /// RSASSA-PSS SHA-512.
    PS512,
    /// ECDSA P-256 SHA-256.
    ES256,
    /// ECDSA P-384 SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
}

impl JwtAlgorithm {
    /// Every algorithm, for parsing and messages.
    pub const ALL: [JwtAlgorithm; 12] = [
        Self::HS256,
        Self::HS384,
        Self::HS512,
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::EdDSA,
    ];

    /// The name as in a JOSE header (`RS256`).
    pub fn name(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
        }
    }

    /// The algorithm a JOSE `alg` names, exactly (case matters).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == s)
    }

    /// True for the HMAC algorithms.
    pub fn is_hmac(self) -> bool {
        matches!(self, Self::HS256 | Self::HS384 | Self::HS512)
    }

    /// The shortest secret accepted: the hash output (RFC 7518 §3.2).
    pub fn min_secret_len(self) -> usize {
        match self {
            Self::HS384 => 48,
            Self::HS512 => 64,
            _ => 32,
        }
    }
}

/// The `require` policy: claims and scopes the token must carry (403).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Require {
    /// Per claim, the values it must hold.
    pub claims: Vec<(String, ValueRule)>,
    /// The values the space-separated `scope` claim (or `scp` array) must hold.
    pub scopes: Option<ValueRule>,
}

/// Values a string or array claim must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValueRule {
    /// Every one of these.
    pub all_of: Vec<String>,
    /// At least one of these (when not empty).
    pub any_of: Vec<String>,
}
