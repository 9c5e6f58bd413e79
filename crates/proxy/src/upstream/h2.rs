//! HTTP/2 to upstreams, cleartext with prior knowledge (h2c) or over TLS
//! agreed by ALPN (h2): one multiplexed connection per target and worker,
//! re-established when it closes. On the `h2` crate directly, not hyper's
//! client, which drops the upstream's interim answers (1xx) that a proxy
//! must forward (RFC 9110 §15.2).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use h2::client::{ResponseFuture, SendRequest};
use h2::SendStream;
use http::{Method, Response};
use http_body::{Body, Frame};
use tokio::sync::{oneshot, Mutex};
use tollgate_core::{ErrorKind, ProxyError};

use super::pool::TargetPool;
use crate::body::{too_large, InterimSink, RequestBody};
use crate::h2io::{capacity, poll_send_body, strip_connection_fields, H2Body, Written};

/// Windows and buffers as hyper's HTTP/2 client had them: 2 MiB per
/// stream, 5 MiB per connection, 1 MiB queued per stream, 16 KiB header
/// lists, 100 streams until the upstream's SETTINGS say otherwise.
const STREAM_WINDOW: u32 = 2 * 1024 * 1024;
const CONN_WINDOW: u32 = 5 * 1024 * 1024;
const MAX_SEND_BUFFER: usize = 1024 * 1024;
const MAX_HEADER_LIST: u32 = 16 * 1024;
const INITIAL_STREAMS: usize = 100;

/// An HTTP/2 client's request stream on its way upstream.
#[derive(Debug)]
pub(crate) struct Relay {
    body: H2Body,
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

impl Body for Relay {
    type Data = Bytes;
    type Error = ProxyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ProxyError>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        this.count
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
            let total = this
                .count
                .received
                .fetch_add(data.len() as u64, Ordering::Relaxed)
                + data.len() as u64;
            if total > this.limit {
                this.count.over_limit.store(true, Ordering::Relaxed);
                return Poll::Ready(Some(Err(too_large())));
            }
        }
        // Trailers pass on as they came (gRPC clients may send metadata there).
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }
}

/// A handle on a target's HTTP/2 connection, and its closed flag.
#[derive(Debug, Clone)]
pub(crate) struct H2Sender(SendRequest<Bytes>, Arc<AtomicBool>);

/// An open connection and whether its task has ended.
#[derive(Debug)]
struct Open {
    sender: SendRequest<Bytes>,
    closed: Arc<AtomicBool>,
}

impl Open {
    fn usable(&self) -> Option<H2Sender> {
        (!self.closed.load(Ordering::Relaxed))
            .then(|| H2Sender(self.sender.clone(), self.closed.clone()))
    }
}

/// The shared HTTP/2 connection of one target.
#[derive(Debug, Default)]
pub(crate) struct H2Session {
    open: Mutex<Option<Open>>,
}

impl H2Session {
    /// The open connection, or a new one (a connect error when that fails,
    /// so the caller can fail over to another target).
    pub(crate) async fn sender(&self, pool: &TargetPool) -> Result<H2Sender, ProxyError> {
        // The common case, an open connection nobody is replacing, needs
        // neither a wait nor an allocation.
        if let Ok(slot) = self.open.try_lock() {
            if let Some(s) = slot.as_ref().and_then(Open::usable) {
                return Ok(s);
            }
        }
        // Boxed: connecting and the handshake would otherwise enlarge every
        // request's future.
        Box::pin(self.connect(pool)).await
    }

    /// The open connection once the lock is free (another request may just
    /// have opened it), or a new one.
    async fn connect(&self, pool: &TargetPool) -> Result<H2Sender, ProxyError> {
        let mut slot = self.open.lock().await;
        if let Some(s) = slot.as_ref().and_then(Open::usable) {
            return Ok(s);
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
        let (sender, connection) = h2::client::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONN_WINDOW)
            .max_send_buffer_size(MAX_SEND_BUFFER)
            .max_header_list_size(MAX_HEADER_LIST)
            .initial_max_send_streams(INITIAL_STREAMS)
            .enable_push(false)
            .handshake::<_, Bytes>(conn.stream)
            .await
            .map_err(|e| {
                ProxyError::upstream(
                    ErrorKind::UpstreamConnect,
                    format!("h2 handshake with {}: {e}", pool.address),
                )
                .retryable()
            })?;
        let closed = Arc::new(AtomicBool::new(false));
        let ended = closed.clone();
        tokio::spawn(async move {
            // The connection ends when the upstream closes it or every sender is gone.
            let _ = connection.await;
            ended.store(true, Ordering::Relaxed);
        });
        let usable = H2Sender(sender.clone(), closed.clone());
        let open = Open { sender, closed };
        *slot = Some(open);
        Ok(usable)
    }
}

/// Sends `req` on `sender`, streaming `body` from the client while the
/// request runs, and forwards the upstream's interim answers (1xx) to the
/// client. An HTTP/2 client's body is relayed by a task of its own (full
/// duplex): the answer's head returns as soon as the upstream sends it,
/// while the body goes on streaming. Other bodies are read by this future,
/// which returns once the body is sent and the head arrived.
pub(crate) async fn send(
    sender: H2Sender,
    req: http::request::Builder,
    body: &mut RequestBody<'_>,
    forward_interim: bool,
) -> Result<Response<H2Body>, ProxyError> {
    let H2Sender(sender, closed) = sender;
    let mut sender = sender.ready().await.map_err(|e| {
        // Going away or broken: the next request opens a new connection
        // rather than wait for this one's task to end.
        closed.store(true, Ordering::Relaxed);
        send_error(&e)
    })?;
    let mut head = req.body(()).map_err(|e| {
        ProxyError::new(
            tollgate_core::ErrorSource::Internal,
            ErrorKind::Internal,
            format!("h2 request: {e}"),
        )
    })?;
    strip_connection_fields(head.headers_mut(), true);
    let known = body.known_length();
    if let Some(len) = known {
        // `content-length: 0` only where a body means something (as hyper did).
        let payload_method = !matches!(
            *head.method(),
            Method::GET | Method::HEAD | Method::DELETE | Method::CONNECT
        );
        if len != 0 || payload_method {
            head.headers_mut()
                .entry(http::header::CONTENT_LENGTH)
                .or_insert_with(|| len.into());
        }
    }
    if known == Some(0) {
        let (answer, _) = sender
            .send_request(head, true)
            .map_err(|e| send_error(&e))?;
        let mut on = OnInterim::new(forward_interim.then(|| body.interim_sink()).flatten());
        return answered(answer, &mut on).await.map_err(|e| send_error(&e));
    }
    if let RequestBody::H2 { .. } = body {
        return relay(sender, head, body, forward_interim).await;
    }
    let (answer, tx) = sender
        .send_request(head, false)
        .map_err(|e| send_error(&e))?;
    // The body holds the HTTP/1.1 client's connection while it is read:
    // interim answers wait until it is sent.
    let mut on = OnInterim::Keep(Vec::new());
    let (pumped, resp) = tokio::join!(pump(body, tx), answered(answer, &mut on));
    pumped?;
    let resp = resp.map_err(|e| send_error(&e))?;
    if let (OnInterim::Keep(kept), true) = (on, forward_interim) {
        if let Some(mut sink) = body.interim_sink() {
            for mut head in kept {
                sink.send(head.status, &mut head.headers).await;
            }
        }
    }
    Ok(resp)
}

/// Hands an HTTP/2 client's body to a task that relays it upstream.
async fn relay(
    mut sender: SendRequest<Bytes>,
    head: http::Request<()>,
    body: &mut RequestBody<'_>,
    forward_interim: bool,
) -> Result<Response<H2Body>, ProxyError> {
    let count = Arc::new(RelayCount::default());
    let RequestBody::H2 {
        body: client_body,
        limit,
        received,
        interim,
        ..
    } = std::mem::replace(body, RequestBody::Relayed(count.clone()))
    else {
        unreachable!("relay is only called with an HTTP/2 client's body")
    };
    count.received.store(received, Ordering::Relaxed);
    let relayed = Relay {
        body: client_body,
        limit,
        count: count.clone(),
    };
    let (answer, tx) = sender
        .send_request(head, false)
        .map_err(|e| send_error(&e))?;
    // Resets the upstream's stream if the answer is given up on (deadline,
    // client gone) before its head came.
    let (cancel, cancelled) = oneshot::channel();
    let mut cancel = CancelOnDrop(Some(cancel));
    tokio::spawn(relay_body(tx, relayed, cancelled));
    let mut on = OnInterim::new(forward_interim.then_some(InterimSink::H2(interim)));
    let resp = answered(answer, &mut on).await;
    // The head came: the relay goes on on its own.
    cancel.0 = None;
    resp.map_err(|e| {
        if count.over_limit.load(Ordering::Relaxed) {
            too_large()
        } else {
            send_error(&e)
        }
    })
}

/// Tells the relay to stop when dropped while still armed.
struct CancelOnDrop(Option<oneshot::Sender<()>>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// Relays a client's body until it ends, the upstream resets the stream,
/// or `cancelled` fires.
async fn relay_body(mut tx: SendStream<Bytes>, mut body: Relay, cancelled: oneshot::Receiver<()>) {
    let mut cancelled = Some(cancelled);
    let written = std::future::poll_fn(|cx| {
        if let Some(rx) = &mut cancelled {
            if let Poll::Ready(said) = Pin::new(rx).poll(cx) {
                // Dropped without a word (the head came): never a
                // cancellation, and not to be polled again.
                cancelled = None;
                if said.is_ok() {
                    return Poll::Ready(Written::PeerGone);
                }
            }
        }
        poll_send_body(&mut tx, &mut body, cx)
    })
    .await;
    if written != Written::Done {
        tx.send_reset(h2::Reason::CANCEL);
    }
}

/// Reads a body tollgate holds (HTTP/1.1 client, or kept for retries) onto
/// the upstream's stream.
async fn pump(body: &mut RequestBody<'_>, mut tx: SendStream<Bytes>) -> Result<(), ProxyError> {
    loop {
        // The upstream stopped taking the body (it answered or reset the
        // stream): its answer says what happened.
        if !capacity(&mut tx).await {
            return Ok(());
        }
        match body.next_data().await {
            Ok(Some(data)) => {
                if tx.send_data(data, false).is_err() {
                    return Ok(());
                }
            }
            Ok(None) => {
                let _ = tx.send_data(Bytes::new(), true);
                return Ok(());
            }
            Err(e) => {
                tx.send_reset(h2::Reason::CANCEL);
                return Err(e);
            }
        }
    }
}

/// What becomes of interim answers while the final one is awaited.
enum OnInterim<'s> {
    /// Forwarded at once.
    Forward(InterimSink<'s>),
    /// Kept, to be forwarded once the request body is sent.
    Keep(Vec<http::response::Parts>),
    /// Dropped (HTTP/1.0 clients).
    Drop,
}

impl<'s> OnInterim<'s> {
    fn new(sink: Option<InterimSink<'s>>) -> Self {
        sink.map_or(OnInterim::Drop, OnInterim::Forward)
    }
}

/// The upstream's final answer; interim ones before it go to `on`.
async fn answered(
    mut answer: ResponseFuture,
    on: &mut OnInterim<'_>,
) -> Result<Response<H2Body>, h2::Error> {
    loop {
        let next = std::future::poll_fn(|cx| {
            if !matches!(on, OnInterim::Drop) {
                if let Poll::Ready(Some(Ok(head))) = answer.poll_informational(cx) {
                    return Poll::Ready(Err(head));
                }
            }
            Pin::new(&mut answer).poll(cx).map(Ok)
        })
        .await;
        let interim = match next {
            Ok(resp) => {
                let resp = resp?;
                let (parts, recv) = resp.into_parts();
                let body = H2Body::new(recv, &parts.headers);
                return Ok(Response::from_parts(parts, body));
            }
            Err(interim) => interim,
        };
        let (mut parts, ()) = interim.into_parts();
        match on {
            OnInterim::Forward(sink) => sink.send(parts.status, &mut parts.headers).await,
            OnInterim::Keep(kept) => kept.push(parts),
            OnInterim::Drop => {}
        }
    }
}

/// The 502 for a failed HTTP/2 exchange, naming what the upstream did: the
/// RST_STREAM or GOAWAY it sent and its error code, when that was it.
pub(crate) fn send_error(e: &h2::Error) -> ProxyError {
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
