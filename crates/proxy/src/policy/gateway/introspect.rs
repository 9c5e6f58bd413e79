//! The `oauth2_introspection` step: the rules are in
//! `tollgate_gateway::introspection`; this gives them the call to the
//! endpoint, a form `POST` through tollgate's upstream client.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method};
use tollgate_gateway::introspection::{response::MAX_ANSWER, CallFuture, IntrospectionAuth};
use tollgate_gateway::{Directory, Refusal};

use super::call::{call, Target};
use super::settle;
use crate::pipeline::{Exchange, Incoming};
use crate::snapshot::Worker;

/// Runs the `oauth2_introspection` policy; `Some` is its refusal.
pub(super) async fn on_request(
    worker: &Arc<Worker>,
    rt: &IntrospectionAuth,
    dir: &Directory,
    req: &Incoming<'_>,
    ex: &mut Exchange,
) -> Option<Refusal> {
    let endpoint = &rt.policy().endpoint;
    let target = Target {
        upstream: endpoint.upstream,
        host: endpoint.host.clone(),
        timeout: endpoint.timeout,
    };
    let path = endpoint.path.clone();
    let authorization = HeaderValue::from_str(rt.authorization()).ok();
    let ask = move |body: Vec<u8>| -> CallFuture {
        let worker = worker.clone();
        let target = target.clone();
        let path = path.clone();
        let authorization = authorization.clone();
        Box::pin(async move {
            let mut headers = HeaderMap::new();
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
            headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
            if let Some(v) = authorization {
                headers.insert(AUTHORIZATION, v);
            }
            let body = Some(Bytes::from(body));
            let answer = call(
                &worker,
                &target,
                Method::POST,
                &path,
                headers,
                body,
                MAX_ANSWER + 1,
            )
            .await?;
            Ok((answer.status.as_u16(), answer.body.to_vec()))
        })
    };
    let outcome = rt.authenticate(dir, &req.headers, &req.uri, &ask).await;
    settle(outcome, "oauth2_introspection", ex)
}
