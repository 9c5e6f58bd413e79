//! Invalidation by unsafe methods (RFC 9111 §4.4): a non-error answer to a
//! POST, PUT, DELETE, PATCH or unknown method removes the stored answers of
//! its URL and of its Location and Content-Location on the same host.

use http::header;
use http::{HeaderMap, Method, Uri};
use tollgate_edge::cache::key::{primary_key, KeyInput};
use tollgate_edge::cache::Cache;

use crate::pipeline::Incoming;

/// An unsafe request: its answer invalidates stored ones (§4.4).
#[derive(Debug)]
pub(super) struct Invalidate {
    scheme: &'static str,
    host: String,
    /// The request's key; Location and Content-Location keys are made the same way.
    key: Box<[u8]>,
    /// The request fields the key configuration reads (empty when it reads none).
    headers: HeaderMap,
}

pub(super) fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

pub(super) fn invalidation(
    cache: &Cache,
    req: &Incoming<'_>,
    scheme: &'static str,
    host: &str,
) -> Invalidate {
    let config = &cache.policy().key;
    let headers = if config.headers.is_empty() && config.cookies.is_empty() {
        HeaderMap::new()
    } else {
        req.headers.clone()
    };
    let mut key = Vec::new();
    let input = KeyInput {
        scheme,
        host,
        path: req.uri.path(),
        query: req.uri.query(),
        headers: &headers,
    };
    primary_key(&mut key, &input, config);
    Invalidate {
        scheme,
        host: host.to_owned(),
        key: key.into(),
        headers,
    }
}

impl Invalidate {
    /// Removes the request's entry and those of Location and
    /// Content-Location when they are on the same host.
    pub(super) fn apply(&self, cache: &Cache, answer: &HeaderMap) {
        cache.purge_key(&self.key);
        for name in [header::LOCATION, header::CONTENT_LOCATION] {
            let Some(uri) = answer
                .get(&name)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.parse::<Uri>().ok())
            else {
                continue;
            };
            let same_host = match uri.host() {
                None => true,
                Some(h) => h.eq_ignore_ascii_case(&self.host),
            };
            if !same_host || !uri.path().starts_with('/') {
                continue;
            }
            let mut key = Vec::new();
            let input = KeyInput {
                scheme: self.scheme,
                host: &self.host,
                path: uri.path(),
                query: uri.query(),
                headers: &self.headers,
            };
            primary_key(&mut key, &input, &cache.policy().key);
            cache.purge_key(&key);
        }
    }
}
