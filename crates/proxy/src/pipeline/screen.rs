//! Request fields screened once the route is known, before its policies
//! run, so nothing a policy or the upstream relies on can be got around:
//!
//! - An `Upgrade` to a protocol the route does not allow
//!   (`forwarding.upgrades`, never `h2c`) makes the request a plain one:
//!   `Upgrade` and `Connection: upgrade` are not forwarded, and an upstream
//!   that switches anyway is an error.
//! - Field names containing `_`: CGI/WSGI-style upstreams read
//!   `X_Forwarded_For` as `X-Forwarded-For`. By default such fields are
//!   dropped (as nginx does) and counted in the access log; a listener with
//!   `keep_underscore_headers` forwards them; a route with
//!   `refuse_underscore_headers` answers 400. Whatever the options, a field
//!   that differs from one tollgate sets or strips only by `_`/`-` or case
//!   is removed ([`crate::forward::is_managed_lookalike`]).
//!
//! The common case costs one scan of the name bytes per field; nothing is
//! allocated unless a field goes.

use http::header::{self, HeaderMap, HeaderName};
use tollgate_config::Forwarding;
use tollgate_core::{ErrorKind, ProxyError};

use super::Incoming;
#[cfg(doc)]
use crate::forward::is_managed_lookalike;

/// Forwards an upgrade request as a plain one unless the route allows every
/// protocol its `Upgrade` field offers.
pub(super) fn upgrade(req: &mut Incoming<'_>, rules: &Forwarding) {
    if !req.upgrade {
        return;
    }
    let allowed = req
        .headers
        .get_all(header::UPGRADE)
        .iter()
        .all(|v| v.to_str().is_ok_and(|v| rules.upgrade_allowed(v)));
    if !allowed {
        // The forwarding rules then strip Upgrade and the Connection
        // field with everything it names (HTTP2-Settings too).
        req.upgrade = false;
    }
}

fn has_underscore(name: &HeaderName) -> bool {
    name.as_str().as_bytes().contains(&b'_')
}

/// Applies the `_` rules to `headers`; the number of fields removed, or a
/// 400 when the route refuses such requests. `managed` tells the names
/// always removed ([`is_managed_lookalike`] with the names this request's
/// configuration adds: request id, client certificate fields).
pub(super) fn underscores(
    headers: &mut HeaderMap,
    keep: bool,
    refuse: bool,
    managed: impl Fn(&HeaderName) -> bool,
) -> Result<u16, ProxyError> {
    if !headers.keys().any(has_underscore) {
        return Ok(0);
    }
    if refuse {
        return Err(ProxyError::client(
            ErrorKind::BadRequest,
            "header field names containing `_` are refused on this route",
        ));
    }
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|n| has_underscore(n) && (!keep || managed(n)))
        .cloned()
        .collect();
    for name in &doomed {
        headers.remove(name);
    }
    Ok(u16::try_from(doomed.len()).unwrap_or(u16::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forward::is_managed_lookalike;
    use http::HeaderValue;

    fn managed(n: &HeaderName) -> bool {
        is_managed_lookalike(n, [&HeaderName::from_static("x-client-cert-subject")])
    }

    fn map(names: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for n in names {
            h.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_static("v"),
            );
        }
        h
    }

    #[test]
    fn dropped_by_default_and_counted() {
        let mut h = map(&["x_forwarded_for", "my_field", "my_field", "plain"]);
        assert_eq!(underscores(&mut h, false, false, managed).unwrap(), 2);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("plain"));
    }

    #[test]
    fn kept_except_lookalikes_of_managed_fields() {
        let mut h = map(&[
            "x_forwarded_for",
            "X_Forwarded-Proto",
            "transfer_encoding",
            "x_client_cert_subject",
            "my_field",
        ]);
        assert_eq!(underscores(&mut h, true, false, managed).unwrap(), 4);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("my_field"));
    }

    #[test]
    fn refused_when_the_route_says_so() {
        let mut h = map(&["ok", "a_b"]);
        let e = underscores(&mut h, true, true, managed).unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadRequest);
        let mut clean = map(&["ok"]);
        assert_eq!(underscores(&mut clean, false, true, managed).unwrap(), 0);
    }
}
