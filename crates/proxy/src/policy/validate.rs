//! Glue of the `validate` policy: find what to check (the body against a
//! JSON Schema, or the operation of an OpenAPI document), read the body
//! when it is needed (bounded in size and in time by the route's
//! deadline), check with `tollgate-gateway`, keep the body to be sent
//! upstream, or answer the refusal. With `answers`, JSON answers are
//! watched on their way (not held back) and checked at their end (against
//! one schema, or the `responses` of the OpenAPI operation the request
//! matched, whose status and header fields are checked at once): a
//! mismatch is logged and counted, never blocked (report mode).

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderValue};
use http::{Method, Response, StatusCode};
use tollgate_config::{AnswerCheck, JsonSchema, Operation, Route, ValidateAgainst, ValidatePolicy};
use tollgate_core::{ErrorKind, ProxyError};
use tollgate_gateway::validate::answer::{check_head, is_json};
use tollgate_gateway::validate::openapi::{check_operation_body, check_parameters, find};
use tollgate_gateway::validate::{check_body, refusal_body, Violation};

use crate::body::{too_large, RequestBody, ResponseBody, WatchedBody, Watcher};
use crate::pipeline::{error_response, refusal, Incoming};
use crate::snapshot::Worker;

/// The request phase: `Ok` with the index of the OpenAPI operation the
/// request matched (kept for checking its answer), or the refusal (400,
/// 404, 413, 408).
pub(super) async fn on_request(
    policy: &ValidatePolicy,
    route: &Route,
    req: &mut Incoming<'_>,
) -> Result<Option<usize>, Response<ResponseBody>> {
    let (violations, operation) = match &policy.against {
        ValidateAgainst::Schema(schema) => {
            let empty = req.body.known_length() == Some(0);
            // Methods without a body by nature are not checked when none is sent.
            let bodiless = [Method::GET, Method::HEAD, Method::OPTIONS, Method::DELETE];
            if empty && bodiless.contains(&req.method) {
                return Ok(None);
            }
            let body = read_body(policy, route, req).await?;
            (check_body(schema, &body).err().unwrap_or_default(), None)
        }
        ValidateAgainst::OpenApi(api) => {
            let Some(found) = find(api, &req.method, req.uri.path()) else {
                if api.pass_unknown {
                    return Ok(None);
                }
                let why = "no operation of the API matches this request";
                return Err(refusal(ErrorKind::NotFound, why, &req.request_id));
            };
            let op = found.operation;
            let mut v = check_parameters(op, &found.path_values, req.uri.query(), &req.headers);
            if let Some(rule) = &op.body {
                let body = read_body(policy, route, req).await?;
                v.extend(check_operation_body(rule, &body));
            }
            (v, Some(found.index))
        }
    };
    if violations.is_empty() {
        Ok(operation)
    } else {
        Err(refused(policy, &violations))
    }
}

/// The 400 listing `violations`.
fn refused(policy: &ValidatePolicy, violations: &[Violation]) -> Response<ResponseBody> {
    let (content_type, text) = refusal_body(policy.errors, violations);
    let mut resp = Response::new(ResponseBody::full(text));
    *resp.status_mut() = StatusCode::BAD_REQUEST;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Reads the body whole and puts it back as the body sent upstream; the
/// error answer (413, 408, 400) when that fails.
async fn read_body(
    policy: &ValidatePolicy,
    route: &Route,
    req: &mut Incoming<'_>,
) -> Result<Bytes, Response<ResponseBody>> {
    if req.body.known_length().is_some_and(|n| n > policy.max_body) {
        return Err(error_response(&too_large(), &req.request_id));
    }
    let read = tokio::time::timeout(route.timeout, read_limited(&mut req.body, policy.max_body));
    let body = match read.await {
        Ok(Ok(body)) => body,
        Ok(Err(e)) => return Err(error_response(&e, &req.request_id)),
        Err(_) => {
            let e = ProxyError::client(
                ErrorKind::RequestTimeout,
                "request body not received in time",
            );
            return Err(error_response(&e, &req.request_id));
        }
    };
    req.body = RequestBody::Buffered(Some(body.clone()));
    Ok(body)
}

/// The whole body, refused with 413 past `max` bytes.
async fn read_limited(body: &mut RequestBody<'_>, max: u64) -> Result<Bytes, ProxyError> {
    body.read_within(max).await
}

/// What the response phase needs to check an answer.
#[derive(Debug)]
pub(crate) struct AnswerStep {
    worker: Arc<Worker>,
    policy: Arc<ValidatePolicy>,
    /// The OpenAPI operation the request matched (its index).
    operation: Option<usize>,
}

impl AnswerStep {
    /// The check of `policy`'s `answers`, counted in `worker`'s metrics;
    /// `operation` is what [`on_request`] matched.
    pub(super) fn new(
        worker: &Arc<Worker>,
        policy: &Arc<ValidatePolicy>,
        operation: Option<usize>,
    ) -> Self {
        Self {
            worker: worker.clone(),
            policy: policy.clone(),
            operation,
        }
    }

    /// The operation the request matched, when answers are checked against it.
    fn operation(&self) -> Option<&Operation> {
        match (&self.policy.against, self.operation) {
            (ValidateAgainst::OpenApi(api), Some(i)) => api.operations.get(i),
            _ => None,
        }
    }
}

/// Checks what can be checked of an answer at once (status and header
/// fields against the OpenAPI operation) and watches a JSON body to be
/// checked at its end (one announced larger than `max_body` is not);
/// other answers pass unseen. Never changes the answer.
pub(super) fn on_response(step: AnswerStep, route: &Route, resp: &mut Response<ResponseBody>) {
    let (head, schema) = match &step.policy.answers {
        Some(AnswerCheck::Schema(s)) => {
            let json = resp
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| is_json(ct.split(';').next().unwrap_or("").trim()));
            (Vec::new(), json.then(|| s.clone()))
        }
        Some(AnswerCheck::Operation) => {
            let Some(op) = step.operation() else { return };
            let head = check_head(op, resp.status().as_u16(), resp.headers());
            (head.violations, head.body.cloned())
        }
        None => return,
    };
    let too_big = resp
        .body()
        .exact_len()
        .is_some_and(|n| n > step.policy.max_body);
    let mut checker = AnswerChecker {
        step,
        route: route.name.clone(),
        status: resp.status().as_u16(),
        bytes: Some(BytesMut::new()),
        head,
        schema,
    };
    if checker.schema.is_none() || too_big {
        checker.report(Vec::new());
        return;
    }
    let inner = std::mem::replace(resp.body_mut(), ResponseBody::Empty);
    *resp.body_mut() = ResponseBody::Watched(Box::new(WatchedBody::new(inner, Box::new(checker))));
}

/// Keeps a copy of the answer (up to `max_body`) and checks it at its end.
struct AnswerChecker {
    step: AnswerStep,
    route: String,
    status: u16,
    /// `None` once the answer grew past `max_body` (then not checked).
    bytes: Option<BytesMut>,
    /// What its status and header fields showed.
    head: Vec<Violation>,
    /// The schema of its body.
    schema: Option<JsonSchema>,
}

impl AnswerChecker {
    /// Logs and counts the answer when anything was found (once per answer).
    fn report(&mut self, body: Vec<Violation>) {
        let mut violations = std::mem::take(&mut self.head);
        violations.extend(body);
        let Some(first) = violations.first() else {
            return;
        };
        let operation = self.step.operation().map_or("", |op| op.template.as_str());
        tracing::warn!(
            route = %self.route,
            operation = %operation,
            status = self.status,
            violations = violations.len(),
            pointer = %first.pointer,
            message = %first.message,
            "answer does not match what the validate policy expects (report mode: sent as is)"
        );
        self.step
            .worker
            .metrics
            .validation_failed(&self.route, "answer");
    }
}

impl Watcher for AnswerChecker {
    fn data(&mut self, data: &Bytes) {
        let max = self.step.policy.max_body;
        if let Some(b) = &mut self.bytes {
            if (b.len() + data.len()) as u64 > max {
                self.bytes = None;
            } else {
                b.extend_from_slice(data);
            }
        }
    }

    fn end(&mut self) {
        let body = match (self.bytes.take(), &self.schema) {
            (Some(bytes), Some(schema)) => check_body(schema, &bytes).err().unwrap_or_default(),
            _ => Vec::new(),
        };
        self.report(body);
    }
}
