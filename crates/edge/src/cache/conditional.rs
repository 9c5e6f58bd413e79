//! Conditional requests answered from a stored answer (RFC 9110 §13):
//! If-None-Match (weak comparison), If-Modified-Since, If-Range (strong),
//! decided with the shared [`crate::validators`].

use http::header::{IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE};
use http::{HeaderMap, HeaderValue, Method};

use super::entry::Entry;
use super::freshness::{date_field, secs};
use crate::validators::{self, date_secs, list_matches};

/// Whether a GET or HEAD request's own conditionals make the stored answer
/// "not modified" for it (RFC 9110 §13.2.2; §13.1.3 for dates, using the
/// stored Last-Modified or else its Date, RFC 9111 §4.3.2).
pub fn not_modified(method: &Method, headers: &HeaderMap, entry: &Entry) -> bool {
    if !(method == Method::GET || method == Method::HEAD) || !entry.status.is_success() {
        return false;
    }
    if headers.contains_key(IF_NONE_MATCH) {
        let etag = entry.etag().map(HeaderValue::as_bytes);
        return headers
            .get_all(IF_NONE_MATCH)
            .iter()
            .any(|v| list_matches(v.as_bytes(), etag, false));
    }
    let Some(since) = headers.get(IF_MODIFIED_SINCE).and_then(date_secs) else {
        return false;
    };
    let modified = entry
        .last_modified
        .or_else(|| date_field(&entry.headers, &http::header::DATE));
    modified.is_some_and(|m| secs(m) <= since)
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
    validators::if_range_holds(
        v,
        entry.etag().map(HeaderValue::as_bytes),
        entry.last_modified.map(secs),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::control::ResponseDirectives;
    use crate::cache::entry::Storing;
    use crate::cache::freshness::Heuristic;
    use crate::test_support::headers;
    use http::{HeaderName, StatusCode};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    fn t(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    fn date(s: u64) -> String {
        let mut out = String::new();
        tollgate_core::format_http_date(t(s), &mut out);
        out
    }

    fn entry(fields: &[(&str, &str)]) -> Entry {
        let storing = Storing {
            heuristic: Heuristic {
                percent: 10,
                max: Duration::from_secs(60),
            },
            id_header: HeaderName::from_static("x-request-id"),
            targeted: std::sync::Arc::from([]),
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
