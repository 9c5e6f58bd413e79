//! HTTP/2 to upstreams, cleartext with prior knowledge (h2c) or over TLS
//! agreed by ALPN (h2): one multiplexed connection per target and worker,
//! re-established when it closes.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::{mpsc, Mutex};
use tollgate_core::{ErrorKind, ProxyError};

use super::pool::TargetPool;
use crate::body::{too_large, RequestBody};

/// A request body handed to hyper: nothing, pieces sent over a channel
/// by the task that reads them from the client, or an HTTP/2 client's
/// stream relayed frame by frame.
#[derive(Debug)]
pub(crate) enum H2RequestBody {
    /// No body.
    Empty,
    /// Pieces as they arrive.
    Channel(mpsc::Receiver<Result<Bytes, ProxyError>>, Option<u64>),
    /// An HTTP/2 client's stream, polled by the upstream connection itself,
    /// so the answer can flow back while the client still sends (full
    /// duplex: gRPC bidirectional streams).
    Relay(Box<Relay>),
}

/// An HTTP/2 client's request stream on its way upstream.
#[derive(Debug)]
pub(crate) struct Relay {
    body: crate::server::H2ClientBody,
    limit: u64,
    count: Arc<RelayCount>,
}

/// What the relay of a request body saw, read by the access log and by the
/// request once the upstream answered.
#[derive(Debug, Default)]
pub(crate) struct RelayCount {
    received: AtomicU64,
    over_limit: AtomicBool,
    /// The last poll of the client's body found nothing yet: a deadline
    /// now is the client's fault (408), not the upstream's.
    waiting: AtomicBool,
}

impl RelayCount {
    /// Body bytes relayed so far.
    pub(crate) fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Whether the relay was waiting for the client's next bytes.
    pub(crate) fn waiting(&self) -> bool {
        self.waiting.load(Ordering::Relaxed)
    }
}

impl Relay {
    fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ProxyError>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        self.count
            .waiting
            .store(polled.is_pending(), Ordering::Relaxed);
        let frame = match std::task::ready!(polled) {
            None => return Poll::Ready(None),
            Some(Err(e)) => {
                return Poll::Ready(Some(Err(ProxyError::client(
                    ErrorKind::BadRequest,
                    format!("request body: {e}"),
                ))))
            }
            Some(Ok(frame)) => frame,
        };
        if let Some(data) = frame.data_ref() {
            let total = self
                .count
                .received
                .fetch_add(data.len() as u64, Ordering::Relaxed)
                + data.len() as u64;
            if total > self.limit {
                self.count.over_limit.store(true, Ordering::Relaxed);
                return Poll::Ready(Some(Err(too_large())));
            }
        }
        // Trailers pass on as they came (gRPC clients may send metadata there).
        Poll::Ready(Some(Ok(frame)))
    }
}

impl Body for H2RequestBody {
    type Data = Bytes;
    type Error = ProxyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ProxyError>>> {
        match self.get_mut() {
            H2RequestBody::Empty => Poll::Ready(None),
            H2RequestBody::Channel(rx, _) => {
                rx.poll_recv(cx).map(|o| o.map(|r| r.map(Frame::data)))
            }
            H2RequestBody::Relay(r) => r.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            H2RequestBody::Empty => true,
            H2RequestBody::Channel(..) => false,
            H2RequestBody::Relay(r) => r.body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            H2RequestBody::Empty => SizeHint::with_exact(0),
            H2RequestBody::Channel(_, Some(n)) => SizeHint::with_exact(*n),
            H2RequestBody::Channel(_, None) => SizeHint::default(),
            H2RequestBody::Relay(r) => r.body.size_hint(),
        }
    }
}

/// A handle on a target's HTTP/2 connection, ready for requests.
pub(crate) type H2Sender = SendRequest<H2RequestBody>;

/// The shared HTTP/2 connection of one target.
#[derive(Debug, Default)]
pub(crate) struct H2Session {
    sender: Mutex<Option<SendRequest<H2RequestBody>>>,
}

impl H2Session {
    /// The open connection, or a new one (a connect error when that fails,
    /// so the caller can fail over to another target).
    pub(crate) async fn sender(&self, pool: &TargetPool) -> Result<H2Sender, ProxyError> {
        // The common case, an open connection nobody is replacing, needs
        // neither a wait nor an allocation.
        if let Ok(slot) = self.sender.try_lock() {
            if let Some(s) = slot.as_ref().filter(|s| !s.is_closed()) {
                return Ok(s.clone());
            }
        }
        // Boxed: connecting and the handshake would otherwise enlarge every
        // request's future.
        Box::pin(self.open(pool)).await
    }

    /// The open connection once the lock is free (another request may just
    /// have opened it), or a new one.
    async fn open(&self, pool: &TargetPool) -> Result<H2Sender, ProxyError> {
        let mut slot = self.sender.lock().await;
        if let Some(s) = slot.as_ref() {
            if !s.is_closed() {
                return Ok(s.clone());
            }
        }
        let conn = pool.connect().await?;
        if pool.is_tls() && !tollgate_net::tls::is_h2(conn.stream.alpn()) {
            return Err(ProxyError::upstream(
                ErrorKind::UpstreamProtocol,
                format!(
                    "upstream {} did not agree to HTTP/2 by ALPN (it chose {})",
                    pool.address,
                    conn.stream.alpn().map_or("nothing".into(), |p| format!(
                        "`{}`",
                        String::from_utf8_lossy(p)
                    ))
                ),
            )
            // Another target may speak HTTP/2.
            .retryable());
        }
        let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .handshake(TokioIo::new(conn.stream))
            .await
            .map_err(|e| {
                ProxyError::upstream(
                    ErrorKind::UpstreamConnect,
                    format!("h2 handshake with {}: {e}", pool.address),
                )
                .retryable()
            })?;
        tokio::spawn(async move {
            // The connection ends when the upstream closes it or every sender is gone.
            let _ = connection.await;
        });
        *slot = Some(sender.clone());
        Ok(sender)
    }
}

/// Sends `req` on `sender`, streaming `body` from the client while the
/// request runs. An HTTP/2 client's body is handed over whole (full
/// duplex): the answer's head returns as soon as the upstream sends it,
/// while the body goes on streaming. Other bodies are read by this future,
/// which returns once the body is sent and the head arrived.
pub(crate) async fn send(
    mut sender: H2Sender,
    req: http::request::Builder,
    body: &mut RequestBody<'_>,
) -> Result<Response<hyper::body::Incoming>, ProxyError> {
    sender.ready().await.map_err(|e| send_error(&e))?;
    let known = body.known_length();
    if known == Some(0) {
        let req = build(req, H2RequestBody::Empty)?;
        return sender.send_request(req).await.map_err(|e| send_error(&e));
    }
    if matches!(body, RequestBody::H2 { .. }) {
        let count = Arc::new(RelayCount::default());
        let taken = std::mem::replace(body, RequestBody::Relayed(count.clone()));
        if let RequestBody::H2 {
            body: incoming,
            limit,
            received,
            ..
        } = taken
        {
            count.received.store(received, Ordering::Relaxed);
            let relay = Relay {
                body: incoming,
                limit,
                count: count.clone(),
            };
            let req = build(req, H2RequestBody::Relay(Box::new(relay)))?;
            return sender.send_request(req).await.map_err(|e| {
                if count.over_limit.load(Ordering::Relaxed) {
                    too_large()
                } else {
                    send_error(&e)
                }
            });
        }
    }
    let (tx, rx) = mpsc::channel(4);
    let req = build(req, H2RequestBody::Channel(rx, known))?;
    let pump = async move {
        loop {
            match body.next_data().await {
                Ok(Some(data)) => {
                    if tx.send(Ok(data)).await.is_err() {
                        return Ok(());
                    }
                }
                Ok(None) => return Ok(()),
                Err(e) => {
                    let _ = tx.send(Err(e.clone())).await;
                    return Err(e);
                }
            }
        }
    };
    let (pumped, answer) = tokio::join!(pump, sender.send_request(req));
    pumped?;
    answer.map_err(|e| send_error(&e))
}

fn build(
    req: http::request::Builder,
    body: H2RequestBody,
) -> Result<Request<H2RequestBody>, ProxyError> {
    req.body(body).map_err(|e| {
        ProxyError::new(
            tollgate_core::ErrorSource::Internal,
            ErrorKind::Internal,
            format!("h2 request: {e}"),
        )
    })
}

/// The 502 for a failed HTTP/2 exchange, naming what the upstream did: the
/// RST_STREAM or GOAWAY it sent and its error code, when that was it.
pub(crate) fn send_error(e: &hyper::Error) -> ProxyError {
    ProxyError::upstream(ErrorKind::UpstreamProtocol, describe(e))
}

/// `h2 upstream: ...` with the stream or connection error's code.
pub(crate) fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(h2e) = err.downcast_ref::<h2::Error>() {
            if let Some(reason) = h2e.reason() {
                let by = if h2e.is_remote() {
                    "the upstream"
                } else {
                    "tollgate"
                };
                if h2e.is_go_away() {
                    return format!("h2 upstream: connection closed by {by} (GOAWAY {reason:?})");
                }
                if h2e.is_reset() {
                    return format!("h2 upstream: stream reset by {by} (RST_STREAM {reason:?})");
                }
                return format!("h2 upstream: protocol error ({reason:?})");
            }
            if let Some(io) = h2e.get_io() {
                return format!("h2 upstream: connection failed: {io}");
            }
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            // h2 hands a connection error to streams as an I/O error
            // wrapping the h2 error, when the connection is gone.
            if let Some(inner) = io.get_ref() {
                if inner.is::<h2::Error>() {
                    source = Some(inner);
                    continue;
                }
            }
        }
        source = err.source();
    }
    let mut text = format!("h2 upstream: {e}");
    let mut source = e.source();
    while let Some(err) = source {
        text.push_str(&format!(": {err}"));
        source = err.source();
    }
    text
}
