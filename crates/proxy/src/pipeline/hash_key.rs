//! The bytes a consistent hash is computed from: a header, a cookie, a
//! query parameter, the path or the client address.

use http::header::{self, HeaderValue};
use tollgate_config::HashOn;

use super::Incoming;

/// The bytes a consistent hash is computed from, when the request has them
/// (without, the balancer falls back to round robin). Borrows from the
/// request; the client address is written into `ip_key`.
pub(super) fn hash_key<'r>(
    on: &HashOn,
    req: &'r Incoming<'_>,
    ip_key: &'r mut [u8; 16],
) -> Option<&'r [u8]> {
    match on {
        HashOn::Header(name) => req.headers.get(name).map(HeaderValue::as_bytes),
        HashOn::Cookie(name) => req
            .headers
            .get_all(header::COOKIE)
            .iter()
            .find_map(|v| cookie_value(v.as_bytes(), name.as_bytes())),
        HashOn::Query(name) => query_value(req.uri.query()?, name),
        HashOn::Path => Some(req.uri.path().as_bytes()),
        HashOn::ClientIp => match req.client.peer.ip().to_canonical() {
            std::net::IpAddr::V4(v4) => {
                let (head, _) = ip_key.split_at_mut(4);
                head.copy_from_slice(&v4.octets());
                Some(head)
            }
            std::net::IpAddr::V6(v6) => {
                *ip_key = v6.octets();
                Some(&ip_key[..])
            }
        },
    }
}

/// The value of cookie `name` in a `Cookie` field (`a=1; b=2`), without
/// surrounding quotes.
pub(super) fn cookie_value<'v>(field: &'v [u8], name: &[u8]) -> Option<&'v [u8]> {
    field.split(|&b| b == b';').find_map(|pair| {
        let pair = pair.trim_ascii();
        let eq = pair.iter().position(|&b| b == b'=')?;
        let (n, v) = (&pair[..eq], &pair[eq + 1..]);
        if n.trim_ascii() != name {
            return None;
        }
        let v = v.trim_ascii();
        Some(
            v.strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
                .unwrap_or(v),
        )
    })
}

/// The value of the first query parameter `name` (compared and returned as
/// sent, not percent-decoded); a parameter without `=` has an empty value.
fn query_value<'q>(query: &'q str, name: &str) -> Option<&'q [u8]> {
    query.split('&').find_map(|pair| {
        let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
        (n == name).then_some(v.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_and_query_values() {
        let field = b"a=1; sid=\"xyz\";  other = 2 ;empty=;noeq";
        assert_eq!(cookie_value(field, b"a"), Some(&b"1"[..]));
        assert_eq!(cookie_value(field, b"sid"), Some(&b"xyz"[..]));
        assert_eq!(cookie_value(field, b"other"), Some(&b"2"[..]));
        assert_eq!(cookie_value(field, b"empty"), Some(&b""[..]));
        assert_eq!(cookie_value(field, b"noeq"), None);
        assert_eq!(cookie_value(field, b"b"), None);
        assert_eq!(cookie_value(b"", b"a"), None);

        assert_eq!(query_value("a=1&t=x%20y&t=2&f", "t"), Some(&b"x%20y"[..]));
        assert_eq!(query_value("a=1&f", "f"), Some(&b""[..]));
        assert_eq!(query_value("a=1", "b"), None);
    }
}
