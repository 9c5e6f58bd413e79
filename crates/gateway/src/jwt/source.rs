//! Where a request carries its token: `Authorization: Bearer` (RFC 6750
//! §2.1, scheme without case), or a configured header, query parameter or
//! cookie. The token is left in the request (upstreams may want it).

use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderMap, Uri};
use tollgate_config::TokenSource;

/// A credential was sent where the token belongs but cannot be one
/// (another scheme, several `Authorization` fields, not text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAToken;

/// The token the request carries, if any.
pub fn token<'r>(
    source: &TokenSource,
    headers: &'r HeaderMap,
    uri: &'r Uri,
) -> Result<Option<&'r str>, NotAToken> {
    match source {
        TokenSource::Bearer => {
            let mut values = headers.get_all(AUTHORIZATION).iter();
            let Some(v) = values.next() else {
                return Ok(None);
            };
            if values.next().is_some() {
                return Err(NotAToken);
            }
            // UTF-8 is checked a word at a time (`to_str` tests each of a
            // token's ~700 bytes); what is not base64url fails to parse.
            let v = std::str::from_utf8(v.as_bytes()).map_err(|_| NotAToken)?;
            let (scheme, rest) = v.split_once(' ').ok_or(NotAToken)?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(NotAToken);
            }
            let t = rest.trim_matches(' ');
            if t.is_empty() {
                Err(NotAToken)
            } else {
                Ok(Some(t))
            }
        }
        TokenSource::Header(name) => match headers.get(name) {
            None => Ok(None),
            Some(v) => v.to_str().map(|s| Some(s.trim())).map_err(|_| NotAToken),
        },
        TokenSource::Query(name) => Ok(uri.query().and_then(|q| {
            q.split('&')
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k == name)
                .map(|(_, v)| v)
        })),
        TokenSource::Cookie(name) => Ok(headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn bearer_tokens_and_other_sources() {
        let uri: Uri = "/?a=1&t=tok.en.x".parse().unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(token(&TokenSource::Bearer, &h, &uri), Ok(None));
        h.insert(AUTHORIZATION, HeaderValue::from_static("bearer  a.b.c"));
        assert_eq!(token(&TokenSource::Bearer, &h, &uri), Ok(Some("a.b.c")));
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Basic dXNlcjpwdw=="),
        );
        assert_eq!(token(&TokenSource::Bearer, &h, &uri), Err(NotAToken));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(token(&TokenSource::Bearer, &h, &uri), Err(NotAToken));
        let not_utf8 = HeaderValue::from_bytes(b"Bearer a.b\xff").unwrap();
        h.insert(AUTHORIZATION, not_utf8);
        assert_eq!(token(&TokenSource::Bearer, &h, &uri), Err(NotAToken));
        assert_eq!(
            token(&TokenSource::Query("t".into()), &h, &uri),
            Ok(Some("tok.en.x"))
        );
        h.insert(COOKIE, HeaderValue::from_static("x=1; jwt=c.o.k"));
        assert_eq!(
            token(&TokenSource::Cookie("jwt".into()), &h, &uri),
            Ok(Some("c.o.k"))
        );
    }
}
