//! Helpers for the unit tests of this crate.

use http::{HeaderMap, HeaderName, HeaderValue};

/// A header map with `fields` appended in order (repeats kept).
pub(crate) fn headers(fields: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (n, v) in fields {
        h.append(
            HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}
