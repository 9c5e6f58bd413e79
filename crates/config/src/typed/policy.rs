//! Route policies as validated: the policy kinds a route's `policies` list
//! may hold, and the value templates (`$client_ip`, `$1`, …) they use.

use std::sync::Arc;

use http::HeaderName;

use super::security::{AllowedMethods, Cors, IpFilter, SecurityHeaders};
mod cache;
mod compress;
mod ratelimit;
mod transform;

pub use cache::{CacheKey, CachePolicy, Purge, QueryKey};
pub use compress::{Coding, CompressPolicy, TypePattern, DEFAULT_TYPES};
pub use ratelimit::{
    Algorithm, Calendar, ConcurrencyLimit, LimitKey, LimitPolicy, LimitStore, OnStoreError, Quota,
    Rate, RateHeaders, RateLimit, SharedStore, StoreMode,
};
pub use transform::{
    BodyEdit, Compressed, EditValue, Pointer, QueryOps, Reshape, SoapPolicy, SoapVersion,
    TransformPolicy, TransformSide, XmlMapping, XmlPolicy,
};

/// One step of a route's policy chain. Request phases run in the order
/// listed (after `defaults.policies`), response phases in reverse order.
#[derive(Debug, Clone)]
pub enum Policy {
    /// Request and response header rules.
    Headers(HeaderRules),
    /// Client addresses allowed or refused (403).
    IpFilter(IpFilter),
    /// Methods accepted (405 with `Allow` for others).
    Methods(AllowedMethods),
    /// Security response headers (HSTS, nosniff, frame options, ...).
    SecurityHeaders(SecurityHeaders),
    /// CORS: preflights answered here, allowed origins marked on answers.
    Cors(Cors),
    /// A shared HTTP cache. The `Arc` is the store's identity: every
    /// route holding the same one (a named policy, `defaults.policies`)
    /// shares one store.
    Cache(Arc<CachePolicy>),
    /// Compression of answers.
    Compress(CompressPolicy),
    /// Authentication and authorization (`tollgate-gateway`).
    Gateway(super::GatewayPolicy),
    /// Rate limits, quotas and concurrency limits (`tollgate-gateway`).
    Limit(LimitPolicy),
    /// Request bodies checked against a JSON Schema (`tollgate-gateway`).
    Validate(Arc<super::ValidatePolicy>),
    /// Reshaping of requests and answers: `transform`, `json_to_xml`,
    /// `xml_to_json`, `soap` (`tollgate-gateway`).
    Reshape(Reshape),
}

impl Policy {
    /// True for policies that need an identity from an earlier auth policy
    /// (`acl`, `require`, header rules using `$consumer` and friends).
    pub fn needs_identity(&self) -> bool {
        match self {
            Policy::Gateway(g) => g.needs_identity(),
            Policy::Reshape(r) => r.needs_identity(),
            Policy::Headers(rules) => [&rules.request, &rules.response].iter().any(|ops| {
                ops.set
                    .iter()
                    .chain(&ops.add)
                    .any(|(_, t)| t.uses_identity())
            }),
            _ => false,
        }
    }

    /// The name the policy has in the file, for `explain` and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Policy::Headers(_) => "headers",
            Policy::IpFilter(_) => "ip_filter",
            Policy::Methods(_) => "methods",
            Policy::SecurityHeaders(_) => "security_headers",
            Policy::Cors(_) => "cors",
            Policy::Cache(_) => "cache",
            Policy::Compress(_) => "compress",
            Policy::Gateway(g) => g.kind(),
            Policy::Limit(l) => l.kind(),
            Policy::Validate(_) => "validate",
            Policy::Reshape(r) => r.kind(),
        }
    }
}

/// Header rules for both directions.
#[derive(Debug, Clone, Default)]
pub struct HeaderRules {
    /// Applied to the request before it is forwarded (before tollgate's
    /// own forwarding headers: X-Forwarded-*, Via, request id).
    pub request: HeaderOps,
    /// Applied to the answer on its way back.
    pub response: HeaderOps,
}

/// Edits of one header map, applied in the order remove, set, add.
#[derive(Debug, Clone, Default)]
pub struct HeaderOps {
    /// Fields removed.
    pub remove: Vec<HeaderName>,
    /// Fields replaced (every existing value goes) or created.
    pub set: Vec<(HeaderName, Template)>,
    /// Values appended after any existing ones.
    pub add: Vec<(HeaderName, Template)>,
}

impl HeaderOps {
    /// True when no rule is configured.
    pub fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.set.is_empty() && self.add.is_empty()
    }
}

/// A value with variables: `$client_ip`, `$request_id`, `$host`, `$method`,
/// `$path`, `$query`, `$scheme`, `$1`…`$9` (captures of the route's path
/// regex), `$http_<name>` (a request header, `_` for `-`); `$$` is a `$`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
    written: String,
}

/// A piece of a [`Template`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text copied as is.
    Literal(String),
    /// A value looked up per request.
    Var(Var),
}

/// A variable a [`Template`] may refer to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Var {
    /// The client's IP address (after PROXY protocol / trusted proxies).
    ClientIp,
    /// The request id (received or generated).
    RequestId,
    /// The request's host, lowercase, without port.
    Host,
    /// The request method.
    Method,
    /// The request path (normalized, before any rewrite).
    Path,
    /// The query string without `?` (empty when none).
    Query,
    /// `http` or `https`.
    Scheme,
    /// Capture group 1–9 of the route's path regex (empty when none).
    Capture(u8),
    /// A request header's value (empty when absent).
    RequestHeader(HeaderName),
    /// The consumer an auth policy identified (empty when none).
    Consumer,
    /// Its groups, comma-separated (empty when none).
    ConsumerGroups,
    /// A claim of the verified token (empty when none or not a string,
    /// number, boolean or array of those).
    JwtClaim(String),
}

/// Variable names a template accepts, for error messages.
const KNOWN: &str = "$client_ip, $request_id, $host, $method, $path, $query, $scheme, $1..$9, $http_<header>, $consumer, $consumer_groups, $jwt_claim_<claim>";

impl Template {
    /// Parses `text`; unknown variables are errors naming the known ones.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            literal.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            if let Some(r) = after.strip_prefix('$') {
                literal.push('$');
                rest = r;
                continue;
            }
            let len = after
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            let name = &after[..len];
            // `$1x` is capture 1 followed by `x`: captures are one digit.
            let (var, used) = match name.as_bytes().first() {
                Some(d @ b'1'..=b'9') => (Var::Capture(d - b'0'), 1),
                _ => (variable(name)?, len),
            };
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(Part::Var(var));
            rest = &after[used..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Self {
            parts,
            written: text.to_string(),
        })
    }

    /// The template as written in the file (for `explain` and messages).
    pub fn as_written(&self) -> &str {
        &self.written
    }

    /// The pieces, in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The text when the template has no variables.
    pub fn as_literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Literal(s)] => Some(s),
            _ => None,
        }
    }

    /// True when some part needs an identity (`$consumer`,
    /// `$consumer_groups`, `$jwt_claim_<name>`): only after an auth policy.
    pub fn uses_identity(&self) -> bool {
        self.parts.iter().any(|p| {
            matches!(
                p,
                Part::Var(Var::Consumer | Var::ConsumerGroups | Var::JwtClaim(_))
            )
        })
    }

    /// True when some part is a path-regex capture.
    pub fn uses_captures(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Var(Var::Capture(_))))
    }
}

fn variable(name: &str) -> Result<Var, String> {
    Ok(match name {
        "client_ip" => Var::ClientIp,
        "request_id" => Var::RequestId,
        "host" => Var::Host,
        "method" => Var::Method,
        "path" => Var::Path,
        "query" => Var::Query,
        "scheme" => Var::Scheme,
        "consumer" => Var::Consumer,
        "consumer_groups" => Var::ConsumerGroups,
        "" => {
            return Err(format!(
                "`$` must start a variable ({KNOWN}); write `$$` for a `$`"
            ))
        }
        _ if name.starts_with("jwt_claim_") && name.len() > "jwt_claim_".len() => {
            Var::JwtClaim(name["jwt_claim_".len()..].to_string())
        }
        _ => match name.strip_prefix("http_") {
            Some(h) if !h.is_empty() => {
                let header = h.replace('_', "-").to_ascii_lowercase();
                Var::RequestHeader(
                    HeaderName::from_bytes(header.as_bytes())
                        .map_err(|_| format!("`${name}` is not a valid header name"))?,
                )
            }
            _ => return Err(format!("unknown variable `${name}`; known: {KNOWN}")),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_split_into_literals_and_variables() {
        let t = Template::parse("id=$request_id;ip=$client_ip/$1x$$").unwrap();
        assert_eq!(
            t.parts(),
            &[
                Part::Literal("id=".into()),
                Part::Var(Var::RequestId),
                Part::Literal(";ip=".into()),
                Part::Var(Var::ClientIp),
                Part::Literal("/".into()),
                Part::Var(Var::Capture(1)),
                Part::Literal("x$".into()),
            ]
        );
        assert!(t.uses_captures());
        assert_eq!(
            Template::parse("plain").unwrap().as_literal(),
            Some("plain")
        );
        assert_eq!(
            Template::parse("$http_x_user_id").unwrap().parts(),
            &[Part::Var(Var::RequestHeader(HeaderName::from_static(
                "x-user-id"
            )))]
        );
    }

    #[test]
    fn unknown_variables_are_errors() {
        let e = Template::parse("$clientip").unwrap_err();
        assert!(e.contains("unknown variable `$clientip`"), "{e}");
        assert!(e.contains("$client_ip"), "{e}");
        assert!(Template::parse("50$").is_err());
        assert!(Template::parse("$http_").is_err());
        assert!(Template::parse("$jwt_claim_").is_err());
    }

    #[test]
    fn identity_variables() {
        let t = Template::parse("$consumer/$consumer_groups/$jwt_claim_client_id").unwrap();
        assert_eq!(
            t.parts(),
            &[
                Part::Var(Var::Consumer),
                Part::Literal("/".into()),
                Part::Var(Var::ConsumerGroups),
                Part::Literal("/".into()),
                Part::Var(Var::JwtClaim("client_id".into())),
            ]
        );
        assert!(t.uses_identity());
        assert!(!Template::parse("$host").unwrap().uses_identity());
    }
}
