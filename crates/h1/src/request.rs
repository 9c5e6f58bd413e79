//! Request head parsing (RFC 9112 §2–§3, §6–§9 as they apply to requests).

use std::mem::MaybeUninit;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Uri, Version};

use crate::error::HeadError;
use crate::fields::{
    check_line_endings, header_error, is_tchar, share, valid_host, with_header_slots, Expectation,
    Fields,
};
use crate::framing::{request_framing, BodyFraming};
use crate::limits::HeadLimits;

/// A parsed and validated request head.
#[derive(Debug, Clone)]
pub struct RequestHead {
    /// Request method.
    pub method: Method,
    /// Request-target: origin-form (`/p?q`), absolute-form, `*` or authority-form.
    pub uri: Uri,
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    /// Header fields in arrival order. For absolute-form targets `Host` is
    /// rewritten to the target's authority; repeated identical
    /// Content-Length values are collapsed to one.
    pub headers: HeaderMap,
    /// Body framing; `Empty` when neither Content-Length nor Transfer-Encoding.
    pub framing: BodyFraming,
    /// Whether the connection may be reused after this exchange.
    pub keep_alive: bool,
    /// `Expect: 100-continue` on an HTTP/1.1 request.
    pub expect_continue: bool,
    /// HTTP/1.1 request with an `upgrade` Connection token and an Upgrade field.
    pub upgrade: bool,
}

/// The HTTP/2 connection preface (RFC 9113 §3.4).
pub const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Whether `buf` starts with the HTTP/2 prior-knowledge preface; `None` while
/// `buf` is a strict prefix of it (read more bytes before deciding).
pub fn is_h2_preface(buf: &[u8]) -> Option<bool> {
    if buf.len() < H2_PREFACE.len() {
        if H2_PREFACE.starts_with(buf) {
            None
        } else {
            Some(false)
        }
    } else {
        Some(buf.starts_with(H2_PREFACE))
    }
}

/// Parses a request head from the start of `buf`.
///
/// `Ok(None)`: incomplete, read more (the buffer is still within limits).
/// `Ok(Some((head, consumed)))`: the head occupied `buf[..consumed]`
/// (including any skipped leading CRLFs); the body / next request follows.
pub fn parse_request(
    buf: &[u8],
    limits: &HeadLimits,
) -> Result<Option<(RequestHead, usize)>, HeadError> {
    if buf.is_empty() {
        return Ok(None);
    }
    let window = buf.get(..limits.max_head_bytes).unwrap_or(buf);
    with_header_slots(limits.max_headers, |slots| {
        parse_in(buf, window, limits, slots)
    })
}

fn parse_in<'b>(
    buf: &[u8],
    window: &'b [u8],
    limits: &HeadLimits,
    slots: &mut [MaybeUninit<httparse::Header<'b>>],
) -> Result<Option<(RequestHead, usize)>, HeadError> {
    let mut req = httparse::Request::new(&mut []);
    let n = match req.parse_with_uninit_headers(window, slots) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if window.len() > limits.max_uri_length && target_len(window) > limits.max_uri_length {
                return Err(HeadError::UriTooLong);
            }
            if buf.len() >= limits.max_head_bytes {
                return Err(HeadError::HeadTooLarge);
            }
            return Ok(None);
        }
        Err(e) => return Err(request_line_error(e, window)),
    };
    let head = window.get(..n).unwrap_or(window);
    check_line_endings(head)?;

    let method = req.method.ok_or(HeadError::InvalidMethod)?;
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| HeadError::InvalidMethod)?;
    let version = match req.version {
        Some(0) => Version::HTTP_10,
        Some(1) => Version::HTTP_11,
        _ => return Err(HeadError::InvalidVersion),
    };
    let target = req.path.ok_or(HeadError::InvalidTarget)?.as_bytes();
    if target.len() > limits.max_uri_length {
        return Err(HeadError::UriTooLong);
    }
    // Visible ASCII only (RFC 9112 §3.2), no fragment. Branch-free so it
    // vectorizes.
    let bad = target.iter().fold(false, |bad, &b| {
        bad | (b.wrapping_sub(0x21) > 0x7e - 0x21) | (b == b'#')
    });
    if bad {
        return Err(HeadError::InvalidTarget);
    }

    let shared = Bytes::copy_from_slice(head);
    // A proxied request gains a few fields (request id, X-Forwarded-*, Via).
    let mut fields = Fields::collect(req.headers, window, &shared, 4)?;
    let target = share(window, &shared, target).ok_or(HeadError::InvalidTarget)?;
    let (uri, absolute) = parse_target(&method, target)?;

    let http10 = version == Version::HTTP_10;
    match fields.host_count {
        0 if !http10 => return Err(HeadError::MissingHost),
        0 | 1 => {}
        _ => return Err(HeadError::MultipleHost),
    }
    if let Some(host) = &fields.host {
        if !valid_host(host.as_bytes()) {
            return Err(HeadError::InvalidHost);
        }
    }
    if absolute {
        // RFC 9112 §3.2.2: the target's authority wins over Host.
        if let Some(authority) = uri.authority() {
            let matches = fields.host.as_ref().is_some_and(|h| {
                h.as_bytes()
                    .eq_ignore_ascii_case(authority.as_str().as_bytes())
            });
            if !matches {
                let value = HeaderValue::from_str(authority.as_str())
                    .map_err(|_| HeadError::InvalidTarget)?;
                fields.map.insert(header::HOST, value);
            }
        }
    }

    let framing = request_framing(&fields, http10)?;
    let keep_alive = if http10 {
        fields.conn_keep_alive && !fields.conn_close
    } else {
        !fields.conn_close
    };
    let expect_continue = match fields.expect {
        Expectation::None => false,
        Expectation::Continue => !http10,
        Expectation::Other => return Err(HeadError::UnsupportedExpectation),
    };
    let upgrade = !http10 && fields.conn_upgrade && fields.upgrade_present;

    let head = RequestHead {
        method,
        uri,
        version,
        headers: fields.map,
        framing,
        keep_alive,
        expect_continue,
        upgrade,
    };
    Ok(Some((head, n)))
}

/// Builds the Uri and checks the form against the method (RFC 9112 §3.2).
/// Returns whether the target was in absolute-form.
fn parse_target(method: &Method, target: Bytes) -> Result<(Uri, bool), HeadError> {
    let first = target.first().copied();
    if target.as_ref() == b"*" {
        if method != Method::OPTIONS {
            return Err(HeadError::InvalidTarget);
        }
        let uri = Uri::from_maybe_shared(target).map_err(|_| HeadError::InvalidTarget)?;
        return Ok((uri, false));
    }
    if *method == Method::CONNECT {
        // authority-form: host ":" port, nothing else.
        if first == Some(b'/') || target.contains(&b'@') || target.contains(&b'/') {
            return Err(HeadError::InvalidTarget);
        }
        if !valid_host(&target) {
            return Err(HeadError::InvalidTarget);
        }
        let uri = Uri::from_maybe_shared(target).map_err(|_| HeadError::InvalidTarget)?;
        let has_port = uri.authority().and_then(|a| a.port_u16()).is_some();
        if !has_port {
            return Err(HeadError::InvalidTarget);
        }
        return Ok((uri, false));
    }
    if first == Some(b'/') {
        let uri = Uri::from_maybe_shared(target).map_err(|_| HeadError::InvalidTarget)?;
        return Ok((uri, false));
    }
    // absolute-form: http(s)://authority[path-abempty][?query]
    let uri = Uri::from_maybe_shared(target).map_err(|_| HeadError::InvalidTarget)?;
    let scheme_ok = uri
        .scheme_str()
        .is_some_and(|s| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"));
    let authority_ok = uri.authority().is_some_and(|a| {
        !a.as_str().is_empty() && !a.as_str().contains('@') && valid_host(a.as_str().as_bytes())
    });
    if !scheme_ok || !authority_ok {
        return Err(HeadError::InvalidTarget);
    }
    Ok((uri, true))
}

/// Length of the (possibly unfinished) request-target in `buf`.
fn target_len(buf: &[u8]) -> usize {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let line = buf.get(start..).unwrap_or_default();
    let Some(sp) = memchr::memchr(b' ', line) else {
        return 0;
    };
    let rest = line.get(sp + 1..).unwrap_or_default();
    memchr::memchr3(b' ', b'\r', b'\n', rest).unwrap_or(rest.len())
}

/// Maps an httparse error, telling method / target / version apart.
fn request_line_error(err: httparse::Error, buf: &[u8]) -> HeadError {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let line = buf.get(start..).unwrap_or_default();
    let line = line
        .get(..memchr::memchr(b'\n', line).unwrap_or(line.len()))
        .unwrap_or_default();
    match err {
        httparse::Error::Token => {
            let method_len = line.iter().take_while(|&&b| is_tchar(b)).count();
            if method_len > 0 && line.get(method_len) == Some(&b' ') {
                HeadError::InvalidTarget
            } else {
                HeadError::InvalidMethod
            }
        }
        httparse::Error::NewLine => {
            let version = line.splitn(3, |&b| b == b' ').nth(2).unwrap_or_default();
            if version.len() > 8 && version.get(8) != Some(&b'\r') {
                HeadError::InvalidVersion
            } else {
                HeadError::BareCr
            }
        }
        httparse::Error::Version => {
            let version = line.splitn(3, |&b| b == b' ').nth(2).unwrap_or_default();
            match version {
                _ if version.contains(&b' ') => HeadError::InvalidTarget,
                [b'H', b'T', b'T', b'P', b'/', d, ..] if d.is_ascii_digit() => {
                    HeadError::VersionNotSupported
                }
                _ => HeadError::InvalidVersion,
            }
        }
        other => header_error(other, buf),
    }
}
