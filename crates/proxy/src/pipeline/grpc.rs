//! gRPC calls through the pipeline: which requests are gRPC and their
//! deadline (read once, by the HTTP/2 server), and tollgate's own errors
//! reshaped as gRPC clients understand them: HTTP 200, no body, the status
//! in `grpc-status` / `grpc-message` (a "Trailers-Only" answer).

use std::time::Duration;

use http::header::{self, HeaderValue};
use http::{HeaderMap, Response, StatusCode};
use tollgate_core::grpc;
use tollgate_core::ErrorKind;

use crate::body::ResponseBody;

static GRPC_TIMEOUT: http::HeaderName = http::HeaderName::from_static("grpc-timeout");
static GRPC_STATUS: http::HeaderName = http::HeaderName::from_static("grpc-status");
static GRPC_MESSAGE: http::HeaderName = http::HeaderName::from_static("grpc-message");

/// What a gRPC call asked of tollgate.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct GrpcCall {
    /// The client's `grpc-timeout`, when it sent a valid one.
    pub(crate) timeout: Option<Duration>,
}

impl GrpcCall {
    /// The call a request makes, `None` when it is not gRPC (one field
    /// lookup; the timeout is read only for gRPC calls).
    pub(crate) fn of(headers: &HeaderMap) -> Option<Self> {
        let ct = headers.get(header::CONTENT_TYPE)?;
        if !grpc::is_grpc_content_type(ct.as_bytes()) {
            return None;
        }
        let timeout = headers
            .get(&GRPC_TIMEOUT)
            .and_then(|v| grpc::parse_timeout(v.as_bytes()));
        Some(Self { timeout })
    }
}

/// Marks an answer tollgate made itself for an error (set by
/// `pipeline::error_response`), so a gRPC call's server can reshape it.
#[derive(Debug, Clone)]
pub(crate) struct ErrorAnswer {
    /// What went wrong.
    pub(crate) kind: ErrorKind,
    /// The error's text.
    pub(crate) message: Box<str>,
}

/// `resp` as a gRPC client should see it when it is one of tollgate's error
/// answers; other answers are returned unchanged.
pub(crate) fn reshape(resp: Response<ResponseBody>) -> Response<ResponseBody> {
    let Some(err) = resp.extensions().get::<ErrorAnswer>() else {
        return resp;
    };
    let code = grpc::status_for(err.kind, resp.status());
    let message = grpc::encode_message(&err.message);
    let (parts, _) = resp.into_parts();
    let mut out = Response::new(ResponseBody::Empty);
    let h = out.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    h.insert(&GRPC_STATUS, HeaderValue::from(u16::from(code)));
    if let Ok(v) = HeaderValue::from_str(&message) {
        h.insert(&GRPC_MESSAGE, v);
    }
    // The request id, Retry-After and the like still help the caller.
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE
            && name != header::CONTENT_LENGTH
            && name != header::CONTENT_ENCODING
            && name != header::VARY
        {
            h.append(name, value.clone());
        }
    }
    debug_assert_eq!(out.status(), StatusCode::OK);
    out
}

/// The `grpc-status` an answer's head carries (a Trailers-Only answer or
/// one of tollgate's), for the access log.
pub(crate) fn head_status(headers: &HeaderMap) -> Option<u16> {
    headers.get(&GRPC_STATUS)?.to_str().ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::error_response;
    use tollgate_core::ProxyError;

    #[test]
    fn tollgate_errors_become_trailers_only_answers() {
        let e = ProxyError::upstream(ErrorKind::UpstreamTimeout, "request timed out");
        let resp = reshape(error_response(&e, &HeaderValue::from_static("id-1")));
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "application/grpc");
        assert_eq!(resp.headers()["grpc-status"], "4");
        assert_eq!(resp.headers()["grpc-message"], "request timed out");
        assert_eq!(resp.headers()["x-request-id"], "id-1");
        assert!(matches!(resp.body(), ResponseBody::Empty));
        assert_eq!(head_status(resp.headers()), Some(4));
    }

    #[test]
    fn other_answers_are_left_alone() {
        let resp = Response::new(ResponseBody::full("x"));
        assert!(matches!(reshape(resp).body(), ResponseBody::Full(_)));
    }

    #[test]
    fn calls_are_recognised_by_content_type() {
        let mut h = HeaderMap::new();
        assert!(GrpcCall::of(&h).is_none());
        h.insert(
            "content-type",
            HeaderValue::from_static("application/grpc+proto"),
        );
        h.insert("grpc-timeout", HeaderValue::from_static("250m"));
        let call = GrpcCall::of(&h).unwrap();
        assert_eq!(call.timeout, Some(Duration::from_millis(250)));
    }
}
