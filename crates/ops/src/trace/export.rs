//! The exporter: finished spans are encoded as OTLP protobuf into
//! per-thread buffers (a full buffer drops the span and counts it, never
//! waiting), and one thread, `tollgate-otlp`, collects them on its own
//! timer and POSTs them in batches to the collector.
//!
//! A span is encoded once, on the request's thread, from the borrowed
//! record straight into the buffer's bytes; the exporter only puts a
//! batch's header in front of them (`otlp.rs`). The exporter swaps each
//! buffer for its own emptied one and writes every batch into one reused
//! output buffer, so neither side allocates once the buffers have grown.
//!
//! The hand-off never wakes a thread per span: a request locks its own
//! thread's buffer (an uncontended mutex, each on its own cache line) and
//! pushes. The exporter sleeps `batch_delay` between collections and is
//! woken early only when a buffer reaches a full batch, so a wake-up (a
//! futex call and maybe a cross-core interrupt) happens at most once per
//! batch, not per span as a channel's `send` did.
//!
//! The thread sends through a minimal hyper HTTP/1.1 client of its own
//! (one kept-alive connection, opened again after any failure), not
//! through tollgate's upstream client: that client lives in the workers'
//! runtimes and pools, and export must neither compete with requests for
//! them nor need a route or upstream to be declared. A failed batch is
//! counted and dropped (no retry: the next batch is already waiting).

use std::cell::Cell;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::Thread;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tollgate_config::Tracing;

use super::context::{Sampler, TraceId, TraceParent};
use super::otlp::{encode_span, write_request};
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

/// Encoded spans: their `Span` messages one after the other, and where
/// each ends.
#[derive(Debug, Default)]
struct Encoded {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Encoded {
    fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }
}

/// One thread's buffer, alone on its cache lines so that threads pushing
/// into neighbouring buffers do not contend.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Buffer(Mutex<Encoded>);

/// What the requests' threads and the exporter thread share.
#[derive(Debug)]
struct Shared {
    buffers: Box<[Buffer]>,
    /// Spans one buffer holds at most (`queue`: each thread's share is
    /// the whole queue, so one busy worker has as much room while the
    /// exporter is sending as a single queue gave it).
    per_buffer: usize,
    /// A buffer reaching this many spans wakes the exporter (once: only
    /// the push that reaches it does): a full batch, or half the buffer
    /// when that is less, so it is collected before it fills.
    wake_at: usize,
    /// Set when the last handle is gone: send what is left and stop.
    closed: AtomicBool,
    counters: Arc<Counters>,
}

/// Threads are given buffers in turn, on their first span.
static NEXT_BUFFER: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's turn (`usize::MAX` until its first span).
    static TURN: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// The calling thread's buffer index among `n`.
fn my_buffer(n: usize) -> usize {
    TURN.with(|t| {
        if t.get() == usize::MAX {
            t.set(NEXT_BUFFER.fetch_add(1, Ordering::Relaxed));
        }
        t.get() % n
    })
}

/// The handle requests use: sampling, and the buffers the exporter
/// thread collects. The thread ends (after sending what is buffered) when
/// the last handle is dropped.
#[derive(Debug)]
pub struct Tracer {
    shared: Arc<Shared>,
    exporter: Thread,
    sampler: Sampler,
    config: Tracing,
}

impl Tracer {
    /// Starts the exporter thread for `config`; `previous` (the tracer a
    /// reload replaces) hands over its counts so they never go back.
    pub fn start(config: &Tracing, previous: Option<&Tracer>) -> io::Result<Arc<Self>> {
        // About one buffer per thread that serves requests: workers are
        // at most one per core as a rule, twice that leaves room.
        let n = std::thread::available_parallelism().map_or(4, |n| n.get() * 2);
        let n = n.clamp(1, 64);
        let per_buffer = config.queue.max(1);
        let shared = Arc::new(Shared {
            buffers: (0..n).map(|_| Buffer::default()).collect(),
            per_buffer,
            wake_at: config.batch.clamp(1, (per_buffer / 2).max(1)),
            closed: AtomicBool::new(false),
            counters: previous.map_or_else(Default::default, |p| p.shared.counters.clone()),
        });
        let thread_shared = shared.clone();
        let thread_config = config.clone();
        let handle = std::thread::Builder::new()
            .name("tollgate-otlp".into())
            .spawn(move || run(&thread_shared, &thread_config))?;
        Ok(Arc::new(Self {
            shared,
            exporter: handle.thread().clone(),
            sampler: Sampler::new(config.sample_ratio),
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

    /// Encodes a finished span into the thread's buffer; when that is
    /// full the span is dropped and counted, so a request never waits for
    /// export.
    pub fn submit(&self, span: &SpanRecord<'_>) {
        let s = &*self.shared;
        let buffer = &s.buffers[my_buffer(s.buffers.len())];
        let len = {
            let mut spans = buffer.0.lock().unwrap_or_else(PoisonError::into_inner);
            if spans.ends.len() >= s.per_buffer {
                drop(spans);
                s.counters.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            encode_span(&mut spans.bytes, span);
            let end = spans.bytes.len();
            spans.ends.push(end);
            spans.ends.len()
        };
        if len == s.wake_at {
            self.exporter.unpark();
        }
    }

    /// Spans dropped, exported and lost so far.
    pub fn stats(&self) -> TraceStats {
        let c = &self.shared.counters;
        TraceStats {
            dropped: c.dropped.load(Ordering::Relaxed),
            exported: c.exported.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        self.exporter.unpark();
    }
}

/// The exporter thread: sleep `batch_delay` (or until a buffer holds a
/// full batch), take each buffer's spans in turn and send them in
/// batches of at most `batch`, again; once the last handle is gone, send
/// what is left and stop.
fn run(shared: &Shared, config: &Tracing) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        tracing::error!("tracing: cannot start the exporter's runtime; spans are dropped");
        return;
    };
    let mut conn: Option<SendRequest<Full<Bytes>>> = None;
    // Swapped with each buffer in turn: the buffer gets this emptied one
    // back, capacity and all.
    let mut taken = Encoded::default();
    let mut out = BytesMut::new();
    loop {
        std::thread::park_timeout(config.batch_delay);
        // Read before collecting: a span buffered before the last handle
        // went is then collected in this round at the latest.
        let closed = shared.closed.load(Ordering::Acquire);
        for buffer in shared.buffers.iter() {
            std::mem::swap(
                &mut *buffer.0.lock().unwrap_or_else(PoisonError::into_inner),
                &mut taken,
            );
            let mut first = 0;
            for ends in taken.ends.chunks(config.batch.max(1)) {
                let last = ends[ends.len() - 1];
                let body = batch_body(&mut out, config, &taken.bytes, first, ends);
                send(&rt, &mut conn, config, &shared.counters, body, ends.len());
                first = last;
            }
            taken.clear();
        }
        if closed {
            return;
        }
    }
}

/// One batch's request body, written into `out` (whose memory comes back
/// to it once the previous body was sent and dropped): the spans ending
/// at `ends`, the first beginning at `first` in `bytes`.
fn batch_body(
    out: &mut BytesMut,
    config: &Tracing,
    bytes: &[u8],
    first: usize,
    ends: &[usize],
) -> Bytes {
    let last = ends.last().copied().unwrap_or(first);
    out.reserve(last - first + 8 * ends.len() + 256);
    write_request(out, &config.service_name, bytes, first, ends);
    out.split().freeze()
}

/// POSTs one batch of `n` spans, counting them by the outcome.
fn send(
    rt: &tokio::runtime::Runtime,
    conn: &mut Option<SendRequest<Full<Bytes>>>,
    config: &Tracing,
    counters: &Counters,
    body: Bytes,
    n: usize,
) {
    let n = n as u64;
    let sent = rt.block_on(async {
        tokio::time::timeout(config.otlp.timeout, post(conn, config, body)).await
    });
    match sent {
        Ok(Ok(())) => {
            counters.exported.fetch_add(n, Ordering::Relaxed);
        }
        Ok(Err(e)) => {
            *conn = None;
            counters.failed.fetch_add(n, Ordering::Relaxed);
            tracing::debug!("tracing: export of {n} spans failed: {e}");
        }
        Err(_) => {
            *conn = None;
            counters.failed.fetch_add(n, Ordering::Relaxed);
            tracing::debug!("tracing: export of {n} spans timed out");
        }
    }
}

/// One POST of a protobuf body; reuses the kept-alive connection.
async fn post(
    conn: &mut Option<SendRequest<Full<Bytes>>>,
    config: &Tracing,
    body: Bytes,
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
        .body(Full::new(body))
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
