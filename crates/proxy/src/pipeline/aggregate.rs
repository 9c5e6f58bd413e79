//! The `aggregate` target: the calls go through the same upstream path as
//! an ordinary route (`forward_upstream`: balancer, health, retries,
//! breaker, pools), in waves (`tollgate_gateway::aggregate::waves`), at
//! most `max_concurrency` at once; the answers are merged into one JSON
//! document with a `Server-Timing` field.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures_util::future::join_all;
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Response, StatusCode, Uri, Version};
use http_body_util::BodyExt;
use serde_json::Value;
use tokio::sync::Semaphore;
use tollgate_config::{Aggregate, Call, CallPart, Merge, Route};
use tollgate_core::{ErrorKind, ProxyError};
use tollgate_gateway::aggregate::{
    is_json, merge_text, pointer_text, server_timing, waves, Answer, CallError,
};

use super::upstream::forward_upstream;
use super::{request_host, Exchange, Incoming};
use crate::body::{RequestBody, ResponseBody};
use crate::policy::RequestVars;
use crate::snapshot::Worker;

static SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

/// A call's JSON answer: as received, or parsed when a later call takes a
/// value from it or the merge is deep.
enum Got {
    Text(BytesMut),
    Parsed(Value),
}

/// What became of one call.
enum Outcome {
    /// Its JSON answer, and how long it took.
    Done(Got, Duration),
    /// Why it failed (and how long it took, when it ran).
    Failed(CallError, Option<Duration>),
}

/// Runs every call and answers with the merged document; a required
/// call's failure is a 502 naming it.
pub(super) async fn serve(
    worker: &Worker,
    route: &Route,
    agg: &Aggregate,
    req: &Incoming<'_>,
    ex: &Exchange,
    deadline: tokio::time::Instant,
) -> Result<Response<ResponseBody>, ProxyError> {
    let mut outcomes: Vec<Option<Outcome>> = (0..agg.calls.len()).map(|_| None).collect();
    let permits = Semaphore::new(agg.max_concurrency);
    for wave in waves(&agg.calls) {
        let runs = wave.iter().map(|&i| {
            let prepared = prepare(route, &agg.calls[i], req, ex, &outcomes);
            let permits = &permits;
            async move {
                let outcome = match prepared {
                    Ok(sub) => {
                        // The semaphore is never closed.
                        let _permit = permits.acquire().await.ok();
                        run(worker, route, agg, i, sub, ex, deadline).await
                    }
                    Err(e) => Outcome::Failed(e, None),
                };
                (i, outcome)
            }
        });
        for (i, outcome) in join_all(runs).await {
            if let (Outcome::Failed(e, _), true) = (&outcome, agg.calls[i].required) {
                return Err(ProxyError::upstream(
                    ErrorKind::UpstreamProtocol,
                    format!("aggregate call `{}` failed: {}", e.call, e.reason),
                ));
            }
            outcomes[i] = Some(outcome);
        }
    }
    Ok(answer(agg, outcomes))
}

/// The merged answer with its `Server-Timing`.
fn answer(agg: &Aggregate, outcomes: Vec<Option<Outcome>>) -> Response<ResponseBody> {
    let mut answers = Vec::new();
    let mut errors = Vec::new();
    let mut timings = Vec::new();
    for (call, outcome) in agg.calls.iter().zip(outcomes) {
        match outcome {
            Some(Outcome::Done(got, d)) => {
                timings.push((call.name.as_str(), d));
                let answer = match got {
                    Got::Text(t) => Answer::Text(t),
                    Got::Parsed(v) => Answer::Parsed(v),
                };
                answers.push((call.name.clone(), answer));
            }
            Some(Outcome::Failed(e, d)) => {
                if let Some(d) = d {
                    timings.push((call.name.as_str(), d));
                }
                errors.push(e);
            }
            None => {}
        }
    }
    let timing = server_timing(timings);
    let body = merge_text(agg.merge, answers, &errors);
    let mut resp = Response::new(ResponseBody::full(body));
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&timing) {
        h.insert(&SERVER_TIMING, v);
    }
    resp
}

/// The request of one call: its method, rendered path, the client's Host
/// and the call's own fields; no body.
fn prepare<'r>(
    route: &Route,
    call: &Call,
    req: &'r Incoming<'_>,
    ex: &Exchange,
    outcomes: &[Option<Outcome>],
) -> Result<Incoming<'r>, CallError> {
    let failed = |reason: String| CallError {
        call: call.name.clone(),
        status: None,
        reason,
    };
    if let Some(a) = call.after {
        if !matches!(outcomes[a], Some(Outcome::Done(..))) {
            return Err(failed("the call it depends on failed".into()));
        }
    }
    let host = request_host(&req.uri, &req.headers);
    let vars = RequestVars::new(route, req, &host).with_identity(ex);
    let mut target = String::new();
    for part in &call.path {
        match part {
            CallPart::Text(t) => vars.render(t, &mut target),
            CallPart::Answer { call: c, pointer } => {
                // `c` is the call's `after` (validated), checked above.
                let Some(Outcome::Done(Got::Parsed(v), _)) = &outcomes[*c] else {
                    return Err(failed("the call it depends on failed".into()));
                };
                let text = pointer_text(v, pointer).ok_or_else(|| {
                    failed(format!(
                        "no value at `{pointer}` in the answer it depends on"
                    ))
                })?;
                target.push_str(&text);
            }
        }
    }
    let uri: Uri = target
        .parse()
        .map_err(|_| failed(format!("`{target}` is not a request target")))?;
    let mut headers = HeaderMap::new();
    if let Some(h) = req.headers.get(header::HOST) {
        headers.insert(header::HOST, h.clone());
    }
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    for (name, t) in &call.headers {
        if let Some(v) = vars.header_value(t) {
            headers.insert(name, v);
        }
    }
    Ok(Incoming {
        listener: req.listener,
        client: req.client.clone(),
        method: call.method.clone(),
        uri,
        version: Version::HTTP_11,
        headers,
        body: RequestBody::Empty,
        upgrade: false,
        request_id: req.request_id.clone(),
        grpc: None,
    })
}

/// Sends one call (identity headers from `ex`) and reads its JSON answer.
async fn run(
    worker: &Worker,
    route: &Route,
    agg: &Aggregate,
    index: usize,
    mut sub: Incoming<'_>,
    ex: &Exchange,
    deadline: tokio::time::Instant,
) -> Outcome {
    let call = &agg.calls[index];
    let started = Instant::now();
    let failed = |status: Option<u16>, reason: String| {
        Outcome::Failed(
            CallError {
                call: call.name.clone(),
                status,
                reason,
            },
            Some(started.elapsed()),
        )
    };
    let mut sub_ex = Exchange {
        consumer: ex.consumer.clone(),
        token: ex.token.clone(),
        ..Exchange::default()
    };
    let until = deadline.min(tokio::time::Instant::now() + call.timeout);
    let sent = forward_upstream(worker, route, call.upstream, &mut sub, &mut sub_ex, until);
    let resp = match tokio::time::timeout_at(until, sent).await {
        Ok(Ok(resp)) => resp,
        Ok(Err(e)) => return failed(None, e.message.to_string()),
        Err(_) => return failed(None, "timed out".into()),
    };
    let status = resp.status().as_u16();
    if !resp.status().is_success() {
        return failed(Some(status), format!("upstream answered {status}"));
    }
    let read = tokio::time::timeout_at(until, read_body(resp.into_body(), agg.max_body));
    let bytes = match read.await {
        Ok(Ok(b)) => b,
        Ok(Err(reason)) => return failed(Some(status), reason),
        Err(_) => return failed(Some(status), "timed out reading the answer".into()),
    };
    // Parsed only when something reads into it; else checked and kept
    // as text, copied into the merged answer as it is.
    let parse = agg.merge == Merge::Deep || agg.calls.iter().any(|c| c.after == Some(index));
    let got = if parse {
        serde_json::from_slice(&bytes).ok().map(Got::Parsed)
    } else {
        is_json(&bytes).then_some(Got::Text(bytes))
    };
    match got {
        Some(got) => Outcome::Done(got, started.elapsed()),
        None => failed(Some(status), "the answer is not JSON".into()),
    }
}

async fn read_body(mut body: ResponseBody, max: u64) -> Result<BytesMut, String> {
    let mut all = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("reading the answer: {e}"))?;
        if let Ok(data) = frame.into_data() {
            if (all.len() + data.len()) as u64 > max {
                return Err("the answer is larger than `max_body`".into());
            }
            all.extend_from_slice(&data);
        }
    }
    Ok(all)
}
