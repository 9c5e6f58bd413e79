//! Paths and methods of the admin API, mapped to [`AdminBackend`] calls.
//! `/healthz` and `/readyz` answer without a token (orchestrators probe
//! them and they tell nothing about the configuration); everything else
//! needs it when one is configured.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde_json::json;

use super::auth::authorized;
use super::{AdminBackend, Purge, Reply};

/// What every admin connection shares: the token and the backend.
pub(crate) struct Shared {
    pub(crate) token: Option<String>,
    pub(crate) backend: Arc<dyn AdminBackend>,
    /// `GET /metrics` answers without the token.
    pub(crate) metrics_public: bool,
    /// The dashboard's history, sampled by the admin thread.
    pub(crate) ring: std::sync::Mutex<super::dashboard::ring::Ring>,
}

/// The largest configuration `PUT /config` accepts.
const MAX_CONFIG_BYTES: usize = 4 << 20;

/// The answer to one admin request.
pub(crate) async fn answer(shared: &Arc<Shared>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let method = req.method().clone();
    if method == Method::GET {
        if let Some((kind, text)) = super::dashboard::asset(&path) {
            return super::dashboard::respond(kind, text);
        }
    }
    let open = matches!(path.as_str(), "/healthz" | "/readyz")
        || (shared.metrics_public && path == "/metrics");
    if !open && !authorized(req.headers(), shared.token.as_deref()) {
        let mut res = respond(Reply::error(401, "missing or wrong bearer token"));
        res.headers_mut().insert(
            WWW_AUTHENTICATE,
            "Bearer realm=\"tollgate-admin\"".parse().unwrap(),
        );
        return res;
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let backend = &shared.backend;
    if let (["metrics"], &Method::GET) = (segments.as_slice(), &method) {
        return metrics(backend.as_ref(), req.headers());
    }
    let reply = match (segments.as_slice(), &method) {
        (["healthz"], &Method::GET) => Reply::ok(json!({ "status": "alive" })),
        (["readyz"], &Method::GET) => {
            let ready = backend.ready();
            Reply {
                status: if ready { 200 } else { 503 },
                body: json!({ "ready": ready }),
            }
        }
        (["status"], &Method::GET) => Reply::ok(backend.status()),
        (["config"], &Method::GET) => Reply::ok(backend.config()),
        (["config"], &Method::PUT) => {
            let flag = |name| param(&query, name).is_some_and(|v| v == "true" || v == "1");
            let (dry_run, write) = (flag("dry_run"), flag("write"));
            match read_text(req.into_body()).await {
                Ok(text) => blocking(shared, move |b| b.put_config(text, dry_run, write)).await,
                Err(reply) => reply,
            }
        }
        (["routes"], &Method::GET) => Reply::ok(backend.routes()),
        (["upstreams"], &Method::GET) => Reply::ok(backend.upstreams()),
        (["certificates"], &Method::GET) => Reply::ok(backend.certificates()),
        (["caches"], &Method::GET) => Reply::ok(backend.caches()),
        (["consumers"], &Method::GET) => Reply::ok(backend.consumers()),
        (["dashboard", "data"], &Method::GET) => {
            Reply::ok(shared.ring.lock().unwrap_or_else(|p| p.into_inner()).data())
        }
        (["reload"], &Method::POST) => {
            let dry_run = param(&query, "dry_run").is_some_and(|v| v == "true" || v == "1");
            blocking(shared, move |b| b.reload(dry_run)).await
        }
        (["upgrade"], &Method::POST) => blocking(shared, |b| b.upgrade()).await,
        (["caches", name, "purge"], &Method::POST) => {
            let what = match (param(&query, "key"), param(&query, "prefix")) {
                (None, None) => Ok(Purge::All),
                (Some(k), None) => Ok(Purge::Key(k)),
                (None, Some(p)) => Ok(Purge::Prefix(p)),
                (Some(_), Some(_)) => Err(Reply::error(400, "give `key` or `prefix`, not both")),
            };
            match what {
                Ok(what) => {
                    let name = name.to_string();
                    blocking(shared, move |b| b.purge(&name, what)).await
                }
                Err(reply) => reply,
            }
        }
        (["upstreams", name, "targets", address, action @ ("drain" | "enable")], &Method::POST) => {
            let (name, address) = (percent_decode(name), percent_decode(address));
            let drained = *action == "drain";
            blocking(shared, move |b| b.drain(&name, &address, drained)).await
        }
        (["upstreams", name, "targets", address, "weight"], m)
            if m == Method::POST || m == Method::DELETE =>
        {
            let (name, address) = (percent_decode(name), percent_decode(address));
            let weight = if m == Method::POST {
                match read_weight(req.into_body()).await {
                    Ok(w) => Some(w),
                    Err(reply) => return respond(reply),
                }
            } else {
                None
            };
            blocking(shared, move |b| b.weight(&name, &address, weight)).await
        }
        _ => return not_routed(&segments, &method),
    };
    respond(reply)
}

/// Runs a backend action on the runtime's blocking pool: a reload builds a
/// snapshot (DNS lookups, file reads) and joins threads.
async fn blocking(
    shared: &Arc<Shared>,
    action: impl FnOnce(&dyn AdminBackend) -> Reply + Send + 'static,
) -> Reply {
    let shared = shared.clone();
    tokio::task::spawn_blocking(move || action(&*shared.backend))
        .await
        .unwrap_or_else(|_| Reply::error(500, "the action failed"))
}

/// A request body as UTF-8 text, at most [`MAX_CONFIG_BYTES`].
async fn read_text(body: Incoming) -> Result<String, Reply> {
    let collected = Limited::new(body, MAX_CONFIG_BYTES)
        .collect()
        .await
        .map_err(|_| {
            Reply::error(
                413,
                format!("the body is over {MAX_CONFIG_BYTES} bytes or was cut short"),
            )
        })?;
    String::from_utf8(collected.to_bytes().to_vec())
        .map_err(|_| Reply::error(400, "the body is not UTF-8 text"))
}

/// The weight in a `{"weight": N}` body.
async fn read_weight(body: Incoming) -> Result<u32, Reply> {
    let text = read_text(body).await?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Reply::error(400, format!("the body is not JSON: {e}")))?;
    value["weight"]
        .as_u64()
        .and_then(|w| u32::try_from(w).ok())
        .ok_or_else(|| Reply::error(400, "give {\"weight\": N} with N a whole number"))
}

/// 405 with `Allow` for a known path asked with the wrong method, else 404.
fn not_routed(segments: &[&str], method: &Method) -> Response<Full<Bytes>> {
    let allow = match segments {
        ["config"] => "GET, PUT",
        ["healthz" | "readyz" | "status" | "metrics" | "routes" | "upstreams" | "certificates"
        | "caches" | "consumers"]
        | ["dashboard", "data"] => "GET",
        ["reload" | "upgrade"]
        | ["caches", _, "purge"]
        | ["upstreams", _, "targets", _, "drain" | "enable"] => "POST",
        ["upstreams", _, "targets", _, "weight"] => "POST, DELETE",
        _ => return respond(Reply::error(404, "no such admin endpoint")),
    };
    let mut res = respond(Reply::error(
        405,
        format!("{method} is not allowed here; use {allow}"),
    ));
    res.headers_mut().insert(ALLOW, allow.parse().unwrap());
    res
}

/// `/metrics`: OpenMetrics text when the scraper asks for it in `Accept`,
/// else Prometheus text format 0.0.4.
fn metrics(backend: &dyn AdminBackend, headers: &http::HeaderMap) -> Response<Full<Bytes>> {
    let openmetrics = headers
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let text = crate::metrics::encode(backend.metrics(), openmetrics);
    let kind = if openmetrics {
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    } else {
        "text/plain; version=0.0.4; charset=utf-8"
    };
    let mut res = Response::new(Full::new(Bytes::from(text)));
    res.headers_mut()
        .insert(CONTENT_TYPE, http::HeaderValue::from_static(kind));
    res.headers_mut()
        .insert(CACHE_CONTROL, "no-store".parse().unwrap());
    res
}

/// A [`Reply`] as an HTTP answer: pretty JSON, never cached.
fn respond(reply: Reply) -> Response<Full<Bytes>> {
    let mut body = serde_json::to_vec_pretty(&reply.body).unwrap_or_default();
    body.push(b'\n');
    let mut res = Response::new(Full::new(Bytes::from(body)));
    *res.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    res.headers_mut()
        .insert(CONTENT_TYPE, "application/json".parse().unwrap());
    res.headers_mut()
        .insert(CACHE_CONTROL, "no-store".parse().unwrap());
    res
}

/// The percent-decoded value of `name` in a query string.
fn param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_decode(v))
    })
}

/// `%XX` and `+` decoded; malformed escapes are kept as written.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_decoded() {
        assert_eq!(param("dry_run=true", "dry_run").as_deref(), Some("true"));
        assert_eq!(
            param("a=1&prefix=%2Fapi%2Fv1+x", "prefix").as_deref(),
            Some("/api/v1 x")
        );
        assert_eq!(param("a=1", "prefix"), None);
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
