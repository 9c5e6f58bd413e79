//! The `security_headers` policy: fixed response fields (nosniff, frame
//! options, referrer policy, CSP), and HSTS on answers to requests that
//! came over TLS (a browser ignores HSTS over plain HTTP, and sending it
//! there would pin nothing). A field the answer already has is kept unless
//! `overwrite` is set.

use http::header;
use http::HeaderMap;
use tollgate_config::SecurityHeaders;

/// Adds the fields; `tls` tells whether the request came over TLS.
pub(super) fn on_response(rules: &SecurityHeaders, tls: bool, headers: &mut HeaderMap) {
    let hsts = rules
        .hsts
        .as_ref()
        .filter(|_| tls)
        .map(|v| (header::STRICT_TRANSPORT_SECURITY, v));
    let fields = rules.fields.iter().map(|(n, v)| (n.clone(), v));
    for (name, value) in hsts.into_iter().chain(fields) {
        if rules.overwrite || !headers.contains_key(&name) {
            headers.insert(name, value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderName, HeaderValue};

    fn rules(overwrite: bool) -> SecurityHeaders {
        SecurityHeaders {
            hsts: Some(HeaderValue::from_static("max-age=60")),
            fields: vec![(
                HeaderName::from_static("x-frame-options"),
                HeaderValue::from_static("DENY"),
            )],
            overwrite,
        }
    }

    #[test]
    fn hsts_only_over_tls_and_existing_fields_kept() {
        let mut h = HeaderMap::new();
        h.insert("x-frame-options", HeaderValue::from_static("SAMEORIGIN"));
        on_response(&rules(false), false, &mut h);
        assert!(!h.contains_key("strict-transport-security"));
        assert_eq!(h["x-frame-options"], "SAMEORIGIN");
        on_response(&rules(false), true, &mut h);
        assert_eq!(h["strict-transport-security"], "max-age=60");
        let mut h = HeaderMap::new();
        h.insert(
            "strict-transport-security",
            HeaderValue::from_static("max-age=1"),
        );
        h.insert("x-frame-options", HeaderValue::from_static("SAMEORIGIN"));
        on_response(&rules(true), true, &mut h);
        assert_eq!(h["strict-transport-security"], "max-age=60");
        assert_eq!(h["x-frame-options"], "DENY");
    }
}
