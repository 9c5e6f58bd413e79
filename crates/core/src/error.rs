//! One error type for the data path. Each error records where it came from
//! and whether the request may be retried elsewhere; [`ProxyError::status`]
//! and [`ProxyError::json_body`] are the single place errors become answers.

use std::fmt;

use http::StatusCode;

use crate::json::push_json_string;

/// Where an error originated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorSource {
    /// The client sent something wrong or too slow.
    Client,
    /// The upstream failed, timed out or answered garbage.
    Upstream,
    /// The configuration says no (no route, body too large by policy).
    Config,
    /// A bug or resource exhaustion inside tollgate.
    Internal,
}

/// What went wrong, precise enough to pick the status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed or ambiguous request (400).
    BadRequest,
    /// No route matched (404).
    NoRoute,
    /// Method not allowed by the route (405).
    MethodNotAllowed,
    /// Client too slow sending the request (408).
    RequestTimeout,
    /// Request body larger than allowed (413).
    PayloadTooLarge,
    /// Request target too long (414).
    UriTooLong,
    /// Expectation not supported (417).
    ExpectationFailed,
    /// Request head too large (431).
    HeadersTooLarge,
    /// Transfer-coding or feature not implemented (501).
    NotImplemented,
    /// HTTP version not supported (505).
    VersionNotSupported,
    /// Could not connect to any upstream target (502).
    UpstreamConnect,
    /// Upstream broke the connection or sent an invalid answer (502).
    UpstreamProtocol,
    /// No target available (503).
    Unavailable,
    /// Upstream did not answer in time (504).
    UpstreamTimeout,
    /// Anything else inside tollgate (500).
    Internal,
    /// Refused by an access rule such as an IP filter (403).
    Forbidden,
    /// The target has nothing at this path, e.g. no such static file (404).
    NotFound,
    /// A conditional request's precondition failed (412).
    PreconditionFailed,
    /// No part of the requested byte range exists (416).
    RangeNotSatisfiable,
    /// The client sent too many requests (429).
    TooManyRequests,
    /// No or an invalid credential (401); the answer carries a challenge.
    Unauthorized,
}

/// An error on the data path.
#[derive(Debug, Clone)]
pub struct ProxyError {
    /// Where it came from.
    pub source: ErrorSource,
    /// What it is.
    pub kind: ErrorKind,
    /// Whether sending the request again, to another target, is safe
    /// (nothing reached the upstream).
    pub retryable: bool,
    /// Short human text; goes into the JSON body, so never secrets.
    pub message: String,
}

impl ProxyError {
    /// Builds an error.
    pub fn new(source: ErrorSource, kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            source,
            kind,
            retryable: false,
            message: message.into(),
        }
    }

    /// A client-caused error of `kind`.
    pub fn client(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self::new(ErrorSource::Client, kind, message)
    }

    /// An upstream-caused error of `kind`.
    pub fn upstream(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self::new(ErrorSource::Upstream, kind, message)
    }

    /// Marks the error as safe to retry on another target.
    pub fn retryable(mut self) -> Self {
        self.retryable = true;
        self
    }

    /// The status code this error answers with.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::NoRoute => StatusCode::NOT_FOUND,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::UriTooLong => StatusCode::URI_TOO_LONG,
            ErrorKind::ExpectationFailed => StatusCode::EXPECTATION_FAILED,
            ErrorKind::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ErrorKind::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            ErrorKind::VersionNotSupported => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            ErrorKind::UpstreamConnect | ErrorKind::UpstreamProtocol => StatusCode::BAD_GATEWAY,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ErrorKind::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
            ErrorKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        }
    }

    /// Whether the client connection must be closed after answering
    /// (the request stream can no longer be trusted to be in sync).
    pub fn closes_connection(&self) -> bool {
        self.source == ErrorSource::Client
    }

    /// `{"error": "...", "request_id": "..."}`, JSON-escaped.
    pub fn json_body(&self, request_id: &str) -> String {
        let mut out = String::with_capacity(self.message.len() + request_id.len() + 32);
        out.push_str("{\"error\":");
        push_json_string(&mut out, &self.message);
        out.push_str(",\"request_id\":");
        push_json_string(&mut out, request_id);
        out.push_str("}\n");
        out
    }
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:?}, {:?})", self.message, self.source, self.kind)
    }
}

impl std::error::Error for ProxyError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_maps_to_its_status() {
        let cases = [
            (ErrorKind::BadRequest, 400),
            (ErrorKind::NoRoute, 404),
            (ErrorKind::RequestTimeout, 408),
            (ErrorKind::PayloadTooLarge, 413),
            (ErrorKind::UriTooLong, 414),
            (ErrorKind::HeadersTooLarge, 431),
            (ErrorKind::UpstreamConnect, 502),
            (ErrorKind::UpstreamProtocol, 502),
            (ErrorKind::Unavailable, 503),
            (ErrorKind::UpstreamTimeout, 504),
            (ErrorKind::Internal, 500),
            (ErrorKind::Forbidden, 403),
            (ErrorKind::NotFound, 404),
            (ErrorKind::PreconditionFailed, 412),
            (ErrorKind::RangeNotSatisfiable, 416),
            (ErrorKind::TooManyRequests, 429),
        ];
        for (kind, code) in cases {
            let e = ProxyError::new(ErrorSource::Internal, kind, "x");
            assert_eq!(e.status().as_u16(), code, "{kind:?}");
        }
    }

    #[test]
    fn json_body_escapes() {
        let e = ProxyError::client(ErrorKind::BadRequest, "bad \"thing\"\n");
        assert_eq!(
            e.json_body("id-1"),
            "{\"error\":\"bad \\\"thing\\\"\\n\",\"request_id\":\"id-1\"}\n"
        );
    }
}
