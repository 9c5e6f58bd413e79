//! Typed gateway policies that ask another service: `oauth2_introspection`
//! (RFC 7662) and `forward_auth`; and `auth: {any: [...]}`, several
//! methods of which the first that identifies wins.

use std::fmt;
use std::time::Duration;

use http::HeaderName;

use super::{GatewayPolicy, TokenSource};

/// A service a policy calls through tollgate's own upstream client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEndpoint {
    /// Index of the upstream (in `Config::upstreams`) it is called on.
    pub upstream: usize,
    /// Path (and query) requested.
    pub path: String,
    /// The Host sent (default: the upstream target's `host:port`).
    pub host: Option<String>,
    /// Longest wait for the whole answer (default 2 s); past it the
    /// request gets 503 (or passes, for `forward_auth` with `fail_open`).
    pub timeout: Duration,
}

/// A secret from the file (`${ENV}` or `${file:PATH}` expanded); `Debug`
/// never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The `oauth2_introspection` policy: an opaque (or any) bearer token is
/// checked by the authorization server's introspection endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Introspection {
    /// The introspection endpoint.
    pub endpoint: ServiceEndpoint,
    /// tollgate's client id at the authorization server.
    pub client_id: String,
    /// Its client secret (sent with HTTP Basic, RFC 7662 §2.1).
    pub client_secret: Secret,
    /// Where the token is sent (default `Authorization: Bearer`).
    pub source: TokenSource,
    /// Scopes the token must all hold (its space-separated `scope`).
    pub scopes: Vec<String>,
    /// When not empty, the token's `aud` must hold one of these.
    pub audiences: Vec<String>,
    /// Consumers' `jwt` mappings of this issuer name the consumer (by
    /// the claims those mappings compare), tried first.
    pub issuer: Option<String>,
    /// Claims whose value is a consumer's name, tried in order (default
    /// `sub`, then `client_id`).
    pub consumer_claims: Vec<String>,
    /// The consumer an active token becomes when nothing above names one
    /// (`None`: refused).
    pub consumer: Option<String>,
    /// Longest time an active answer is reused (default 5 min; never past
    /// the token's `exp`).
    pub cache_ttl: Duration,
    /// How long an inactive answer is reused (default 5 s).
    pub negative_cache_ttl: Duration,
    /// Answers remembered (default 10000; 0 = off).
    pub cache_size: u64,
    /// The consumer a request without a token becomes (`None`: 401).
    pub anonymous: Option<String>,
}

/// The `forward_auth` policy: an external service decides on each request
/// (as Traefik's ForwardAuth and Envoy's HTTP ext_authz do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardAuth {
    /// The auth service.
    pub endpoint: ServiceEndpoint,
    /// Request headers copied to the auth request (default
    /// `Authorization` and `Cookie`).
    pub request_headers: Vec<HeaderName>,
    /// Answer headers of a 2xx copied onto the upstream request (any the
    /// client sent removed first).
    pub response_headers: Vec<HeaderName>,
    /// An answer header whose value is the consumer's name.
    pub consumer_header: Option<HeaderName>,
    /// Whether a failed or timed-out auth service lets requests through
    /// (default false: 503).
    pub fail_open: bool,
    /// Largest denial body passed back to the client (default 64 KiB).
    pub max_body: u64,
}

/// `auth: {any: [...]}`: the methods tried in order; the first whose
/// credential is present decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnyAuth {
    /// The methods (auth policies without `anonymous`).
    pub methods: Vec<GatewayPolicy>,
    /// The consumer a request with no credential for any method becomes
    /// (`None`: 401 with every method's challenge).
    pub anonymous: Option<String>,
}
