//! Why an auth policy refused a request: the access log's reason, the
//! status, and the challenge sent back (RFC 9110 §11.6.1: a 401 says how
//! to authenticate). Messages never carry the credential.

/// How a 401 tells the client to authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `WWW-Authenticate: ApiKey realm="..."` (API keys have no registered
    /// scheme; the realm names the place).
    ApiKey,
    /// `ClientCertificate realm="tollgate"`: no registered scheme exists
    /// for TLS client certificates; this names what is missing.
    ClientCertificate,
    /// `Basic realm="..."` (RFC 7617), with the realm configured.
    Basic(String),
    /// `Bearer realm="tollgate"`: no token was sent (RFC 6750 §3.1: no
    /// error code then).
    Bearer,
    /// `Bearer error="invalid_token", error_description="..."`.
    InvalidToken(&'static str),
    /// `Bearer error="insufficient_scope"` on a 403.
    InsufficientScope,
    /// Several schemes (`auth: {any}` with no credential): one
    /// `WWW-Authenticate` field each.
    Several(Vec<Challenge>),
}

impl Challenge {
    /// The `WWW-Authenticate` value.
    pub fn header_value(&self) -> String {
        match self {
            Challenge::ApiKey => "ApiKey realm=\"tollgate\"".to_string(),
            Challenge::ClientCertificate => "ClientCertificate realm=\"tollgate\"".to_string(),
            Challenge::Basic(realm) => format!("Basic realm=\"{realm}\", charset=\"UTF-8\""),
            Challenge::Bearer => "Bearer realm=\"tollgate\"".to_string(),
            Challenge::InvalidToken(d) => {
                format!(
                    "Bearer realm=\"tollgate\", error=\"invalid_token\", error_description=\"{d}\""
                )
            }
            Challenge::InsufficientScope => {
                "Bearer realm=\"tollgate\", error=\"insufficient_scope\"".to_string()
            }
            Challenge::Several(all) => {
                let each: Vec<String> = all.iter().map(Challenge::header_value).collect();
                each.join(", ")
            }
        }
    }

    /// The `WWW-Authenticate` values, one per field (several for
    /// [`Challenge::Several`], the same scheme once).
    pub fn header_values(&self) -> Vec<String> {
        match self {
            Challenge::Several(all) => {
                let mut out: Vec<String> = Vec::new();
                for v in all.iter().flat_map(Challenge::header_values) {
                    if !out.contains(&v) {
                        out.push(v);
                    }
                }
                out
            }
            one => vec![one.header_value()],
        }
    }
}

/// An auth policy's refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// 401 (no or bad credential), 403 (identified, not allowed) or 503
    /// (the deciding service is unavailable).
    pub status: u16,
    /// For the access log: `key_auth:missing`, `acl:denied`, ...
    pub reason: &'static str,
    /// The text of the error body (no secrets).
    pub message: &'static str,
    /// The challenge of a 401.
    pub challenge: Option<Challenge>,
}

impl Refusal {
    /// A 401 with `challenge`.
    pub fn unauthorized(reason: &'static str, message: &'static str, challenge: Challenge) -> Self {
        Self {
            status: 401,
            reason,
            message,
            challenge: Some(challenge),
        }
    }

    /// A 503: the service that decides (an introspection endpoint, an
    /// external auth service) did not answer usably.
    pub fn unavailable(reason: &'static str) -> Self {
        Self {
            status: 503,
            reason,
            message: "authorization service unavailable",
            challenge: None,
        }
    }

    /// Whether the request carried no credential for the policy (so
    /// `auth: {any}` tries the next method).
    pub fn is_missing(&self) -> bool {
        self.status == 401 && self.reason.ends_with(":missing")
    }

    /// A 403.
    pub fn forbidden(reason: &'static str) -> Self {
        Self {
            status: 403,
            reason,
            message: "forbidden",
            challenge: None,
        }
    }
}

/// What an auth policy made of a request.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A credential identified this consumer.
    Identified(std::sync::Arc<crate::Consumer>),
    /// No credential was presented; the policy's `anonymous` consumer.
    Anonymous(std::sync::Arc<crate::Consumer>),
    /// Missing or invalid credential.
    Refused(Refusal),
}
