//! One HTTP/2 stream, on its own task: the request through the pipeline
//! (dropped if the client resets the stream first), interim answers as the
//! upstream sends them, then the final answer's head and its body written
//! as the client's flow-control window allows.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use h2::server::SendResponse;
use h2::{RecvStream, SendStream};
use http::{header, HeaderValue, Request, Response};
use http_body::Body;

use super::h2::{CancelGuard, OpenStreams, ResetBudget};
use super::h2_body::H2Respond;
use super::h2_log::{LoggedBody, Pending};
use super::h2_pace::{ConnPace, PacedBody};
use crate::body::RequestBody;
use crate::forward::ClientInfo;
use crate::h2io::{poll_send_body, strip_connection_fields, H2Body, Written};
use crate::pipeline::{self, error_response, Exchange, Incoming};
use crate::snapshot::Worker;

/// What every stream of a connection shares (one reference count per
/// stream rather than one per field).
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) listener: usize,
    pub(super) client: ClientInfo,
    pub(super) hsts: Option<HeaderValue>,
    pub(super) pace: Option<Arc<ConnPace>>,
    pub(super) budget: ResetBudget,
    pub(super) open: OpenStreams,
    pub(super) worker: Arc<Worker>,
}

/// Serves one stream to its end.
pub(super) async fn run(
    shared: Arc<Shared>,
    req: Request<RecvStream>,
    respond: SendResponse<Bytes>,
) {
    let _open = shared.open.enter();
    let respond = H2Respond::new(respond);
    let resp = {
        let mut guard = CancelGuard {
            budget: &shared.budget,
            armed: true,
        };
        let mut handled = pin!(handle(&shared, req, &respond));
        let answered = std::future::poll_fn(|cx| {
            if let Poll::Ready(resp) = handled.as_mut().poll(cx) {
                return Poll::Ready(Some(resp));
            }
            // The client reset the stream (or the connection is gone): the
            // pipeline is dropped, cancelling its upstream request.
            match respond.lock().poll_reset(cx) {
                Poll::Ready(_) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            }
        })
        .await;
        let Some(resp) = answered else { return };
        guard.armed = false;
        shared.budget.completed();
        resp
    };
    let (mut head, body) = resp.into_parts();
    if let Some(v) = &shared.hsts {
        head.headers
            .entry(header::STRICT_TRANSPORT_SECURITY)
            .or_insert_with(|| v.clone());
    }
    strip_connection_fields(&mut head.headers, false);
    head.headers
        .entry(header::DATE)
        .or_insert_with(|| shared.worker.date.now());
    let stream_pace = shared.pace.as_ref().map(|p| p.track());
    let body = PacedBody::new(body, stream_pace);
    let mut respond = respond.into_inner();
    if body.is_end_stream() {
        let _ = respond.send_response(Response::from_parts(head, ()), true);
        return;
    }
    if let Some(len) = body.size_hint().exact() {
        head.headers
            .entry(header::CONTENT_LENGTH)
            .or_insert_with(|| HeaderValue::from(len));
    }
    let Ok(tx) = respond.send_response(Response::from_parts(head, ()), false) else {
        return;
    };
    write_body(tx, body).await;
}

/// Writes `body` on `tx`; a body that fails resets the stream so the
/// client does not take a cut answer for a whole one.
async fn write_body(mut tx: SendStream<Bytes>, mut body: PacedBody) {
    let written = std::future::poll_fn(|cx| poll_send_body(&mut tx, &mut body, cx)).await;
    if written == Written::BodyFailed {
        tx.send_reset(h2::Reason::INTERNAL_ERROR);
    }
}

/// Runs the pipeline for one request; the answer's body writes the access
/// line when it ends.
async fn handle(
    shared: &Shared,
    req: Request<RecvStream>,
    respond: &H2Respond,
) -> Response<LoggedBody> {
    let worker = &shared.worker;
    let listener = shared.listener;
    let start = Instant::now();
    let wall = SystemTime::now();
    let in_flight = worker
        .metrics
        .hold(listener, crate::metrics::Gauge::Request);
    let (parts, recv) = req.into_parts();
    let request_id = match parts.headers.get(&pipeline::DEFAULT_REQUEST_ID) {
        Some(v) if !v.is_empty() && v.len() <= 200 => v.clone(),
        _ => worker.new_request_id(),
    };
    // Host and path are copied only for the access log; the metrics need
    // neither.
    let logged = worker.log.enabled().then(|| {
        let host = pipeline::request_host(&parts.uri, &parts.headers).into_owned();
        let path = parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned());
        let fields = crate::server::logged_fields(&worker.snapshot.config, &parts.headers);
        (host, path, parts.method.clone(), fields)
    });
    let grpc = pipeline::GrpcCall::of(&parts.headers);
    let body = H2Body::new(recv, &parts.headers);
    let mut incoming = Incoming {
        listener,
        client: shared.client.clone(),
        method: parts.method,
        uri: parts.uri,
        version: parts.version,
        headers: parts.headers,
        body: RequestBody::H2 {
            body,
            limit: u64::MAX,
            received: 0,
            waiting: false,
            interim: respond,
        },
        upgrade: false,
        request_id: request_id.clone(),
        grpc,
    };
    let mut ex = Exchange::default();
    let mut resp = match pipeline::handle(worker, &mut incoming, &mut ex).await {
        Ok(r) => r,
        Err(e) => error_response(&e, &request_id),
    };
    // gRPC clients read tollgate's errors as statuses, not JSON bodies.
    let grpc_status = match incoming.grpc {
        Some(_) => {
            resp = pipeline::grpc_reshape(resp);
            pipeline::grpc_head_status(resp.headers())
        }
        None => None,
    };
    let status = resp.status().as_u16();
    let (host, path, method, fields) = logged.unwrap_or_default();
    let line = Some(Pending {
        worker: worker.clone(),
        listener,
        wall,
        start,
        request_id,
        client: incoming.client.peer,
        method,
        host,
        path,
        fields,
        status,
        bytes_in: incoming.body.received(),
        exchange: ex,
        grpc: incoming.grpc.is_some(),
        grpc_status,
        _in_flight: in_flight,
    });
    resp.map(|body| LoggedBody::new(body, line))
}
