//! Cache keys: the primary key (scheme, host, path, query and configured
//! extras; the method is not part of it, so GET and HEAD share entries) and
//! the secondary key of a variant, made of the request fields its answer's
//! `Vary` names (RFC 9111 §4.1).
//!
//! A primary key starts with `scheme://host/path`, so purging by prefix is
//! a prefix match on keys. Extras follow after a newline, which no URL holds.

use bytes::Bytes;
use http::header::{COOKIE, VARY};
use http::{HeaderMap, HeaderName};
use tollgate_config::{CacheKey, QueryKey};

/// The parts of a request a primary key is built from.
#[derive(Debug, Clone, Copy)]
pub struct KeyInput<'a> {
    /// `http` or `https`.
    pub scheme: &'a str,
    /// Host, lowercase, without port.
    pub host: &'a str,
    /// Path as received.
    pub path: &'a str,
    /// Query without `?`.
    pub query: Option<&'a str>,
    /// Request fields (for configured header and cookie extras).
    pub headers: &'a HeaderMap,
}

/// Writes the primary key of `input` under `config` into `out` (cleared first).
pub fn primary_key(out: &mut Vec<u8>, input: &KeyInput<'_>, config: &CacheKey) {
    out.clear();
    url_prefix(out, input.scheme, input.host, input.path);
    if let Some(q) = input.query.filter(|q| !q.is_empty()) {
        match &config.query {
            QueryKey::All => {
                out.push(b'?');
                out.extend_from_slice(q.as_bytes());
            }
            QueryKey::None => {}
            QueryKey::Include(names) => filtered_query(out, q, |n| names.iter().any(|k| k == n)),
            QueryKey::Exclude(names) => filtered_query(out, q, |n| !names.iter().any(|k| k == n)),
        }
    }
    for name in &config.headers {
        out.extend_from_slice(b"\nh:");
        out.extend_from_slice(name.as_str().as_bytes());
        out.push(b'=');
        for (i, v) in input.headers.get_all(name).iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(v.as_bytes());
        }
    }
    for cookie in &config.cookies {
        out.extend_from_slice(b"\nc:");
        out.extend_from_slice(cookie.as_bytes());
        out.push(b'=');
        if let Some(v) = cookie_value(input.headers, cookie) {
            out.extend_from_slice(v);
        }
    }
}

/// `scheme://host/path`: the start of every key of that URL, and the
/// prefix a prefix purge matches.
pub fn url_prefix(out: &mut Vec<u8>, scheme: &str, host: &str, path: &str) {
    out.extend_from_slice(scheme.as_bytes());
    out.extend_from_slice(b"://");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(path.as_bytes());
}

/// Appends `?a=1&b=2` with only the parameters whose name `keep` accepts
/// (names as sent, not percent-decoded), in the order sent.
fn filtered_query(out: &mut Vec<u8>, query: &str, keep: impl Fn(&str) -> bool) {
    let mut first = true;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let name = pair.split_once('=').map_or(pair, |(n, _)| n);
        if keep(name) {
            out.push(if first { b'?' } else { b'&' });
            out.extend_from_slice(pair.as_bytes());
            first = false;
        }
    }
}

/// The value of cookie `name` in the request's Cookie fields.
pub fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h [u8]> {
    headers.get_all(COOKIE).iter().find_map(|v| {
        v.as_bytes().split(|b| *b == b';').find_map(|pair| {
            let pair = pair.trim_ascii();
            let eq = pair.iter().position(|b| *b == b'=')?;
            (pair[..eq].trim_ascii() == name.as_bytes()).then(|| {
                let v = pair[eq + 1..].trim_ascii();
                v.strip_prefix(b"\"")
                    .and_then(|v| v.strip_suffix(b"\""))
                    .unwrap_or(v)
            })
        })
    })
}

/// Most distinct fields a stored answer may vary on. Real answers name a
/// few; one naming more is taken as `Vary: *`, so an origin cannot make
/// every lookup of a key compare thousands of fields (or the parse below
/// quadratic).
pub const MAX_VARY_FIELDS: usize = 16;

/// What an answer's `Vary` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vary {
    /// `Vary: *` (or more than [`MAX_VARY_FIELDS`] fields): no later
    /// request can match (§4.1); not worth storing.
    Any,
    /// The request fields that select the variant (empty without Vary).
    Fields(Vec<HeaderName>),
}

impl Vary {
    /// Reads the Vary fields of an answer (names lowercase, deduplicated).
    pub fn of(headers: &HeaderMap) -> Self {
        let mut fields: Vec<HeaderName> = Vec::new();
        for v in headers.get_all(VARY) {
            for item in v.as_bytes().split(|b| *b == b',') {
                let item = item.trim_ascii();
                if item == b"*" {
                    return Vary::Any;
                }
                if let Ok(name) = HeaderName::from_bytes(item) {
                    if !fields.contains(&name) {
                        if fields.len() == MAX_VARY_FIELDS {
                            return Vary::Any;
                        }
                        fields.push(name);
                    }
                }
            }
        }
        Vary::Fields(fields)
    }
}

/// The secondary key of a request for `fields`: each field's normalized
/// value, `None` when the request does not have it.
pub fn secondary_key(headers: &HeaderMap, fields: &[HeaderName]) -> Vec<Option<Bytes>> {
    let mut scratch = Vec::new();
    fields
        .iter()
        .map(|f| normalized(headers, f, &mut scratch).then(|| Bytes::copy_from_slice(&scratch)))
        .collect()
}

/// Whether a request selects the variant stored with `stored` for `fields`.
/// `scratch` is a reusable buffer.
pub fn secondary_matches(
    headers: &HeaderMap,
    fields: &[HeaderName],
    stored: &[Option<Bytes>],
    scratch: &mut Vec<u8>,
) -> bool {
    fields.len() == stored.len()
        && fields.iter().zip(stored).all(|(f, s)| {
            let present = normalized(headers, f, scratch);
            match s {
                None => !present,
                Some(s) => present && s[..] == scratch[..],
            }
        })
}

/// Writes the value of field `name` normalized into `out` (§4.1: lines
/// combined, spaces around commas dropped, and lowercase for the fields
/// whose values are case-insensitive tokens); false when absent.
fn normalized(headers: &HeaderMap, name: &HeaderName, out: &mut Vec<u8>) -> bool {
    out.clear();
    let lower = matches!(
        name.as_str(),
        "accept-encoding" | "accept" | "accept-language" | "accept-charset"
    );
    let mut present = false;
    for v in headers.get_all(name) {
        for item in v.as_bytes().split(|b| *b == b',') {
            let item = item.trim_ascii();
            if item.is_empty() {
                continue;
            }
            if present && !out.is_empty() {
                out.push(b',');
            }
            present = true;
            if lower {
                out.extend(
                    item.iter()
                        .filter(|b| !b.is_ascii_whitespace())
                        .map(u8::to_ascii_lowercase),
                );
            } else {
                out.extend_from_slice(item);
            }
        }
        present = true;
    }
    present
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::headers;

    fn key(query: Option<&str>, h: &HeaderMap, config: &CacheKey) -> String {
        let mut out = Vec::new();
        let input = KeyInput {
            scheme: "https",
            host: "a.test",
            path: "/p",
            query,
            headers: h,
        };
        primary_key(&mut out, &input, config);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn primary_keys() {
        let h = headers(&[("x-tenant", "t1"), ("cookie", "a=1; lang=\"de\"")]);
        let all = CacheKey::default();
        assert_eq!(key(Some("b=2&a=1"), &h, &all), "https://a.test/p?b=2&a=1");
        assert_eq!(key(Some(""), &h, &all), "https://a.test/p");
        let none = CacheKey {
            query: QueryKey::None,
            ..CacheKey::default()
        };
        assert_eq!(key(Some("a=1"), &h, &none), "https://a.test/p");
        let include = CacheKey {
            query: QueryKey::Include(vec!["a".into(), "c".into()]),
            ..CacheKey::default()
        };
        assert_eq!(
            key(Some("b=2&a=1&c&a=3"), &h, &include),
            "https://a.test/p?a=1&c&a=3"
        );
        let exclude = CacheKey {
            query: QueryKey::Exclude(vec!["utm_source".into()]),
            headers: vec![HeaderName::from_static("x-tenant")],
            cookies: vec!["lang".into(), "gone".into()],
        };
        assert_eq!(
            key(Some("utm_source=x&id=4"), &h, &exclude),
            "https://a.test/p?id=4\nh:x-tenant=t1\nc:lang=de\nc:gone="
        );
    }

    #[test]
    fn vary_fields_and_matching() {
        let resp = headers(&[
            ("vary", "Accept-Encoding, accept-language"),
            ("vary", "accept-encoding"),
        ]);
        let Vary::Fields(fields) = Vary::of(&resp) else {
            panic!("fields expected")
        };
        assert_eq!(fields, ["accept-encoding", "accept-language"]);
        assert_eq!(Vary::of(&headers(&[("vary", "a, *")])), Vary::Any);
        let names = |n: usize| {
            (0..n)
                .map(|i| format!("x-{i}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let at_most = headers(&[("vary", &names(MAX_VARY_FIELDS)), ("vary", "x-0")]);
        assert!(matches!(Vary::of(&at_most), Vary::Fields(f) if f.len() == MAX_VARY_FIELDS));
        let too_many = headers(&[("vary", &names(5000))]);
        assert_eq!(Vary::of(&too_many), Vary::Any);

        let req = headers(&[("accept-encoding", "GZIP, br"), ("accept-encoding", "zstd")]);
        let stored = secondary_key(&req, &fields);
        assert_eq!(stored, [Some(Bytes::from_static(b"gzip,br,zstd")), None]);
        let mut scratch = Vec::new();
        let same = headers(&[("accept-encoding", "gzip,br , zstd")]);
        assert!(secondary_matches(&same, &fields, &stored, &mut scratch));
        let other = headers(&[("accept-encoding", "gzip")]);
        assert!(!secondary_matches(&other, &fields, &stored, &mut scratch));
        let with_lang = headers(&[
            ("accept-encoding", "gzip,br,zstd"),
            ("accept-language", "de"),
        ]);
        assert!(!secondary_matches(
            &with_lang,
            &fields,
            &stored,
            &mut scratch
        ));
        // An empty field is present, and differs from an absent one.
        let empty = headers(&[("accept-encoding", "")]);
        let stored_empty = secondary_key(&empty, &fields);
        assert_eq!(stored_empty[0], Some(Bytes::new()));
        assert!(!secondary_matches(
            &HeaderMap::new(),
            &fields,
            &stored_empty,
            &mut scratch
        ));
    }
}
