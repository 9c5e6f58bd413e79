//! HTTP/2 connections (cleartext with prior knowledge, or TLS agreed by
//! ALPN), served on the `h2` crate directly with the listener's stream,
//! header-list and reset limits. Not hyper's HTTP/2 server: it cannot send
//! interim answers (1xx), which a proxy must forward (RFC 9110 §15.2).
//! Each stream runs on its own task (`h2_stream.rs`); this task drives the
//! connection: accepting streams, keep-alive PINGs, graceful shutdown, and
//! closing connections that reset streams or read answers abusively.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use h2::{Ping, PingPong};
use tokio::sync::{watch, Notify};
use tollgate_net::Rewind;

use super::h2_pace::ConnPace;
use super::h2_stream::{self, Shared};
use super::ListenerCtx;
use crate::forward::ClientInfo;
use crate::snapshot::Worker;

/// Interval of HTTP/2 PINGs that check the client still reads.
const H2_PING_EVERY: Duration = Duration::from_secs(30);
/// Windows and buffers as hyper's HTTP/2 server had them: 1 MiB per
/// stream and per connection (the RFC's 64 KiB throttles uploads over any
/// real round trip), 16 KiB frames, 400 KiB queued per stream.
const STREAM_WINDOW: u32 = 1024 * 1024;
const CONN_WINDOW: u32 = 1024 * 1024;
const MAX_FRAME: u32 = 16 * 1024;
const MAX_SEND_BUFFER: usize = 400 * 1024;

/// Serves an HTTP/2 connection whose first bytes (`prefix`) were already read.
pub(crate) async fn serve(
    stream: tollgate_net::InboundStream,
    prefix: Vec<u8>,
    client: ClientInfo,
    ctx: Arc<ListenerCtx>,
    worker: Arc<Worker>,
    mut shutdown: watch::Receiver<bool>,
) {
    let io = Rewind::new(prefix, stream);
    let limits = &ctx.http2;
    let mut builder = h2::server::Builder::new();
    builder
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONN_WINDOW)
        .max_frame_size(MAX_FRAME)
        .max_send_buffer_size(MAX_SEND_BUFFER)
        .max_concurrent_streams(limits.max_concurrent_streams)
        .max_header_list_size(limits.max_header_list_size)
        .max_pending_accept_reset_streams(limits.max_pending_resets)
        .max_local_error_reset_streams(Some(limits.max_pending_resets));
    // A client that agrees to HTTP/2 and never sends its preface and
    // SETTINGS holds nothing longer than a slow request head would.
    let handshake = tokio::time::timeout(
        ctx.limits.header_read_timeout,
        builder.handshake::<_, Bytes>(io),
    );
    let mut conn = tokio::select! {
        hs = handshake => match hs {
            Ok(Ok(conn)) => conn,
            Ok(Err(_)) | Err(_) => return,
        },
        _ = shutdown.changed() => return,
    };
    let pace = ConnPace::new(ctx.limits.min_send_rate, ctx.limits.send_rate_window);
    let peer = client.peer;
    let shared = Arc::new(Shared {
        listener: ctx.index,
        client,
        hsts: ctx.hsts.clone(),
        pace: pace.clone(),
        budget: ResetBudget {
            cancelled: AtomicUsize::new(0),
            completed: AtomicUsize::new(0),
            limit: limits.max_pending_resets,
            exceeded: Notify::new(),
        },
        open: OpenStreams::default(),
        worker,
    });
    // Both made once: a timer made afresh on every accepted stream would
    // never run out on a busy connection.
    let keepalive = keepalive(conn.ping_pong(), ctx.limits.send_timeout);
    let slow = slow_reader(pace.as_deref());
    let idle_for = ctx.limits.keepalive_timeout;
    let idle = tokio::time::sleep(idle_for);
    tokio::pin!(keepalive, slow, idle);
    let mut draining = false;
    loop {
        tokio::select! {
            next = conn.accept() => match next {
                Some(Ok((req, respond))) => {
                    shared.open.opened();
                    // Boxed: a task's future is copied whole when spawned and
                    // again when it ends; a pointer costs nothing to copy.
                    tokio::spawn(Box::pin(h2_stream::run(shared.clone(), req, respond)));
                }
                // Closed, or a connection error h2 already answered with GOAWAY.
                Some(Err(_)) | None => return,
            },
            // As an idle HTTP/1.1 keep-alive connection is closed after
            // `keepalive_timeout`, so is an HTTP/2 one without open streams
            // (GOAWAY first, so the client knows no stream was lost).
            () = &mut idle, if !draining => {
                if shared.open.count() == 0 {
                    draining = true;
                    conn.graceful_shutdown();
                } else {
                    idle.as_mut().reset(tokio::time::Instant::now() + idle_for);
                }
            }
            () = shared.open.last_ended.notified() => {
                idle.as_mut().reset(tokio::time::Instant::now() + idle_for);
            }
            // GOAWAY, then the streams in flight finish before `accept`
            // reports the end.
            _ = shutdown.changed(), if !draining => {
                draining = true;
                conn.graceful_shutdown();
            }
            // Dropping the connection closes it at once: a client resetting
            // streams faster than it lets them finish is attacking, not browsing.
            () = shared.budget.exceeded.notified() => return,
            // So is one that reads an answer slower than the listener's bound.
            () = &mut slow => {
                tracing::info!(client = %peer, "closing HTTP/2 connection: the client read an answer below min_send_rate");
                return;
            }
            // A peer that stops reading cannot answer PINGs: the connection is
            // closed instead of holding streams and upstream connections forever.
            () = &mut keepalive => return,
        }
    }
}

/// Resolves when a PING goes unanswered for `timeout`; PINGs every
/// [`H2_PING_EVERY`].
async fn keepalive(pings: Option<PingPong>, timeout: Duration) {
    let Some(mut pings) = pings else {
        return std::future::pending().await;
    };
    loop {
        tokio::time::sleep(H2_PING_EVERY).await;
        match tokio::time::timeout(timeout, pings.ping(Ping::opaque())).await {
            Ok(Ok(_)) => {}
            // The connection failed: `accept` reports it.
            Ok(Err(_)) => return std::future::pending().await,
            Err(_) => return,
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

/// Streams of one connection whose tasks have not ended, so an idle
/// connection can be told from a busy one.
#[derive(Debug, Default)]
pub(super) struct OpenStreams {
    open: AtomicUsize,
    /// Woken when the last open stream ends: the idle time starts then.
    last_ended: Notify,
}

impl OpenStreams {
    /// A stream was accepted (counted before its task is spawned).
    fn opened(&self) {
        self.open.fetch_add(1, Ordering::Relaxed);
    }

    /// Streams whose tasks are still running.
    fn count(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Ties a stream's task to the count: the returned guard ends it.
    pub(super) fn enter(&self) -> StreamEnds<'_> {
        StreamEnds(self)
    }
}

/// Ends one open stream when its task ends, however it ends.
pub(super) struct StreamEnds<'a>(&'a OpenStreams);

impl Drop for StreamEnds<'_> {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.0.last_ended.notify_one();
        }
    }
}

/// Client-cancelled streams on one connection (rapid reset, CVE-2023-44487):
/// each cancelled handler may already have cost an upstream request, so a
/// connection whose cancellations pass the limit and outnumber its completed
/// requests is closed.
#[derive(Debug)]
pub(super) struct ResetBudget {
    cancelled: AtomicUsize,
    completed: AtomicUsize,
    limit: usize,
    exceeded: Notify,
}

impl ResetBudget {
    /// A stream's handler answered.
    pub(super) fn completed(&self) {
        self.completed.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counts the handler as cancelled if it is dropped before it answered.
pub(super) struct CancelGuard<'a> {
    pub(super) budget: &'a ResetBudget,
    pub(super) armed: bool,
}

impl Drop for CancelGuard<'_> {
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
