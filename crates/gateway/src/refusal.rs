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
        }
    }
}

/// An auth policy's refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// 401 (no or bad credential) or 403 (identified, not allowed).
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
