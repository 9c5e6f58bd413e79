//! HTTP/2 connections (cleartext, prior knowledge), served by hyper with
//! the listener's stream, header-list and reset limits.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http::Request;
use hyper::body::Incoming as HyperBody;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::sync::{watch, Notify};
use tollgate_net::Rewind;

use super::h2_log::{LoggedBody, Pending};
use super::h2_pace::{ConnPace, PacedBody};
use super::ListenerCtx;
use crate::body::RequestBody;
use crate::forward::ClientInfo;
use crate::pipeline::{self, error_response, Exchange, Incoming};
use crate::snapshot::Worker;

/// Interval of HTTP/2 PINGs that check the client still reads.
const H2_PING_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves an HTTP/2 connection whose first bytes (`prefix`) were already read.
pub(crate) async fn serve(
    stream: tollgate_net::InboundStream,
    prefix: Vec<u8>,
    client: ClientInfo,
    ctx: Arc<ListenerCtx>,
    worker: Arc<Worker>,
    mut shutdown: watch::Receiver<bool>,
) {
    let io = TokioIo::new(Rewind::new(prefix, stream));
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(ctx.http2.max_concurrent_streams)
        .max_header_list_size(ctx.http2.max_header_list_size)
        .max_pending_accept_reset_streams(ctx.http2.max_pending_resets)
        .max_local_error_reset_streams(ctx.http2.max_pending_resets)
        // A peer that stops reading cannot answer PINGs: the connection is
        // closed instead of holding streams and upstream connections forever.
        .keep_alive_interval(Some(H2_PING_EVERY))
        .keep_alive_timeout(ctx.limits.send_timeout);
    let listener = ctx.index;
    let hsts = ctx.hsts.clone();
    let peer = client.peer;
    let pace = ConnPace::new(ctx.limits.min_send_rate, ctx.limits.send_rate_window);
    let paces = pace.clone();
    let resets = Arc::new(ResetBudget {
        cancelled: AtomicUsize::new(0),
        completed: AtomicUsize::new(0),
        limit: ctx.http2.max_pending_resets,
        exceeded: Notify::new(),
    });
    let budget = resets.clone();
    let service = service_fn(move |req: Request<HyperBody>| {
        let worker = worker.clone();
        let client = client.clone();
        let hsts = hsts.clone();
        let stream_pace = paces.as_ref().map(|p| p.track());
        let guard = CancelGuard {
            budget: budget.clone(),
            armed: true,
        };
        // Boxed so hyper moves a pointer, not the whole pipeline state, into each stream task.
        Box::pin(async move {
            let mut guard = guard;
            let mut resp = handle(&worker, listener, client, req).await;
            if let Some(v) = hsts {
                resp.headers_mut()
                    .entry(http::header::STRICT_TRANSPORT_SECURITY)
                    .or_insert(v);
            }
            guard.armed = false;
            guard.budget.completed.fetch_add(1, Ordering::Relaxed);
            Ok::<_, Infallible>(resp.map(|b| PacedBody::new(b, stream_pace)))
        })
    });
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = shutdown.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
        // Dropping the connection closes it at once: a client resetting
        // streams faster than it lets them finish is attacking, not browsing.
        _ = resets.exceeded.notified() => {}
        // So is one that reads an answer slower than the listener's bound.
        () = slow_reader(pace.as_deref()) => {
            tracing::info!(client = %peer, "closing HTTP/2 connection: the client read an answer below min_send_rate");
        }
    }
}

/// Resolves when a stream reads too slowly; never without a bound.
async fn slow_reader(pace: Option<&ConnPace>) {
    match pace {
        Some(p) => p.too_slow().await,
        None => std::future::pending().await,
    }
}

/// Client-cancelled streams on one connection (rapid reset, CVE-2023-44487):
/// each cancelled handler may already have cost an upstream request, so a
/// connection whose cancellations pass the limit and outnumber its completed
/// requests is closed.
#[derive(Debug)]
struct ResetBudget {
    cancelled: AtomicUsize,
    completed: AtomicUsize,
    limit: usize,
    exceeded: Notify,
}

/// Counts the handler as cancelled if it is dropped before it answered.
struct CancelGuard {
    budget: Arc<ResetBudget>,
    armed: bool,
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let cancelled = self.budget.cancelled.fetch_add(1, Ordering::Relaxed) + 1;
        if cancelled > self.budget.limit
            && cancelled > self.budget.completed.load(Ordering::Relaxed)
        {
            self.budget.exceeded.notify_one();
        }
    }
}

async fn handle(
    worker: &Arc<Worker>,
    listener: usize,
    client: ClientInfo,
    req: Request<HyperBody>,
) -> http::Response<LoggedBody> {
    let start = Instant::now();
    let wall = SystemTime::now();
    let in_flight = worker
        .metrics
        .hold(listener, crate::metrics::Gauge::Request);
    let (parts, body) = req.into_parts();
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
    let mut incoming = Incoming {
        listener,
        client,
        method: parts.method,
        uri: parts.uri,
        version: parts.version,
        headers: parts.headers,
        body: RequestBody::H2 {
            body,
            limit: u64::MAX,
            received: 0,
            waiting: false,
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
