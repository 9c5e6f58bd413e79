//! `key_auth`: an API key identifies the consumer.
//!
//! - The key is read from the configured sources in order (headers, query
//!   parameters, cookies); the first one present is used.
//! - Every configured source is removed from the request, used or not, so
//!   no key reaches the upstream.
//! - The key is hashed and looked up in the directory: an unknown key and a
//!   wrong one take the same path and get the same 401.
//! - No key: the policy's `anonymous` consumer when set, else 401.

use std::sync::Arc;

use http::header::COOKIE;
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderValue, Uri};
use tollgate_config::{KeyAuth, KeySource};

use crate::{Challenge, Directory, Outcome, Refusal};

/// Runs `policy` on a request: takes its key out and finds the consumer.
pub fn authenticate(
    policy: &KeyAuth,
    dir: &Directory,
    headers: &mut HeaderMap,
    uri: &mut Uri,
) -> Outcome {
    match take_key(&policy.sources, headers, uri) {
        Some(key) => match dir.by_api_key(key.as_bytes()) {
            Some(c) => Outcome::Identified(c.clone()),
            None => Outcome::Refused(Refusal::unauthorized(
                "key_auth:invalid",
                "invalid API key",
                Challenge::ApiKey,
            )),
        },
        None => match policy.anonymous.as_deref().and_then(|n| dir.by_name(n)) {
            Some(c) => Outcome::Anonymous(Arc::clone(c)),
            None => Outcome::Refused(Refusal::unauthorized(
                "key_auth:missing",
                "API key required",
                Challenge::ApiKey,
            )),
        },
    }
}

/// A key taken out of a request.
#[derive(Debug)]
pub enum TakenKey {
    /// A header field's value, kept as it came (no copy per request);
    /// known to be text.
    Header(HeaderValue),
    /// A decoded query parameter or a cookie value.
    Text(String),
}

impl TakenKey {
    /// The key's bytes (a header value without surrounding whitespace).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            TakenKey::Header(v) => v.as_bytes().trim_ascii(),
            TakenKey::Text(s) => s.as_bytes(),
        }
    }
}

/// The first key found in `sources`; every source is removed from the
/// request. An empty value counts as no key.
pub fn take_key(sources: &[KeySource], headers: &mut HeaderMap, uri: &mut Uri) -> Option<TakenKey> {
    let mut found = None;
    for source in sources {
        let value = match source {
            KeySource::Header(name) => headers
                .remove(name)
                .filter(|v| v.to_str().is_ok())
                .map(TakenKey::Header),
            KeySource::Query(name) => take_query_param(uri, name).map(TakenKey::Text),
            KeySource::Cookie(name) => take_cookie(headers, name).map(TakenKey::Text),
        };
        if found.is_none() {
            found = value.filter(|v| !v.as_bytes().is_empty());
        }
    }
    found
}

/// Removes every `name=` parameter from the query; returns the first
/// value, percent-decoded.
fn take_query_param(uri: &mut Uri, name: &str) -> Option<String> {
    let query = uri.query()?;
    let mut first = None;
    let mut kept: Vec<&str> = Vec::new();
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if percent_decode(k).as_deref() == Some(name) {
            if first.is_none() {
                first = percent_decode(v);
            }
        } else {
            kept.push(pair);
        }
    }
    if kept.len() == query.split('&').count() {
        return None;
    }
    let path = uri.path();
    let pq = if kept.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", kept.join("&"))
    };
    let mut parts = std::mem::take(uri).into_parts();
    parts.path_and_query = PathAndQuery::try_from(pq).ok();
    *uri = Uri::from_parts(parts).unwrap_or_default();
    first
}

/// `%XX` and `+` decoded; `None` when not UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Removes cookie `name` from every `Cookie` field; returns its first value.
fn take_cookie(headers: &mut HeaderMap, name: &str) -> Option<String> {
    if !headers.contains_key(COOKIE) {
        return None;
    }
    let mut first = None;
    let mut kept: Vec<String> = Vec::new();
    let mut removed = false;
    for field in headers.get_all(COOKIE) {
        let Ok(text) = field.to_str() else { continue };
        for pair in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if k.trim() == name {
                removed = true;
                if first.is_none() {
                    first = Some(v.trim().trim_matches('"').to_string());
                }
            } else {
                kept.push(pair.to_string());
            }
        }
    }
    if !removed {
        return None;
    }
    headers.remove(COOKIE);
    if !kept.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&kept.join("; ")) {
            headers.insert(COOKIE, v);
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_config::{Gateway, KeyDigest};

    fn sources() -> Vec<KeySource> {
        vec![
            KeySource::Header("x-api-key".parse().unwrap()),
            KeySource::Query("api_key".into()),
            KeySource::Cookie("key".into()),
        ]
    }

    fn dir() -> Directory {
        let c = |name: &str, key: &str| tollgate_config::Consumer {
            name: name.into(),
            groups: vec![],
            metadata: vec![],
            api_keys: vec![KeyDigest::of(key.as_bytes())],
            basic_auth: vec![],
            jwt: vec![],
            mtls: vec![],
        };
        Directory::build(&Gateway {
            consumers: vec![c("app", "k-app"), c("guest", "k-guest")],
            identity_headers: Default::default(),
        })
    }

    #[test]
    fn every_source_is_removed_and_the_first_wins() {
        let mut h = HeaderMap::new();
        h.insert("x-api-key", HeaderValue::from_static("from-header"));
        h.append(COOKIE, HeaderValue::from_static("a=1; key=from-cookie"));
        h.append(COOKIE, HeaderValue::from_static("b=2"));
        let mut uri: Uri = "/p?x=1&api_key=from%2Dquery&y=2".parse().unwrap();
        assert_eq!(
            take_key(&sources(), &mut h, &mut uri).unwrap().as_bytes(),
            b"from-header"
        );
        assert!(!h.contains_key("x-api-key"));
        assert_eq!(uri, "/p?x=1&y=2");
        assert_eq!(h.get(COOKIE).unwrap(), "a=1; b=2");

        let mut h = HeaderMap::new();
        let mut uri: Uri = "/p?api_key=q%2Dk".parse().unwrap();
        assert_eq!(
            take_key(&sources(), &mut h, &mut uri).unwrap().as_bytes(),
            b"q-k"
        );
        assert_eq!(uri, "/p");

        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_static("key=\"c\""));
        let mut uri: Uri = "/p?other=1".parse().unwrap();
        assert_eq!(
            take_key(&sources(), &mut h, &mut uri).unwrap().as_bytes(),
            b"c"
        );
        assert!(!h.contains_key(COOKIE));
        assert_eq!(uri, "/p?other=1");

        let mut h = HeaderMap::new();
        h.insert("x-api-key", HeaderValue::from_static(""));
        assert!(take_key(&sources(), &mut h, &mut "/".parse().unwrap()).is_none());
        // Surrounding whitespace is not part of the key; a blank one is none.
        h.insert("x-api-key", HeaderValue::from_static(" k-app\t"));
        let key = take_key(&sources(), &mut h, &mut "/".parse().unwrap()).unwrap();
        assert_eq!(key.as_bytes(), b"k-app");
        h.insert("x-api-key", HeaderValue::from_static("  "));
        assert!(take_key(&sources(), &mut h, &mut "/".parse().unwrap()).is_none());
    }

    #[test]
    fn keys_identify_refuse_or_fall_back_to_anonymous() {
        let dir = dir();
        let mut policy = KeyAuth {
            sources: sources(),
            anonymous: None,
        };
        let run = |policy: &KeyAuth, key: Option<&'static str>| {
            let mut h = HeaderMap::new();
            if let Some(k) = key {
                h.insert("x-api-key", HeaderValue::from_static(k));
            }
            authenticate(policy, &dir, &mut h, &mut "/".parse().unwrap())
        };
        assert!(matches!(run(&policy, Some("k-app")), Outcome::Identified(c) if c.name() == "app"));
        let Outcome::Refused(wrong) = run(&policy, Some("k-nope")) else {
            panic!()
        };
        assert_eq!((wrong.status, wrong.reason), (401, "key_auth:invalid"));
        let Outcome::Refused(missing) = run(&policy, None) else {
            panic!()
        };
        assert_eq!(missing.reason, "key_auth:missing");
        policy.anonymous = Some("guest".into());
        assert!(matches!(run(&policy, None), Outcome::Anonymous(c) if c.name() == "guest"));
        // A wrong key is refused even with an anonymous fallback.
        assert!(matches!(run(&policy, Some("bad")), Outcome::Refused(_)));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b+c").unwrap(), "a b c");
        assert_eq!(percent_decode("%").unwrap(), "%");
        assert_eq!(percent_decode("%zz%4").unwrap(), "%zz%4");
        assert!(percent_decode("%ff").is_none());
    }
}
