//! Purge requests: `PURGE /path?query` removes the entry of that URL (every
//! variant, both schemes); `PURGE /prefix*` removes every entry whose URL
//! starts with the prefix. Allowed only from the configured networks.

use http::{Response, StatusCode};
use tollgate_config::Purge;
use tollgate_core::ErrorKind;
use tollgate_edge::cache::key::{primary_key, url_prefix, KeyInput};
use tollgate_edge::cache::Cache;

use super::answer;
use crate::body::ResponseBody;
use crate::pipeline::{refusal, Incoming};

/// Answers a purge request: 403 from elsewhere, else `{"purged": n}`.
pub(super) fn answer(
    cache: &Cache,
    purge: &Purge,
    req: &Incoming<'_>,
    host: &str,
) -> Response<ResponseBody> {
    let ip = req.client.peer.ip();
    if !purge.allow.iter().any(|net| net.contains(&ip)) {
        return refusal(
            ErrorKind::Forbidden,
            "purge is not allowed from this address",
            &req.request_id,
        );
    }
    let path = req.uri.path();
    let mut key = Vec::with_capacity(host.len() + path.len() + 16);
    let mut purged = 0;
    for scheme in ["http", "https"] {
        if let Some(prefix) = path.strip_suffix('*') {
            key.clear();
            url_prefix(&mut key, scheme, host, prefix);
            purged += cache.purge_prefix(&key);
        } else {
            let input = KeyInput {
                scheme,
                host,
                path,
                query: req.uri.query(),
                headers: &req.headers,
            };
            primary_key(&mut key, &input, &cache.policy().key);
            purged += usize::from(cache.purge_key(&key));
        }
    }
    answer::json(StatusCode::OK, format!("{{\"purged\":{purged}}}\n"))
}
