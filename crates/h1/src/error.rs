//! Error types for head parsing and body decoding.

use std::fmt;

use http::StatusCode;

/// Why a request or response head was rejected.
///
/// [`HeadError::status`] gives the status a server should answer with when
/// the head came from a client; for response heads the proxy maps any error
/// to 502 itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeadError {
    /// The head did not fit in `max_head_bytes` (431).
    HeadTooLarge,
    /// More header fields than `max_headers` (431).
    TooManyHeaders,
    /// The request-target is longer than `max_uri_length` (414).
    UriTooLong,
    /// An `HTTP/x.y` version other than 1.0 / 1.1 (505).
    VersionNotSupported,
    /// A malformed HTTP-version token (400).
    InvalidVersion,
    /// The method is not a valid token (400).
    InvalidMethod,
    /// The request-target is malformed or not allowed for the method (400).
    InvalidTarget,
    /// The status line of a response is malformed (400).
    InvalidStatusLine,
    /// A LF not preceded by CR somewhere in the head (400).
    BareLf,
    /// A CR not followed by LF somewhere in the head (400).
    BareCr,
    /// A header line starting with whitespace (obs-fold) (400).
    ObsFold,
    /// Whitespace between a field name and the colon (400).
    WhitespaceBeforeColon,
    /// A field name that is not a token (400).
    InvalidHeaderName,
    /// A field value with control characters or otherwise invalid (400).
    InvalidHeaderValue,
    /// Both `Content-Length` and `Transfer-Encoding` in a request (400).
    ContentLengthAndTransferEncoding,
    /// `Content-Length` that is not a plain decimal number, or overflows (400).
    InvalidContentLength,
    /// Several `Content-Length` values that differ (400).
    ConflictingContentLength,
    /// `Transfer-Encoding` whose final coding is not a single `chunked` (400).
    InvalidTransferEncoding,
    /// A transfer coding other than `chunked` (501).
    UnsupportedTransferCoding,
    /// `Transfer-Encoding` in an HTTP/1.0 message (400).
    TransferEncodingInHttp10,
    /// HTTP/1.1 request without `Host` (400).
    MissingHost,
    /// More than one `Host` field (400).
    MultipleHost,
    /// `Host` value that is not `host[:port]` (400).
    InvalidHost,
    /// An `Expect` value other than `100-continue` (417).
    UnsupportedExpectation,
}

impl HeadError {
    /// The status code a server should respond with for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            HeadError::HeadTooLarge | HeadError::TooManyHeaders => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            HeadError::UriTooLong => StatusCode::URI_TOO_LONG,
            HeadError::VersionNotSupported => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            HeadError::UnsupportedTransferCoding => StatusCode::NOT_IMPLEMENTED,
            HeadError::UnsupportedExpectation => StatusCode::EXPECTATION_FAILED,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn message(&self) -> &'static str {
        match self {
            HeadError::HeadTooLarge => "head too large",
            HeadError::TooManyHeaders => "too many header fields",
            HeadError::UriTooLong => "request-target too long",
            HeadError::VersionNotSupported => "HTTP version not supported",
            HeadError::InvalidVersion => "malformed HTTP version",
            HeadError::InvalidMethod => "invalid method token",
            HeadError::InvalidTarget => "invalid request-target",
            HeadError::InvalidStatusLine => "malformed status line",
            HeadError::BareLf => "bare LF in message head",
            HeadError::BareCr => "bare CR in message head",
            HeadError::ObsFold => "obsolete line folding in header section",
            HeadError::WhitespaceBeforeColon => "whitespace between field name and colon",
            HeadError::InvalidHeaderName => "invalid header field name",
            HeadError::InvalidHeaderValue => "invalid header field value",
            HeadError::ContentLengthAndTransferEncoding => {
                "both Content-Length and Transfer-Encoding"
            }
            HeadError::InvalidContentLength => "invalid Content-Length",
            HeadError::ConflictingContentLength => "conflicting Content-Length values",
            HeadError::InvalidTransferEncoding => "chunked is not the single final transfer coding",
            HeadError::UnsupportedTransferCoding => "unsupported transfer coding",
            HeadError::TransferEncodingInHttp10 => "Transfer-Encoding in HTTP/1.0 message",
            HeadError::MissingHost => "missing Host header",
            HeadError::MultipleHost => "multiple Host headers",
            HeadError::InvalidHost => "invalid Host header",
            HeadError::UnsupportedExpectation => "unsupported Expect value",
        }
    }
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for HeadError {}

/// Why a chunked body was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChunkError {
    /// Chunk size missing or containing a non-hex character.
    InvalidSize,
    /// Chunk size with more than 16 digits or not below 2^63.
    SizeOverflow,
    /// A LF not preceded by CR in chunk framing or trailers.
    BareLf,
    /// A CR not followed by LF in chunk framing.
    BareCr,
    /// Chunk data not followed by CRLF.
    MissingCrlf,
    /// A control character in a chunk extension.
    InvalidExtension,
    /// Chunk extensions exceeded the per-body limit.
    ExtensionsTooLarge,
    /// Trailer section larger than `max_trailer_bytes`.
    TrailersTooLarge,
    /// Malformed trailer field.
    InvalidTrailers,
}

impl fmt::Display for ChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChunkError::InvalidSize => "invalid chunk size",
            ChunkError::SizeOverflow => "chunk size too large",
            ChunkError::BareLf => "bare LF in chunked framing",
            ChunkError::BareCr => "bare CR in chunked framing",
            ChunkError::MissingCrlf => "missing CRLF after chunk data",
            ChunkError::InvalidExtension => "invalid chunk extension",
            ChunkError::ExtensionsTooLarge => "chunk extensions too large",
            ChunkError::TrailersTooLarge => "trailer section too large",
            ChunkError::InvalidTrailers => "invalid trailer field",
        })
    }
}

impl std::error::Error for ChunkError {}
