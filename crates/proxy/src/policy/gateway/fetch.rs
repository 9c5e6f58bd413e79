//! Key sets of `jwks_endpoint`s fetched through tollgate's own upstream
//! client: a `GET` of the endpoint's path on its upstream (pools, TLS,
//! health, timeouts as for any request), the body read up to a limit.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use http::header::{ACCEPT, CACHE_CONTROL};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Version};
use http_body_util::BodyExt;
use tollgate_config::{
    ForwardMode, Forwarding, HostRewrite, JwksEndpoint, Route, RouteMatch, RouteTarget,
};
use tollgate_gateway::jwt::jwks::max_age;
use tollgate_gateway::jwt::FetchFuture;

use crate::body::RequestBody;
use crate::forward::ClientInfo;
use crate::pipeline::{self, Incoming};
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
    let route = route(e);
    let mut headers = HeaderMap::new();
    headers.insert(
        ACCEPT,
        HeaderValue::from_static("application/jwk-set+json, application/json"),
    );
    let mut req = Incoming {
        listener: 0,
        client: ClientInfo {
            peer: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            trusted: false,
            proto: "http",
            cert: None,
        },
        method: Method::GET,
        uri: e.path.parse().map_err(|_| "invalid path".to_string())?,
        version: Version::HTTP_11,
        headers,
        body: RequestBody::Empty,
        upgrade: false,
        request_id: worker.new_request_id(),
        grpc: None,
    };
    let resp = pipeline::internal_request(worker, &route, &mut req)
        .await
        .map_err(|err| err.message)?;
    if !resp.status().is_success() {
        return Err(format!("the endpoint answered {}", resp.status()));
    }
    let age = resp
        .headers()
        .get(CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(max_age);
    let mut body = resp.into_body();
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| format!("reading the key set: {err}"))?;
        if let Ok(data) = frame.into_data() {
            bytes.extend_from_slice(&data);
            if bytes.len() > MAX_JWKS {
                return Err("the key set is larger than 1 MiB".into());
            }
        }
    }
    let text = String::from_utf8(bytes).map_err(|_| "the key set is not UTF-8".to_string())?;
    Ok((text, age))
}

/// A route of its own for the fetch: the endpoint's upstream, its Host,
/// no forwarding headers (tollgate asks for itself).
fn route(e: &JwksEndpoint) -> Route {
    Route {
        name: "jwks".into(),
        listeners: Vec::new(),
        matcher: RouteMatch::default(),
        rewrite: None,
        target: RouteTarget::Upstream(e.upstream),
        forwarding: Forwarding {
            x_forwarded: ForwardMode::Off,
            forwarded: ForwardMode::Off,
            via: false,
            host: e
                .host
                .clone()
                .map_or(HostRewrite::Target, HostRewrite::Fixed),
            hide_response_headers: Vec::new(),
            request_id_header: HeaderName::from_static("x-request-id"),
            upgrades: Vec::new(),
            refuse_underscore_headers: false,
        },
        timeout: e.timeout,
        max_body: 0,
        policies: Vec::new(),
        lifecycle: None,
    }
}
