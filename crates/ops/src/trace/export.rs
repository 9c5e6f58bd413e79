//! The exporter: spans go into a bounded queue (a full queue drops the
//! span and counts it, never waiting), and one thread, `tollgate-otlp`,
//! takes them out in batches and POSTs each batch to the collector.
//!
//! The thread sends through a minimal hyper HTTP/1.1 client of its own
//! (one kept-alive connection, opened again after any failure), not
//! through tollgate's upstream client: that client lives in the workers'
//! runtimes and pools, and export must neither compete with requests for
//! them nor need a route or upstream to be declared. A failed batch is
//! counted and dropped (no retry: the next batch is already waiting).

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tollgate_config::Tracing;

use super::context::{Sampler, TraceId, TraceParent};
use super::otlp::encode_request;
use super::span::SpanRecord;

/// Counts of spans by fate, kept across exporters a reload replaces.
#[derive(Debug, Default)]
struct Counters {
    dropped: AtomicU64,
    exported: AtomicU64,
    failed: AtomicU64,
}

/// What happened to spans so far (for `/metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceStats {
    /// Dropped because the queue was full.
    pub dropped: u64,
    /// Accepted by the collector (a 2xx answer).
    pub exported: u64,
    /// Lost with a failed export request (no connection, timeout, non-2xx).
    pub failed: u64,
}

/// The handle requests use: sampling, and the queue to the exporter
/// thread. The thread ends (after sending what is queued) when the last
/// handle is dropped.
#[derive(Debug)]
pub struct Tracer {
    tx: SyncSender<SpanRecord>,
    sampler: Sampler,
    counters: Arc<Counters>,
    config: Tracing,
}

impl Tracer {
    /// Starts the exporter thread for `config`; `previous` (the tracer a
    /// reload replaces) hands over its counts so they never go back.
    pub fn start(config: &Tracing, previous: Option<&Tracer>) -> io::Result<Arc<Self>> {
        let (tx, rx) = sync_channel(config.queue);
        let counters = previous.map_or_else(Default::default, |p| p.counters.clone());
        let thread_counters = counters.clone();
        let thread_config = config.clone();
        std::thread::Builder::new()
            .name("tollgate-otlp".into())
            .spawn(move || run(rx, &thread_config, &thread_counters))?;
        Ok(Arc::new(Self {
            tx,
            sampler: Sampler::new(config.sample_ratio),
            counters,
            config: config.clone(),
        }))
    }

    /// The configuration it was started with (a reload keeps the tracer
    /// when it is unchanged).
    pub fn config(&self) -> &Tracing {
        &self.config
    }

    /// Whether the trace of a request is recorded (see [`Sampler`]).
    pub fn sampled(&self, parent: Option<&TraceParent>, trace_id: &TraceId) -> bool {
        self.sampler.sampled(parent, trace_id)
    }

    /// Queues a finished span; when the queue is full it is dropped and
    /// counted, so a request never waits for export.
    pub fn submit(&self, span: SpanRecord) {
        match self.tx.try_send(span) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Spans dropped, exported and lost so far.
    pub fn stats(&self) -> TraceStats {
        TraceStats {
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            exported: self.counters.exported.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
        }
    }
}

/// The exporter thread: wait for a span, gather a batch (up to `batch`
/// spans or `batch_delay` after the first), send it, again; after the
/// last handle is gone, send what is left and stop.
fn run(rx: Receiver<SpanRecord>, config: &Tracing, counters: &Counters) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        tracing::error!("tracing: cannot start the exporter's runtime; spans are dropped");
        return;
    };
    let mut conn: Option<SendRequest<Full<Bytes>>> = None;
    let mut batch = Vec::with_capacity(config.batch);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        let until = Instant::now() + config.batch_delay;
        while batch.len() < config.batch {
            let left = until.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(span) => batch.push(span),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        let body = encode_request(&batch, &config.service_name);
        let n = batch.len() as u64;
        batch.clear();
        let sent = rt.block_on(async {
            tokio::time::timeout(config.otlp.timeout, post(&mut conn, config, body)).await
        });
        match sent {
            Ok(Ok(())) => {
                counters.exported.fetch_add(n, Ordering::Relaxed);
            }
            Ok(Err(e)) => {
                conn = None;
                counters.failed.fetch_add(n, Ordering::Relaxed);
                tracing::debug!("tracing: export of {n} spans failed: {e}");
            }
            Err(_) => {
                conn = None;
                counters.failed.fetch_add(n, Ordering::Relaxed);
                tracing::debug!("tracing: export of {n} spans timed out");
            }
        }
    }
}

/// One POST of a protobuf body; reuses the kept-alive connection.
async fn post(
    conn: &mut Option<SendRequest<Full<Bytes>>>,
    config: &Tracing,
    body: Vec<u8>,
) -> Result<(), String> {
    let authority = config.otlp.authority();
    let sender = match conn {
        Some(s) if s.is_ready() => s,
        _ => {
            let stream = tokio::net::TcpStream::connect(authority.as_str())
                .await
                .map_err(|e| format!("connect {authority}: {e}"))?;
            let _ = stream.set_nodelay(true);
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
            // Driven between exports too: the runtime runs it whenever
            // the thread is inside `block_on`.
            tokio::spawn(connection);
            conn.insert(sender)
        }
    };
    let req = http::Request::post(config.otlp.path.as_str())
        .header(http::header::HOST, authority.as_str())
        .header(http::header::CONTENT_TYPE, "application/x-protobuf")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    // Read to the end so the connection can carry the next batch.
    let _ = resp.into_body().collect().await;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("collector answered {status}"))
    }
}
