//! The access line of an HTTP/2 request, written when its answer's body
//! ends rather than when its head is ready: the stream's task writes the
//! body after the pipeline returned, so only the body itself knows how many
//! bytes left and when (a download the client cancels half way is logged with the bytes
//! sent until then, `end: "aborted"`).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderValue, Method};
use http_body::{Body, Frame, SizeHint};
use tollgate_core::ProxyError;
use tollgate_ops::AccessRecord;

use crate::body::ResponseBody;
use crate::pipeline::Exchange;
use crate::snapshot::Worker;

/// What is known of a request when its answer's head is ready.
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) worker: Arc<Worker>,
    /// The listener's index (the `listener` label of request counts).
    pub(super) listener: usize,
    pub(super) wall: SystemTime,
    pub(super) start: Instant,
    pub(super) request_id: HeaderValue,
    pub(super) client: SocketAddr,
    pub(super) method: Method,
    pub(super) host: String,
    pub(super) path: String,
    /// The request fields `access_log.headers` names, as received.
    pub(super) fields: Vec<(http::HeaderName, Option<HeaderValue>)>,
    pub(super) status: u16,
    pub(super) bytes_in: u64,
    pub(super) exchange: Exchange,
    /// A gRPC call: its status may come in the trailers.
    pub(super) grpc: bool,
    /// The `grpc-status` of the answer's head, if any.
    pub(super) grpc_status: Option<u16>,
    /// Counts the request in flight until the answer's body ends.
    pub(super) _in_flight: crate::metrics::Held,
}

/// An answer's body that counts the bytes handed to the stream and writes the
/// access line once, when the body ends or is dropped.
#[derive(Debug)]
pub(crate) struct LoggedBody {
    inner: ResponseBody,
    line: Option<Pending>,
    sent: u64,
    /// `None` while the body runs; then how it ended.
    end: Option<&'static str>,
}

impl LoggedBody {
    /// `inner`, with the access line `line` written (when the access log
    /// is on) and the request counted in the worker's metrics at its end.
    pub(super) fn new(inner: ResponseBody, line: Option<Pending>) -> Self {
        Self {
            inner,
            line,
            sent: 0,
            end: None,
        }
    }
}

impl Body for LoggedBody {
    type Data = Bytes;
    type Error = ProxyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ProxyError>>> {
        let this = self.get_mut();
        let next = std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx));
        match &next {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.sent += data.len() as u64;
                } else if let (Some(trailers), Some(line)) = (frame.trailers_ref(), &mut this.line)
                {
                    if line.grpc {
                        line.grpc_status =
                            crate::pipeline::grpc_head_status(trailers).or(line.grpc_status);
                    }
                }
            }
            Some(Err(_)) => this.end = Some("error"),
            None => this.end = this.end.or(Some("complete")),
        }
        Poll::Ready(next)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for LoggedBody {
    fn drop(&mut self) {
        let Some(p) = self.line.take() else {
            return;
        };
        // Dropped before its end: the stream was reset (client cancelled,
        // connection gone), unless nothing was left to send.
        let end = self.end.unwrap_or(if self.inner.is_end_stream() {
            "complete"
        } else {
            "aborted"
        });
        p.worker.metrics.record(crate::metrics::Served {
            listener: p.listener,
            route: p.exchange.route,
            upstream: p.exchange.upstream.map(|(u, _)| u),
            target: p.exchange.upstream.map(|(_, t)| t),
            upstream_connect: p.exchange.upstream_connect,
            status: p.status,
            bytes_in: p.bytes_in,
            bytes_out: self.sent,
            duration: p.start.elapsed(),
            upstream_time: p.exchange.upstream_time,
        });
        p.worker
            .metrics
            .decided(p.exchange.auth, p.exchange.limited.as_deref());
        let consumer = p.exchange.consumer.as_ref().map(|c| c.name());
        p.worker.metrics.consumer_served(consumer, p.status);
        crate::trace::end_server(&p.worker, &p.exchange, p.status);
        if !p.worker.log.enabled() {
            return;
        }
        let trace_id = p.exchange.trace.as_ref().map(|t| t.trace_id_hex());
        let snapshot = &p.worker.snapshot;
        p.worker.log.record(&AccessRecord {
            start: p.wall,
            request_id: p.request_id.to_str().unwrap_or(""),
            client: p.client,
            method: p.method.as_str(),
            host: &p.host,
            path: p.exchange.logged_target.as_deref().unwrap_or(&p.path),
            status: p.status,
            bytes_in: p.bytes_in,
            bytes_out: self.sent,
            duration: p.start.elapsed(),
            route: p
                .exchange
                .route
                .map(|i| snapshot.config.routes[i].name.as_str()),
            upstream: p.exchange.upstream_address(&p.worker),
            grpc_status: p.grpc_status,
            timeout: p.exchange.timeout,
            dropped_headers: p.exchange.dropped_headers,
            consumer: p.exchange.consumer.as_ref().map(|c| c.name()),
            auth: p.exchange.auth,
            limit: p.exchange.limited.as_deref(),
            upstream_time: p.exchange.upstream_time,
            upstream_connect_time: p.exchange.upstream_connect,
            upstream_body_time: p.exchange.upstream_head_at.map(|at| at.elapsed()),
            end: Some(end),
            trace_id: trace_id.as_ref().and_then(|b| std::str::from_utf8(b).ok()),
            headers: &p.fields,
        });
    }
}
