//! Conditional requests answered from a stored answer (RFC 9110 §13):
//! If-None-Match (weak comparison), If-Modified-Since, If-Range (strong).

use std::time::SystemTime;

use http::header::{IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE};
use http::{HeaderMap, HeaderValue, Method};

use super::entry::Entry;
use super::freshness::{date_field, secs};

/// Splits an entity tag into (weak, opaque-tag with quotes); `None` when malformed.
fn parse_etag(tag: &[u8]) -> Option<(bool, &[u8])> {
    let tag = tag.trim_ascii();
    let (weak, rest) = match tag.strip_prefix(b"W/") {
        Some(rest) => (true, rest),
        None => (false, tag),
    };
    (rest.len() >= 2 && rest[0] == b'"' && rest[rest.len() - 1] == b'"').then_some((weak, rest))
}

/// Weak comparison: the opaque tags are equal, weakness ignored.
pub fn weak_match(a: &[u8], b: &[u8]) -> bool {
    matches!((parse_etag(a), parse_etag(b)), (Some((_, x)), Some((_, y))) if x == y)
}

/// Strong comparison: both strong and equal.
pub fn strong_match(a: &[u8], b: &[u8]) -> bool {
    matches!((parse_etag(a), parse_etag(b)), (Some((false, x)), Some((false, y))) if x == y)
}

/// Whether an If-None-Match list (`*` or tags, possibly over several
/// fields) matches `etag`.
fn none_match_hits(headers: &HeaderMap, etag: Option<&HeaderValue>) -> bool {
    headers.get_all(IF_NONE_MATCH).iter().any(|v| {
        let list = v.as_bytes();
        if list.trim_ascii() == b"*" {
            return true;
        }
        let Some(etag) = etag else { return false };
        split_tags(list).any(|t| weak_match(t, etag.as_bytes()))
    })
}

/// The entity tags of a list; commas inside quotes do not split.
fn split_tags(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = list;
    std::iter::from_fn(move || {
        loop {
            rest = rest.trim_ascii_start();
            while let [b',', r @ ..] = rest {
                rest = r.trim_ascii_start();
            }
            if rest.is_empty() {
                return None;
            }
            let start = usize::from(rest.starts_with(b"W/")) * 2;
            if rest.get(start) != Some(&b'"') {
                // Not a tag: skip to the next comma.
                let next = rest
                    .iter()
                    .position(|b| *b == b',')
                    .map_or(rest.len(), |i| i + 1);
                rest = &rest[next..];
                continue;
            }
            let close = rest[start + 1..].iter().position(|b| *b == b'"');
            let Some(close) = close else {
                rest = &[];
                return None;
            };
            let end = start + 1 + close + 1;
            let tag = &rest[..end];
            rest = &rest[end..];
            return Some(tag);
        }
    })
}

/// Whether a GET or HEAD request's own conditionals make the stored answer
/// "not modified" for it (RFC 9110 §13.2.2; §13.1.3 for dates, using the
/// stored Last-Modified or else its Date, RFC 9111 §4.3.2).
pub fn not_modified(method: &Method, headers: &HeaderMap, entry: &Entry) -> bool {
    if !(method == Method::GET || method == Method::HEAD) || !entry.status.is_success() {
        return false;
    }
    if headers.contains_key(IF_NONE_MATCH) {
        return none_match_hits(headers, entry.etag());
    }
    let Some(since) = date_field(headers, &IF_MODIFIED_SINCE) else {
        return false;
    };
    let modified = entry
        .last_modified
        .or_else(|| date_field(&entry.headers, &http::header::DATE));
    modified.is_some_and(|m| secs(m) <= secs(since))
}

/// Whether the request has conditionals of its own (If-None-Match or If-Modified-Since).
pub fn is_conditional(headers: &HeaderMap) -> bool {
    headers.contains_key(IF_NONE_MATCH) || headers.contains_key(IF_MODIFIED_SINCE)
}

/// Whether an If-Range allows serving a range of the stored answer: a
/// strong ETag equal to the stored one, or exactly the stored Last-Modified.
pub fn if_range_holds(headers: &HeaderMap, entry: &Entry) -> bool {
    let Some(v) = headers.get(IF_RANGE) else {
        return true;
    };
    let b = v.as_bytes().trim_ascii();
    if b.starts_with(b"\"") || b.starts_with(b"W/") {
        return entry.etag().is_some_and(|e| strong_match(b, e.as_bytes()));
    }
    let Some(date) = v.to_str().ok().and_then(tollgate_core::parse_http_date) else {
        return false;
    };
    entry
        .last_modified
        .is_some_and(|lm: SystemTime| secs(lm) == secs(date))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::control::ResponseDirectives;
    use crate::cache::entry::Storing;
    use crate::cache::freshness::Heuristic;
    use http::{HeaderName, StatusCode};
    use std::time::{Duration, UNIX_EPOCH};

    fn t(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    fn date(s: u64) -> String {
        let mut out = String::new();
        tollgate_core::format_http_date(t(s), &mut out);
        out
    }

    fn headers(fields: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in fields {
            h.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn entry(fields: &[(&str, &str)]) -> Entry {
        let storing = Storing {
            heuristic: Heuristic {
                percent: 10,
                max: Duration::from_secs(60),
            },
            id_header: HeaderName::from_static("x-request-id"),
        };
        Entry::new(
            StatusCode::OK,
            &headers(fields),
            &ResponseDirectives::default(),
            t(1),
            t(1),
            &storing,
        )
    }

    #[test]
    fn etag_comparisons() {
        assert!(weak_match(b"W/\"a\"", b"\"a\""));
        assert!(!strong_match(b"W/\"a\"", b"\"a\""));
        assert!(strong_match(b"\"a\"", b" \"a\""));
        assert!(!weak_match(b"\"a\"", b"\"b\""));
        assert!(!weak_match(b"a", b"a"));
        let tags: Vec<&[u8]> = split_tags(b" \"a\", W/\"b,c\" ,junk, \"d\"").collect();
        assert_eq!(tags, [&b"\"a\""[..], b"W/\"b,c\"", b"\"d\""]);
        assert_eq!(split_tags(b"\"open").count(), 0);
    }

    #[test]
    fn if_none_match_and_if_modified_since() {
        let lm = date(1_000_000);
        let e = entry(&[("etag", "W/\"v1\""), ("last-modified", &lm)]);
        let get = Method::GET;
        assert!(not_modified(
            &get,
            &headers(&[("if-none-match", "\"x\", \"v1\"")]),
            &e
        ));
        assert!(not_modified(&get, &headers(&[("if-none-match", "*")]), &e));
        assert!(!not_modified(
            &get,
            &headers(&[("if-none-match", "\"x\"")]),
            &e
        ));
        assert!(!not_modified(
            &Method::POST,
            &headers(&[("if-none-match", "*")]),
            &e
        ));
        // If-None-Match wins over If-Modified-Since.
        let later = date(2_000_000);
        assert!(!not_modified(
            &get,
            &headers(&[("if-none-match", "\"x\""), ("if-modified-since", &later)]),
            &e
        ));
        assert!(not_modified(
            &get,
            &headers(&[("if-modified-since", &later)]),
            &e
        ));
        assert!(not_modified(
            &get,
            &headers(&[("if-modified-since", &lm)]),
            &e
        ));
        let earlier = date(999_999);
        assert!(!not_modified(
            &get,
            &headers(&[("if-modified-since", &earlier)]),
            &e
        ));
        assert!(!not_modified(
            &get,
            &headers(&[("if-modified-since", "yesterday")]),
            &e
        ));
    }

    #[test]
    fn if_range() {
        let lm = date(1_000_000);
        let strong = entry(&[("etag", "\"v1\""), ("last-modified", &lm)]);
        let weak = entry(&[("etag", "W/\"v1\"")]);
        assert!(if_range_holds(&headers(&[]), &strong));
        assert!(if_range_holds(&headers(&[("if-range", "\"v1\"")]), &strong));
        assert!(!if_range_holds(
            &headers(&[("if-range", "\"v2\"")]),
            &strong
        ));
        assert!(!if_range_holds(
            &headers(&[("if-range", "W/\"v1\"")]),
            &weak
        ));
        assert!(if_range_holds(&headers(&[("if-range", &lm)]), &strong));
        assert!(!if_range_holds(
            &headers(&[("if-range", "garbage")]),
            &strong
        ));
    }
}
