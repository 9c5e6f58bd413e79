//! Response head parsing (RFC 9112 §4, §6.3 as they apply to responses).

use std::mem::MaybeUninit;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Version};

use crate::error::HeadError;
use crate::fields::{check_line_endings, header_error, share, with_header_slots, Fields};
use crate::framing::{response_framing, BodyFraming};
use crate::limits::HeadLimits;

/// A parsed and validated response head.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    /// Status code (100..=999).
    pub status: StatusCode,
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    /// Reason phrase as received; `None` when empty or containing obs-text.
    pub reason: Option<Bytes>,
    /// Header fields in arrival order (Content-Length removed when
    /// Transfer-Encoding overrides it).
    pub headers: HeaderMap,
    /// Body framing, already accounting for HEAD / CONNECT / 1xx / 204 / 304.
    pub framing: BodyFraming,
    /// Whether the upstream connection may be reused after this response.
    pub keep_alive: bool,
}

/// Parses a response head from the start of `buf`.
///
/// `request_method` is the method of the request this answers (HEAD and
/// CONNECT change the framing). Interim 1xx responses are returned like any
/// other head with `BodyFraming::Empty`; the caller keeps reading after them.
pub fn parse_response(
    buf: &[u8],
    limits: &HeadLimits,
    request_method: &Method,
) -> Result<Option<(ResponseHead, usize)>, HeadError> {
    parse_response_with_room(buf, limits, request_method, 0)
}

/// [`parse_response`], with the header map made with room for `room` more
/// fields: a proxy that will add some sizes the map once instead of growing
/// (rehashing) it on the way out.
pub fn parse_response_with_room(
    buf: &[u8],
    limits: &HeadLimits,
    request_method: &Method,
    room: usize,
) -> Result<Option<(ResponseHead, usize)>, HeadError> {
    if buf.is_empty() {
        return Ok(None);
    }
    let window = buf.get(..limits.max_head_bytes).unwrap_or(buf);
    with_header_slots(limits.max_headers, |slots| {
        parse_in(buf, window, limits, request_method, room, slots)
    })
}

fn parse_in<'b>(
    buf: &[u8],
    window: &'b [u8],
    limits: &HeadLimits,
    request_method: &Method,
    room: usize,
    slots: &mut [MaybeUninit<httparse::Header<'b>>],
) -> Result<Option<(ResponseHead, usize)>, HeadError> {
    let mut res = httparse::Response::new(&mut []);
    let n = match httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut res, window, slots)
    {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() >= limits.max_head_bytes {
                return Err(HeadError::HeadTooLarge);
            }
            return Ok(None);
        }
        Err(httparse::Error::Version) => return Err(version_error(window)),
        Err(e) => return Err(header_error(e, window)),
    };
    let head = window.get(..n).unwrap_or(window);
    check_line_endings(head)?;

    let version = match res.version {
        Some(0) => Version::HTTP_10,
        Some(1) => Version::HTTP_11,
        _ => return Err(HeadError::InvalidVersion),
    };
    let code = res.code.ok_or(HeadError::InvalidStatusLine)?;
    if code < 100 {
        return Err(HeadError::InvalidStatusLine);
    }
    let status = StatusCode::from_u16(code).map_err(|_| HeadError::InvalidStatusLine)?;

    let shared = Bytes::copy_from_slice(head);
    let reason = res
        .reason
        .filter(|r| !r.is_empty())
        .and_then(|r| share(window, &shared, r.as_bytes()));
    // An answer is passed on with what it has (Date is most often there).
    let mut fields = Fields::collect(res.headers, window, &shared, room)?;

    let http10 = version == Version::HTTP_10;
    let no_body = *request_method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || (*request_method == Method::CONNECT && status.is_success());
    let (framing, must_close) = response_framing(&mut fields, http10, no_body)?;
    let keep_alive = !must_close
        && if http10 {
            fields.conn_keep_alive && !fields.conn_close
        } else {
            !fields.conn_close
        };

    let head = ResponseHead {
        status,
        version,
        reason,
        headers: fields.map,
        framing,
        keep_alive,
    };
    Ok(Some((head, n)))
}

fn version_error(buf: &[u8]) -> HeadError {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let line = buf.get(start..).unwrap_or_default();
    let end = memchr::memchr3(b' ', b'\r', b'\n', line).unwrap_or(line.len());
    match line.get(..end).unwrap_or_default() {
        b"HTTP/1.0" | b"HTTP/1.1" => HeadError::InvalidStatusLine,
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            HeadError::VersionNotSupported
        }
        _ => HeadError::InvalidVersion,
    }
}
