//! The `forward_auth` step: asks the auth service (through tollgate's
//! upstream client) and applies its decision; the rules are in
//! `tollgate_gateway::forward_auth`.

use std::sync::Arc;

use http::{Method, Response};
use tollgate_config::ForwardAuth;
use tollgate_gateway::{forward_auth, Directory, Refusal};

use super::call::{call, Target};
use crate::body::ResponseBody;
use crate::pipeline::{Exchange, Incoming};
use crate::snapshot::Worker;

/// What the service decided.
pub(super) enum Decision {
    /// Allowed (the request's headers are updated).
    Allow,
    /// Refused: the service's own answer goes back to the client.
    Deny(Box<Response<ResponseBody>>),
    /// No usable answer (503).
    Failed(Refusal),
}

/// Runs the `forward_auth` policy.
pub(super) async fn on_request(
    worker: &Arc<Worker>,
    policy: &ForwardAuth,
    dir: &Directory,
    req: &mut Incoming<'_>,
    host: &str,
    ex: &mut Exchange,
) -> Decision {
    let e = &policy.endpoint;
    let target = Target {
        upstream: e.upstream,
        host: e.host.clone(),
        timeout: e.timeout,
    };
    let headers = forward_auth::auth_request_headers(
        policy,
        &req.method,
        &req.uri,
        host,
        req.client.proto,
        &req.headers,
    );
    let limit = usize::try_from(policy.max_body).unwrap_or(usize::MAX);
    let asked = call(worker, &target, Method::GET, &e.path, headers, None, limit);
    let answer = match tokio::time::timeout(e.timeout, asked).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(err)) => return failed(policy, &err, ex),
        Err(_) => return failed(policy, "no answer within the timeout", ex),
    };
    if answer.status.is_success() {
        let consumer = forward_auth::allow(policy, dir, &answer.headers, &mut req.headers);
        ex.auth = Some("forward_auth");
        if let Some(c) = consumer {
            ex.consumer = Some(c);
        }
        return Decision::Allow;
    }
    ex.auth = Some("forward_auth:denied");
    let mut resp = Response::new(ResponseBody::Full(answer.body));
    *resp.status_mut() = answer.status;
    *resp.headers_mut() = forward_auth::denial_headers(&answer.headers);
    Decision::Deny(Box::new(resp))
}

fn failed(policy: &ForwardAuth, why: &str, ex: &mut Exchange) -> Decision {
    tracing::warn!(path = %policy.endpoint.path, "auth service unavailable: {why}");
    if policy.fail_open {
        ex.auth = Some("forward_auth:fail_open");
        return Decision::Allow;
    }
    Decision::Failed(Refusal::unavailable("forward_auth:unavailable"))
}
