//! Head and chunk encoders appending to a `BytesMut`.

use bytes::{BufMut, BytesMut};
use http::{HeaderMap, Method, StatusCode};

/// Fields a sender adds to the head it encodes, written after the map's
/// fields so hot paths need not insert them into the map (which allocates).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeadExtras {
    /// Body framing to announce.
    pub framing: FramingField,
    /// `Connection: close` or `Connection: keep-alive`, when set.
    pub connection: Option<ConnectionField>,
}

/// The framing field of an encoded head.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FramingField {
    /// No framing field (no body, or the map already carries one).
    #[default]
    None,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// The Connection field of an encoded head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionField {
    /// `Connection: close`.
    Close,
    /// `Connection: keep-alive` (for HTTP/1.0 peers).
    KeepAlive,
}

/// Appends `METHOD target HTTP/1.1\r\n`, the fields as given, and the empty
/// line. The caller decides framing headers (Content-Length / TE / Host).
/// Bytes in `path_and_query` that are not allowed in a request-target
/// (controls, SP, DEL, non-ASCII) are percent-encoded so the output can never
/// be split; an empty target is written as `/`.
pub fn encode_request_head(
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    extras: HeadExtras,
    buf: &mut BytesMut,
) {
    let target = path_and_query.as_bytes();
    let method = method.as_str().as_bytes();
    buf.reserve(method.len() + target.len() + 14 + fields_len(headers));
    buf.put_slice(method);
    buf.put_u8(b' ');
    if target.is_empty() {
        buf.put_u8(b'/');
    } else if target.iter().all(|&b| is_target_byte(b)) {
        buf.put_slice(target);
    } else {
        for &b in target {
            if is_target_byte(b) {
                buf.put_u8(b);
            } else {
                buf.put_slice(&[b'%', hex_digit(b >> 4), hex_digit(b & 0xf)]);
            }
        }
    }
    buf.put_slice(b" HTTP/1.1\r\n");
    put_fields(headers, buf);
    put_extras(extras, buf);
    buf.put_slice(b"\r\n");
}

/// Appends `HTTP/1.1 <code> <canonical reason>\r\n`, the fields and the
/// empty line. Unknown codes get an empty reason (`HTTP/1.1 599 \r\n`).
pub fn encode_response_head(
    status: StatusCode,
    headers: &HeaderMap,
    extras: HeadExtras,
    buf: &mut BytesMut,
) {
    let reason = status.canonical_reason().unwrap_or("").as_bytes();
    buf.reserve(15 + reason.len() + fields_len(headers));
    buf.put_slice(b"HTTP/1.1 ");
    buf.put_slice(status.as_str().as_bytes());
    buf.put_u8(b' ');
    buf.put_slice(reason);
    buf.put_slice(b"\r\n");
    put_fields(headers, buf);
    put_extras(extras, buf);
    buf.put_slice(b"\r\n");
}

fn put_extras(extras: HeadExtras, buf: &mut BytesMut) {
    match extras.framing {
        FramingField::None => {}
        FramingField::Length(n) => {
            buf.put_slice(b"content-length: ");
            put_decimal(n, buf);
            buf.put_slice(b"\r\n");
        }
        FramingField::Chunked => buf.put_slice(b"transfer-encoding: chunked\r\n"),
    }
    match extras.connection {
        None => {}
        Some(ConnectionField::Close) => buf.put_slice(b"connection: close\r\n"),
        Some(ConnectionField::KeepAlive) => buf.put_slice(b"connection: keep-alive\r\n"),
    }
}

fn put_decimal(mut n: u64, buf: &mut BytesMut) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        if let Some(d) = digits.get_mut(start) {
            // `n % 10` is always < 10.
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || start == 0 {
            break;
        }
    }
    buf.put_slice(digits.get(start..).unwrap_or_default());
}

/// Appends one chunk: hex size, CRLF, data, CRLF. Empty data writes nothing
/// (a zero-size chunk would end the body).
pub fn encode_chunk(data: &[u8], buf: &mut BytesMut) {
    if data.is_empty() {
        return;
    }
    let mut digits = [0u8; 16];
    let mut n = data.len();
    let mut start = digits.len();
    while n > 0 && start > 0 {
        start -= 1;
        if let Some(d) = digits.get_mut(start) {
            // `n & 0xf` is always < 16.
            *d = hex_digit((n & 0xf) as u8);
        }
        n >>= 4;
    }
    let size = digits.get(start..).unwrap_or_default();
    buf.reserve(size.len() + data.len() + 4);
    buf.put_slice(size);
    buf.put_slice(b"\r\n");
    buf.put_slice(data);
    buf.put_slice(b"\r\n");
}

/// Appends the last chunk `0\r\n`, optional trailer fields and the empty line.
pub fn encode_last_chunk(trailers: Option<&HeaderMap>, buf: &mut BytesMut) {
    buf.reserve(5 + trailers.map_or(0, fields_len));
    buf.put_slice(b"0\r\n");
    if let Some(trailers) = trailers {
        put_fields(trailers, buf);
    }
    buf.put_slice(b"\r\n");
}

fn fields_len(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .fold(0usize, usize::saturating_add)
}

fn put_fields(headers: &HeaderMap, buf: &mut BytesMut) {
    for (name, value) in headers {
        buf.put_slice(name.as_str().as_bytes());
        buf.put_slice(b": ");
        buf.put_slice(value.as_bytes());
        buf.put_slice(b"\r\n");
    }
}

fn is_target_byte(b: u8) -> bool {
    (0x21..0x7f).contains(&b) && b != b'#'
}

fn hex_digit(n: u8) -> u8 {
    match n {
        0..=9 => b'0' + n,
        _ => b'a' + (n & 0xf).saturating_sub(10),
    }
}
