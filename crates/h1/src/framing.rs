//! Message body framing decisions (RFC 9112 §6).

use http::header;

use crate::error::HeadError;
use crate::fields::Fields;

/// How the message body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body follows the head.
    Empty,
    /// Exactly this many body bytes follow (may be 0).
    Length(u64),
    /// A chunked body follows.
    Chunked,
    /// The body runs until the connection closes (responses only).
    CloseDelimited,
}

impl BodyFraming {
    /// True when no body bytes follow the head.
    pub fn is_empty(&self) -> bool {
        matches!(self, BodyFraming::Empty | BodyFraming::Length(0))
    }
}

/// Request framing (RFC 9112 §6.1, §6.3): TE+CL, TE in HTTP/1.0, and a
/// final coding other than a single `chunked` are rejected.
pub(crate) fn request_framing(f: &Fields, http10: bool) -> Result<BodyFraming, HeadError> {
    let te = &f.transfer;
    if te.present {
        if http10 {
            return Err(HeadError::TransferEncodingInHttp10);
        }
        if f.content_length.is_some() {
            return Err(HeadError::ContentLengthAndTransferEncoding);
        }
        if te.malformed || !te.last_is_chunked || te.chunked != 1 {
            return Err(HeadError::InvalidTransferEncoding);
        }
        if te.other > 0 {
            return Err(HeadError::UnsupportedTransferCoding);
        }
        return Ok(BodyFraming::Chunked);
    }
    Ok(match f.content_length {
        Some(n) => BodyFraming::Length(n),
        None => BodyFraming::Empty,
    })
}

/// Response framing (RFC 9112 §6.3). `no_body` covers HEAD requests,
/// 1xx/204/304 and 2xx to CONNECT. Returns the framing and whether the
/// connection must close afterwards regardless of Connection tokens.
pub(crate) fn response_framing(
    f: &mut Fields,
    http10: bool,
    no_body: bool,
) -> Result<(BodyFraming, bool), HeadError> {
    if no_body {
        return Ok((BodyFraming::Empty, false));
    }
    let te = f.transfer;
    if te.present {
        if http10 {
            return Err(HeadError::TransferEncodingInHttp10);
        }
        if te.malformed || te.chunked > 1 || (te.chunked == 0 && te.other == 0) {
            return Err(HeadError::InvalidTransferEncoding);
        }
        if te.other > 0 {
            return Err(HeadError::UnsupportedTransferCoding);
        }
        // TE overrides CL (§6.3 rule 3); the CL must not be forwarded and the
        // connection must not be reused.
        let must_close = f.content_length.is_some();
        if must_close {
            f.map.remove(header::CONTENT_LENGTH);
        }
        return Ok((BodyFraming::Chunked, must_close));
    }
    Ok(match f.content_length {
        Some(n) => (BodyFraming::Length(n), false),
        None => (BodyFraming::CloseDelimited, true),
    })
}
