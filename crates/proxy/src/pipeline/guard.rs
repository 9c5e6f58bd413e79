//! Listener-level checks of every request, before routing: the per-client
//! request rate (429 with `Retry-After`) and path normalization (the
//! request continues with the normalized path; a refused path is 400).
//! A listener without `per_client` and with `normalize_path: false` pays
//! two branches; with normalization, a path that needs no change costs
//! one scan and no allocation.

use std::borrow::Cow;
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::uri::PathAndQuery;
use http::{Response, Uri};
use tollgate_config::EncodedSlash;
use tollgate_core::{ErrorKind, ProxyError};

use super::{refusal, Incoming};
use crate::body::ResponseBody;
use crate::snapshot::Snapshot;

/// `Some` answer when the request is refused before routing.
pub(super) fn before_routing(
    snapshot: &Snapshot,
    req: &mut Incoming<'_>,
) -> Result<Option<Response<ResponseBody>>, ProxyError> {
    if let Some(Some(limiter)) = snapshot.client_limits.get(req.listener) {
        if let Err(wait) = limiter.check_request(req.client.peer.ip()) {
            return Ok(Some(too_many_requests(wait, &req.request_id)));
        }
    }
    if let Some(listener) = snapshot.config.listeners.get(req.listener) {
        if listener.normalize_path {
            normalize(req, listener.encoded_slash)?;
        }
    }
    Ok(None)
}

/// Replaces the request's path with its normalized form.
fn normalize(req: &mut Incoming<'_>, slashes: EncodedSlash) -> Result<(), ProxyError> {
    let path = match tollgate_edge::normalize_path(req.uri.path(), slashes) {
        Ok(Cow::Borrowed(_)) => return Ok(()),
        Ok(Cow::Owned(p)) => p,
        Err(e) => return Err(ProxyError::client(ErrorKind::BadRequest, e.message())),
    };
    let target = match req.uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let bad = |_| ProxyError::client(ErrorKind::BadRequest, "invalid request target");
    let mut parts = std::mem::take(&mut req.uri).into_parts();
    parts.path_and_query = Some(PathAndQuery::try_from(target).map_err(bad)?);
    req.uri = Uri::from_parts(parts)
        .map_err(|_| ProxyError::client(ErrorKind::BadRequest, "invalid request target"))?;
    Ok(())
}

/// 429 with the whole seconds until the client may send again.
fn too_many_requests(wait: Duration, request_id: &HeaderValue) -> Response<ResponseBody> {
    let mut resp = refusal(ErrorKind::TooManyRequests, "too many requests", request_id);
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    resp
}
