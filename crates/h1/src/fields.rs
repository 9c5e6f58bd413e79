//! Shared header-section rules: line endings, field collection into a
//! [`HeaderMap`], and extraction of the fields that decide framing and
//! connection handling (Content-Length, Transfer-Encoding, Host, Connection,
//! Expect, Upgrade).

use std::mem::MaybeUninit;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::error::HeadError;

/// Header slots kept on the stack; heads with more fields use the heap.
const STACK_HEADERS: usize = 128;

/// Runs `parse` with slots for `max` header fields: on the stack first, and
/// on the heap only when a head has more fields than the stack holds (a
/// limit above it, as for upstream answers, would otherwise allocate
/// `max` slots for every head).
pub(crate) fn with_header_slots<'b, T>(
    max: usize,
    mut parse: impl FnMut(&mut [MaybeUninit<httparse::Header<'b>>]) -> Result<T, HeadError>,
) -> Result<T, HeadError> {
    let mut stack = [const { MaybeUninit::<httparse::Header<'b>>::uninit() }; STACK_HEADERS];
    let first = parse(stack.get_mut(..max.min(STACK_HEADERS)).unwrap_or_default());
    if max <= STACK_HEADERS || !matches!(first, Err(HeadError::TooManyHeaders)) {
        return first;
    }
    let mut heap = Vec::new();
    heap.resize_with(max, MaybeUninit::uninit);
    parse(&mut heap)
}

/// Rejects any LF that is not preceded by CR. httparse accepts bare-LF line
/// endings; RFC 9112 §2.2 lets us reject them and doing so closes a class of
/// smuggling bugs. (Bare CR is already rejected by httparse everywhere.)
pub(crate) fn check_line_endings(head: &[u8]) -> Result<(), HeadError> {
    // Branch-free over byte pairs so it vectorizes (a memchr loop costs a
    // call per line).
    let rest = head.get(1..).unwrap_or_default();
    let bad = head
        .iter()
        .zip(rest)
        .fold(head.first() == Some(&b'\n'), |bad, (&prev, &b)| {
            bad | ((b == b'\n') & (prev != b'\r'))
        });
    if bad {
        Err(HeadError::BareLf)
    } else {
        Ok(())
    }
}

/// Maps an httparse error met in the header section (or a generic one) to a
/// [`HeadError`], diagnosing the common smuggling shapes for a clearer message.
pub(crate) fn header_error(err: httparse::Error, buf: &[u8]) -> HeadError {
    match err {
        httparse::Error::HeaderName => diagnose_header_name(buf),
        httparse::Error::HeaderValue if has_bare_cr(buf) => HeadError::BareCr,
        httparse::Error::HeaderValue => HeadError::InvalidHeaderValue,
        httparse::Error::NewLine => HeadError::BareCr,
        httparse::Error::TooManyHeaders => HeadError::TooManyHeaders,
        httparse::Error::Version => HeadError::InvalidVersion,
        httparse::Error::Status => HeadError::InvalidStatusLine,
        httparse::Error::Token => HeadError::InvalidTarget,
    }
}

/// Error path only: a CR followed by something other than LF.
fn has_bare_cr(buf: &[u8]) -> bool {
    memchr::memchr_iter(b'\r', buf).any(|i| matches!(buf.get(i + 1), Some(&b) if b != b'\n'))
}

/// Error path only: finds out why httparse rejected a field name.
fn diagnose_header_name(buf: &[u8]) -> HeadError {
    let mut lines = buf
        .split(|&b| b == b'\n')
        .skip_while(|l| l.is_empty() || *l == b"\r");
    let _start_line = lines.next();
    for line in lines {
        match line.first() {
            Some(b' ' | b'\t') => return HeadError::ObsFold,
            Some(b'\r') | None => break,
            Some(_) => {}
        }
        let name_len = line.iter().take_while(|&&b| is_tchar(b)).count();
        let rest = line.get(name_len..).unwrap_or_default();
        if name_len > 0 && matches!(rest.first(), Some(b' ' | b'\t')) {
            let after = rest.iter().position(|&b| b != b' ' && b != b'\t');
            if after.and_then(|i| rest.get(i)) == Some(&b':') {
                return HeadError::WhitespaceBeforeColon;
            }
        }
    }
    HeadError::InvalidHeaderName
}

/// RFC 9110 `tchar`.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// Byte range of `part` inside `base`, if `part` points into it.
pub(crate) fn range_in(base: &[u8], part: &[u8]) -> Option<std::ops::Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(base.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= base.len()).then_some(start..end)
}

/// Shares `part` (a sub-slice of `base`) out of `shared`, a copy of `base`.
pub(crate) fn share(base: &[u8], shared: &Bytes, part: &[u8]) -> Option<Bytes> {
    let range = range_in(base, part)?;
    (range.end <= shared.len()).then(|| shared.slice(range))
}

/// Transfer-Encoding as seen across all its field lines.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TransferCodings {
    /// At least one Transfer-Encoding field line was present.
    pub(crate) present: bool,
    /// How many `chunked` codings were listed.
    pub(crate) chunked: usize,
    /// How many other codings were listed.
    pub(crate) other: usize,
    /// The last listed coding is `chunked`.
    pub(crate) last_is_chunked: bool,
    /// A list element was not a valid token (with optional parameters).
    pub(crate) malformed: bool,
}

/// The `Expect` field as seen across its field lines.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expectation {
    /// No Expect field.
    #[default]
    None,
    /// Only `100-continue`.
    Continue,
    /// Anything else.
    Other,
}

/// A validated header section plus the facts needed for framing.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    pub(crate) map: HeaderMap,
    pub(crate) content_length: Option<u64>,
    /// Content-Length came as a list or in several lines (identical values).
    pub(crate) content_length_repeated: bool,
    pub(crate) transfer: TransferCodings,
    pub(crate) host_count: usize,
    pub(crate) host: Option<HeaderValue>,
    pub(crate) conn_close: bool,
    pub(crate) conn_keep_alive: bool,
    pub(crate) conn_upgrade: bool,
    pub(crate) upgrade_present: bool,
    pub(crate) expect: Expectation,
}

impl Fields {
    /// Builds the map from httparse headers whose slices point into `base`;
    /// values are shared out of `shared` (a copy of `base`) without copying.
    /// `room`: fields the caller expects to add, so the map is sized once
    /// rather than grown and rehashed on the way out.
    pub(crate) fn collect(
        headers: &[httparse::Header<'_>],
        base: &[u8],
        shared: &Bytes,
        room: usize,
    ) -> Result<Fields, HeadError> {
        let mut f = Fields {
            map: HeaderMap::with_capacity(headers.len() + room),
            ..Fields::default()
        };
        for h in headers {
            let name = HeaderName::from_bytes(h.name.as_bytes())
                .map_err(|_| HeadError::InvalidHeaderName)?;
            let bytes = share(base, shared, h.value).ok_or(HeadError::InvalidHeaderValue)?;
            let value =
                HeaderValue::from_maybe_shared(bytes).map_err(|_| HeadError::InvalidHeaderValue)?;
            f.note(&name, &value)?;
            f.map.append(name, value);
        }
        if f.content_length_repeated {
            if let Some(n) = f.content_length {
                f.map.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
            }
        }
        Ok(f)
    }

    /// Builds a map from trailer lines (copying values; trailers are rare).
    pub(crate) fn collect_copied(headers: &[httparse::Header<'_>]) -> Option<HeaderMap> {
        let mut map = HeaderMap::with_capacity(headers.len());
        for h in headers {
            let name = HeaderName::from_bytes(h.name.as_bytes()).ok()?;
            let value = HeaderValue::from_bytes(h.value).ok()?;
            map.append(name, value);
        }
        Some(map)
    }

    fn note(&mut self, name: &HeaderName, value: &HeaderValue) -> Result<(), HeadError> {
        let v = value.as_bytes();
        if *name == header::CONTENT_LENGTH {
            if self.content_length.is_some() {
                self.content_length_repeated = true;
            }
            let listed = parse_content_length(v, &mut self.content_length)?;
            self.content_length_repeated |= listed;
        } else if *name == header::TRANSFER_ENCODING {
            note_transfer_codings(v, &mut self.transfer);
        } else if *name == header::HOST {
            self.host_count += 1;
            if self.host.is_none() {
                self.host = Some(value.clone());
            }
        } else if *name == header::CONNECTION {
            for token in list_elements(v) {
                if token.eq_ignore_ascii_case(b"close") {
                    self.conn_close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    self.conn_keep_alive = true;
                } else if token.eq_ignore_ascii_case(b"upgrade") {
                    self.conn_upgrade = true;
                }
            }
        } else if *name == header::EXPECT {
            self.expect = if trim_ows(v).eq_ignore_ascii_case(b"100-continue")
                && self.expect != Expectation::Other
            {
                Expectation::Continue
            } else {
                Expectation::Other
            };
        } else if *name == header::UPGRADE {
            self.upgrade_present = true;
        }
        Ok(())
    }
}

/// Trims optional whitespace (SP / HTAB) at both ends.
pub(crate) fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// Non-empty, OWS-trimmed elements of a comma-separated list.
fn list_elements(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b',')
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

/// Parses one Content-Length field value (possibly a list). Every element
/// must be 1*DIGIT without overflow and equal to any value seen before.
/// Returns whether the value was a list of more than one element.
fn parse_content_length(v: &[u8], seen: &mut Option<u64>) -> Result<bool, HeadError> {
    let mut count = 0usize;
    for element in v.split(|&b| b == b',') {
        let digits = trim_ows(element);
        if digits.is_empty() {
            return Err(HeadError::InvalidContentLength);
        }
        let mut n: u64 = 0;
        for &d in digits {
            if !d.is_ascii_digit() {
                return Err(HeadError::InvalidContentLength);
            }
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .ok_or(HeadError::InvalidContentLength)?;
        }
        match *seen {
            Some(prev) if prev != n => return Err(HeadError::ConflictingContentLength),
            _ => *seen = Some(n),
        }
        count += 1;
    }
    Ok(count > 1)
}

fn note_transfer_codings(v: &[u8], te: &mut TransferCodings) {
    te.present = true;
    for coding in list_elements(v) {
        if coding.eq_ignore_ascii_case(b"chunked") {
            te.chunked += 1;
            te.last_is_chunked = true;
        } else {
            let name_end = coding
                .iter()
                .position(|&b| b == b';')
                .unwrap_or(coding.len());
            let name = trim_ows(coding.get(..name_end).unwrap_or_default());
            if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
                te.malformed = true;
            }
            te.other += 1;
            te.last_is_chunked = false;
        }
    }
}

/// RFC 9110 §7.2 `Host = uri-host [ ":" port ]`; empty is allowed (§7.2).
pub(crate) fn valid_host(v: &[u8]) -> bool {
    if v.is_empty() {
        return true;
    }
    let (host, port) = if v.first() == Some(&b'[') {
        let Some(close) = v.iter().position(|&b| b == b']') else {
            return false;
        };
        let inner = v.get(1..close).unwrap_or_default();
        if inner.is_empty()
            || !inner
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.' | b'v' | b'V'))
        {
            return false;
        }
        match v.get(close + 1..).unwrap_or_default() {
            [] => (&v[..0], None),
            [b':', port @ ..] => (&v[..0], Some(port)),
            _ => return false,
        }
    } else {
        match v.iter().rposition(|&b| b == b':') {
            Some(i) => (v.get(..i).unwrap_or_default(), v.get(i + 1..)),
            None => (v, None),
        }
    };
    let host_ok = host.iter().all(|&b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'%'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
            )
    });
    let port_ok = match port {
        None => true,
        Some(p) => p.len() <= 5 && p.iter().all(u8::is_ascii_digit) && parse_port(p).is_some(),
    };
    host_ok && port_ok && (!host.is_empty() || v.first() == Some(&b'['))
}

fn parse_port(p: &[u8]) -> Option<u16> {
    std::str::from_utf8(p)
        .ok()?
        .parse()
        .ok()
        .or(p.is_empty().then_some(0))
}
