//! Requests gateway policies make for themselves (a key set, a token
//! introspection, an external auth decision) through tollgate's own
//! upstream client: a route of their own to the endpoint's upstream (its
//! pools, TLS, health and timeouts), no forwarding headers, the answer
//! body read up to a limit.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, Method, StatusCode, Version};
use http_body_util::BodyExt;
use tollgate_config::{ForwardMode, Forwarding, HostRewrite, Route, RouteMatch, RouteTarget};

use crate::body::RequestBody;
use crate::forward::ClientInfo;
use crate::pipeline::{self, Incoming};
use crate::snapshot::Worker;

/// Where a call goes.
#[derive(Debug, Clone)]
pub(super) struct Target {
    /// Index of the upstream.
    pub(super) upstream: usize,
    /// The Host sent (default: the target's `host:port`).
    pub(super) host: Option<String>,
    /// The route's timeout (the caller bounds the whole call too).
    pub(super) timeout: Duration,
}

/// An answer read whole (its body up to the call's limit).
#[derive(Debug)]
pub(super) struct Answer {
    /// The status.
    pub(super) status: StatusCode,
    /// The header fields.
    pub(super) headers: HeaderMap,
    /// The body, cut at the limit.
    pub(super) body: Bytes,
    /// Whether the body went past the limit.
    pub(super) truncated: bool,
}

/// Sends `method path` with `headers` and `body` to `target`; reads at
/// most `limit` bytes of the answer's body. `Err` says why there is no
/// answer (never with a credential in it).
pub(super) async fn call(
    worker: &Arc<Worker>,
    target: &Target,
    method: Method,
    path: &str,
    headers: HeaderMap,
    body: Option<Bytes>,
    limit: usize,
) -> Result<Answer, String> {
    let route = route(target);
    let mut req = Incoming {
        listener: 0,
        client: ClientInfo {
            peer: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            trusted: false,
            proto: "http",
            cert: None,
        },
        method,
        uri: path.parse().map_err(|_| "invalid path".to_string())?,
        version: Version::HTTP_11,
        headers,
        body: body.map_or(RequestBody::Empty, |b| RequestBody::Buffered(Some(b))),
        upgrade: false,
        request_id: worker.new_request_id(),
        grpc: None,
    };
    let resp = pipeline::internal_request(worker, &route, &mut req)
        .await
        .map_err(|err| err.message)?;
    let (parts, mut body) = resp.into_parts();
    let mut bytes = Vec::new();
    let mut truncated = false;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| format!("reading the answer: {err}"))?;
        if let Ok(data) = frame.into_data() {
            let room = limit.saturating_sub(bytes.len());
            if data.len() > room {
                bytes.extend_from_slice(&data[..room]);
                truncated = true;
                break;
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(Answer {
        status: parts.status,
        headers: parts.headers,
        body: Bytes::from(bytes),
        truncated,
    })
}

/// A route of its own for the call: the endpoint's upstream, its Host,
/// no forwarding headers (tollgate asks for itself).
fn route(t: &Target) -> Route {
    Route {
        name: "gateway-call".into(),
        listeners: Vec::new(),
        matcher: RouteMatch::default(),
        rewrite: None,
        target: RouteTarget::Upstream(t.upstream),
        forwarding: Forwarding {
            x_forwarded: ForwardMode::Off,
            forwarded: ForwardMode::Off,
            via: false,
            host: t
                .host
                .clone()
                .map_or(HostRewrite::Target, HostRewrite::Fixed),
            hide_response_headers: Vec::new(),
            request_id_header: HeaderName::from_static("x-request-id"),
            upgrades: Vec::new(),
            refuse_underscore_headers: false,
        },
        timeout: t.timeout,
        max_body: 0,
        policies: Vec::new(),
        lifecycle: None,
    }
}
