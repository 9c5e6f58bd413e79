//! What tollgate needs to know about gRPC, free of I/O: whether a request
//! is a gRPC call (its content type), the `grpc-timeout` it carries, and
//! how one of tollgate's own errors reads as a gRPC status.
//!
//! - A call is gRPC when its `content-type` is `application/grpc` or starts
//!   with `application/grpc+` or `application/grpc;` (gRPC over HTTP/2,
//!   "Requests"). `application/grpc-web` is another protocol and is not.
//! - `grpc-timeout` is 1 to 8 ASCII digits and one unit letter (`H`, `M`,
//!   `S`, `m`, `u`, `n`); anything else is ignored as if absent.
//! - tollgate's HTTP errors map to gRPC codes as the "HTTP to gRPC Status
//!   Code Mapping" document gives (404 UNIMPLEMENTED, 401 UNAUTHENTICATED,
//!   403 PERMISSION_DENIED, 502/503 UNAVAILABLE), refined where tollgate
//!   knows more than the status: a timeout is DEADLINE_EXCEEDED, a rate
//!   limit or an oversized body RESOURCE_EXHAUSTED.
//! - `grpc-message` is percent-encoded: bytes outside printable ASCII and
//!   `%` itself become `%XX`.

use std::time::Duration;

use http::StatusCode;

use crate::ErrorKind;

/// gRPC status codes tollgate answers with (the numeric values of the gRPC
/// specification's `Code` enum).
pub mod code {
    /// The operation completed successfully.
    pub const OK: u8 = 0;
    /// Unknown error.
    pub const UNKNOWN: u8 = 2;
    /// The deadline expired before the operation could complete.
    pub const DEADLINE_EXCEEDED: u8 = 4;
    /// The caller may not execute the operation.
    pub const PERMISSION_DENIED: u8 = 7;
    /// A resource (quota, message size) is exhausted.
    pub const RESOURCE_EXHAUSTED: u8 = 8;
    /// The operation is not implemented or supported.
    pub const UNIMPLEMENTED: u8 = 12;
    /// Internal error.
    pub const INTERNAL: u8 = 13;
    /// The service is currently unavailable.
    pub const UNAVAILABLE: u8 = 14;
    /// The request has no valid credentials.
    pub const UNAUTHENTICATED: u8 = 16;
}

/// Whether a `content-type` value names a gRPC call.
pub fn is_grpc_content_type(value: &[u8]) -> bool {
    const BASE: &[u8] = b"application/grpc";
    value.len() >= BASE.len()
        && value[..BASE.len()].eq_ignore_ascii_case(BASE)
        && matches!(value.get(BASE.len()), None | Some(b'+') | Some(b';'))
}

/// The duration of a `grpc-timeout` value, `None` when it is malformed.
pub fn parse_timeout(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    Some(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

/// The gRPC status of one of tollgate's own error answers of `kind`
/// (HTTP `status`, for kinds the mapping does not single out).
pub fn status_for(kind: ErrorKind, status: StatusCode) -> u8 {
    match kind {
        ErrorKind::UpstreamTimeout | ErrorKind::RequestTimeout => code::DEADLINE_EXCEEDED,
        ErrorKind::TooManyRequests | ErrorKind::PayloadTooLarge => code::RESOURCE_EXHAUSTED,
        ErrorKind::NoRoute | ErrorKind::NotImplemented => code::UNIMPLEMENTED,
        ErrorKind::Forbidden => code::PERMISSION_DENIED,
        _ => status_for_http(status),
    }
}

/// The gRPC status the mapping document gives for an HTTP status.
pub fn status_for_http(status: StatusCode) -> u8 {
    match status.as_u16() {
        200 => code::OK,
        400 => code::INTERNAL,
        401 => code::UNAUTHENTICATED,
        403 => code::PERMISSION_DENIED,
        404 => code::UNIMPLEMENTED,
        429 | 502 | 503 => code::UNAVAILABLE,
        504 => code::DEADLINE_EXCEEDED,
        500 => code::INTERNAL,
        _ => code::UNKNOWN,
    }
}

/// `message` percent-encoded for the `grpc-message` field.
pub fn encode_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for &b in message.as_bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_content_types() {
        for yes in [
            "application/grpc",
            "application/grpc+proto",
            "application/grpc+json",
            "Application/GRPC;charset=utf-8",
        ] {
            assert!(is_grpc_content_type(yes.as_bytes()), "{yes}");
        }
        for no in [
            "application/grpc-web",
            "application/json",
            "application/grp",
            "",
        ] {
            assert!(!is_grpc_content_type(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn timeouts_parse_by_unit() {
        assert_eq!(parse_timeout(b"1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_timeout(b"2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse_timeout(b"3S"), Some(Duration::from_secs(3)));
        assert_eq!(parse_timeout(b"250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_timeout(b"7u"), Some(Duration::from_micros(7)));
        assert_eq!(
            parse_timeout(b"99999999n"),
            Some(Duration::from_nanos(99_999_999))
        );
        for bad in ["", "S", "123456789S", "1x", "-1S", "1.5S", "10"] {
            assert_eq!(parse_timeout(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn errors_map_to_grpc_codes() {
        let cases = [
            (ErrorKind::NoRoute, 404, code::UNIMPLEMENTED),
            (ErrorKind::PayloadTooLarge, 413, code::RESOURCE_EXHAUSTED),
            (ErrorKind::TooManyRequests, 429, code::RESOURCE_EXHAUSTED),
            (ErrorKind::UpstreamConnect, 502, code::UNAVAILABLE),
            (ErrorKind::UpstreamProtocol, 502, code::UNAVAILABLE),
            (ErrorKind::Unavailable, 503, code::UNAVAILABLE),
            (ErrorKind::UpstreamTimeout, 504, code::DEADLINE_EXCEEDED),
            (ErrorKind::Forbidden, 403, code::PERMISSION_DENIED),
            (ErrorKind::BadRequest, 400, code::INTERNAL),
            (ErrorKind::Internal, 500, code::INTERNAL),
            (ErrorKind::MethodNotAllowed, 405, code::UNKNOWN),
        ];
        for (kind, http, grpc) in cases {
            let status = StatusCode::from_u16(http).unwrap();
            assert_eq!(status_for(kind, status), grpc, "{kind:?}");
        }
        assert_eq!(
            status_for_http(StatusCode::UNAUTHORIZED),
            code::UNAUTHENTICATED
        );
    }

    #[test]
    fn messages_are_percent_encoded() {
        assert_eq!(encode_message("no route"), "no route");
        assert_eq!(encode_message("50% é\n"), "50%25 %C3%A9%0A");
    }
}
