//! Security filtering as validated: IP filters (routes and listeners),
//! per-client caps and path normalization (listeners), CORS and security
//! response headers (route policies).

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use ipnet::IpNet;

/// Which client addresses may pass. The most specific matching entry (the
/// longest prefix) of either list decides, `deny` winning a tie; an
/// address that matches no entry passes only when `allow` is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpFilter {
    /// Networks let through.
    pub allow: Vec<IpNet>,
    /// Networks refused.
    pub deny: Vec<IpNet>,
}

/// Caps per client address on a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerClient {
    /// Most connections one client may have open; further ones are closed
    /// at accept.
    pub max_connections: Option<u32>,
    /// Request rate per client; over it, 429.
    pub rate: Option<ClientRate>,
}

/// A request rate with its burst: `count` per `period`, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientRate {
    /// Requests per period.
    pub count: u64,
    /// The period.
    pub period: Duration,
    /// Requests a client may send at once after being idle.
    pub burst: u64,
}

/// What path normalization does with encoded slashes and backslashes
/// (`%2F`, `%5C`, `\`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodedSlash {
    /// Kept encoded (`\` becomes `%5C`); not a segment separator.
    Keep,
    /// The request is refused with 400.
    Reject,
    /// Decoded to `/` and treated as a separator.
    Decode,
}

/// The `methods` policy: the methods a route accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedMethods {
    /// Accepted methods (HEAD is added when GET is listed).
    pub methods: Vec<Method>,
    /// The `Allow` value of a 405 answer.
    pub allow: HeaderValue,
}

/// Security response headers added to answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityHeaders {
    /// `Strict-Transport-Security`, sent only on requests that came over TLS.
    pub hsts: Option<HeaderValue>,
    /// The other fields, sent on every answer.
    pub fields: Vec<(HeaderName, HeaderValue)>,
    /// Replace a field the answer already has (else it is kept).
    pub overwrite: bool,
}

/// The `cors` policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    /// Origins allowed.
    pub origins: AllowOrigins,
    /// Methods a preflight may ask for (GET, HEAD and POST always pass).
    pub methods: Vec<Method>,
    /// Request headers a preflight may ask for.
    pub allow_headers: AllowHeaders,
    /// Whether credentials (cookies, Authorization) may be sent.
    pub credentials: bool,
    /// `Access-Control-Allow-Methods` of an allowed preflight.
    pub allow_methods_value: HeaderValue,
    /// `Access-Control-Expose-Headers`, when any are exposed.
    pub expose_headers_value: Option<HeaderValue>,
    /// `Access-Control-Max-Age`, when configured.
    pub max_age_value: Option<HeaderValue>,
}

/// Origins a CORS policy allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowOrigins {
    /// Every origin (`*`).
    Any,
    /// These origins.
    List(Vec<OriginPattern>),
}

/// One allowed origin, lowercase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginPattern {
    /// `https://app.example.com` (with port when not the default).
    Exact(String),
    /// `https://*.example.com`: the scheme with `://`, and what the host
    /// (and port) must end with, `.example.com`; at least one label must
    /// come before it.
    Subdomains {
        /// `https://`
        scheme: String,
        /// `.example.com` or `.example.com:8443`
        suffix: String,
    },
}

/// Request headers a CORS preflight may ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowHeaders {
    /// Whatever the preflight asks for (echoed back).
    Any,
    /// These (compared case-insensitively).
    List(Vec<HeaderName>),
}

impl AllowHeaders {
    /// The `Access-Control-Allow-Headers` value of a list, `None` when empty
    /// or `Any`.
    pub fn list_value(&self) -> Option<HeaderValue> {
        match self {
            AllowHeaders::List(l) if !l.is_empty() => {
                let joined: Vec<&str> = l.iter().map(HeaderName::as_str).collect();
                HeaderValue::from_str(&joined.join(", ")).ok()
            }
            _ => None,
        }
    }
}
