//! Reading a whole body for a reshaping policy, bounded by its `max_body`,
//! and undoing its content coding.

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue};
use http_body_util::BodyExt;
use tollgate_core::{ErrorKind, ProxyError};
use tollgate_gateway::transform::decode::{self, Coding, DecodeError};

use crate::body::{Gather, RequestBody, ResponseBody};
use crate::pipeline::error_response;

/// Reads a request body whole; over `limit` bytes it is a 413.
pub(super) async fn request(body: &mut RequestBody<'_>, limit: u64) -> Result<Bytes, ProxyError> {
    body.read_within(limit).await
}

/// Reads an answer's body whole; over `limit` bytes or failing, the
/// error that replaces the answer (502).
pub(super) async fn response(body: &mut ResponseBody, limit: u64) -> Result<Bytes, ProxyError> {
    let over = || {
        ProxyError::upstream(
            ErrorKind::UpstreamProtocol,
            format!("upstream answer larger than the {limit} bytes a transform may buffer"),
        )
    };
    let announced = body.exact_len();
    if announced.is_some_and(|n| n > limit) {
        return Err(over());
    }
    let mut all = Gather::new(announced);
    while let Some(frame) = body.frame().await {
        // Trailers are dropped: the answer is sent with a length.
        if let Ok(data) = frame?.into_data() {
            if (all.len() + data.len()) as u64 > limit {
                return Err(over());
            }
            all.push(data);
        }
    }
    Ok(all.finish())
}

/// The coding of a message, when it is one tollgate can undo.
pub(super) fn coding(headers: &HeaderMap) -> Option<Coding> {
    let mut values = headers.get_all(header::CONTENT_ENCODING).iter();
    let first = values.next();
    if values.next().is_some() {
        return None;
    }
    Coding::of(first.map(HeaderValue::as_bytes))
}

/// Undoes `coding` on `data` (at most `limit` bytes decoded), dropping
/// `Content-Encoding` from `headers` once done.
pub(super) fn decoded(
    coding: Coding,
    data: Bytes,
    limit: u64,
    headers: &mut HeaderMap,
) -> Result<Bytes, DecodeError> {
    if coding == Coding::Identity {
        return Ok(data);
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let out = decode::decode(coding, &data, limit)?;
    headers.remove(header::CONTENT_ENCODING);
    Ok(Bytes::from(out))
}

/// Puts a new body in place of a request's, with its type.
pub(super) fn replace_request(
    body: &mut RequestBody<'_>,
    headers: &mut HeaderMap,
    new: Bytes,
    content_type: Option<HeaderValue>,
) {
    *body = RequestBody::Buffered(Some(new));
    // The length goes with the new body (the upstream side writes it).
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::TRANSFER_ENCODING);
    if let Some(ct) = content_type {
        headers.insert(header::CONTENT_TYPE, ct);
    }
}

/// Puts a new body in an answer: its length is exact, its old validators
/// no longer describe it.
pub(super) fn replace_response(
    resp: &mut http::Response<ResponseBody>,
    new: Bytes,
    content_type: Option<HeaderValue>,
) {
    let h = resp.headers_mut();
    h.remove(header::CONTENT_LENGTH);
    h.remove(header::TRANSFER_ENCODING);
    h.remove(header::ETAG);
    if let Some(ct) = content_type {
        h.insert(header::CONTENT_TYPE, ct);
    }
    *resp.body_mut() = ResponseBody::full(new);
}

/// The error answer that replaces an answer a policy could not reshape.
pub(super) fn failed(resp: &mut http::Response<ResponseBody>, err: &ProxyError, id: &HeaderValue) {
    tracing::debug!("reshaping an answer failed: {}", err.message);
    *resp = error_response(err, id);
}
