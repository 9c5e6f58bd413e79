//! Key sets of `jwks_endpoint`s fetched through tollgate's own upstream
//! client (`call`): a `GET` of the endpoint's path on its upstream, the
//! body read up to a limit.

use std::sync::Arc;

use http::header::{ACCEPT, CACHE_CONTROL};
use http::{HeaderMap, HeaderValue, Method};
use tollgate_config::JwksEndpoint;
use tollgate_gateway::jwt::jwks::max_age;
use tollgate_gateway::jwt::FetchFuture;

use super::call::{call, Target};
use crate::snapshot::Worker;

/// Largest key set read.
const MAX_JWKS: usize = 1 << 20;

/// The fetch function the `jwt` policy gets: each call is a future that
/// owns what it needs (it runs as a task of its own).
pub(super) fn fetcher(worker: &Arc<Worker>) -> impl Fn(&JwksEndpoint) -> FetchFuture + Sync {
    let worker = worker.clone();
    move |endpoint| {
        let worker = worker.clone();
        let endpoint = endpoint.clone();
        Box::pin(async move {
            let result = fetch(&worker, &endpoint).await;
            if let Err(e) = &result {
                tracing::warn!(path = %endpoint.path, "JWKS endpoint unavailable: {e}");
            }
            result
        })
    }
}

async fn fetch(
    worker: &Arc<Worker>,
    e: &JwksEndpoint,
) -> Result<(String, Option<std::time::Duration>), String> {
    let mut headers = HeaderMap::new();
    headers.insert(
        ACCEPT,
        HeaderValue::from_static("application/jwk-set+json, application/json"),
    );
    let target = Target {
        upstream: e.upstream,
        host: e.host.clone(),
        timeout: e.timeout,
    };
    let resp = call(
        worker,
        &target,
        Method::GET,
        &e.path,
        headers,
        None,
        MAX_JWKS,
    )
    .await?;
    if !resp.status.is_success() {
        return Err(format!("the endpoint answered {}", resp.status));
    }
    if resp.truncated {
        return Err("the key set is larger than 1 MiB".into());
    }
    let age = resp
        .headers
        .get(CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(max_age);
    let text = String::from_utf8(resp.body.to_vec())
        .map_err(|_| "the key set is not UTF-8".to_string())?;
    Ok((text, age))
}
