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
