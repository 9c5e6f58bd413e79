//! Body types of the data path. Request bodies are read from the client
//! connection while the upstream is written; response bodies are read from
//! the upstream while the client is written. Nothing is buffered whole.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use tollgate_core::{ErrorKind, ProxyError};

use crate::h2io::H2Body;
use crate::policy::cache::TeeBody;
use crate::policy::compress::CompressBody;
use crate::server::{ClientIo, H1RequestBody, H2Respond};
use crate::snapshot::InFlightTicket;
use crate::upstream::{describe_h2_error, RelayCount, UpstreamBody};

/// A request body on its way upstream.
#[derive(Debug)]
pub(crate) enum RequestBody<'a> {
    /// No body.
    Empty,
    /// An HTTP/1.1 body read from the client connection.
    H1(H1RequestBody<'a>),
    /// No body, from an HTTP/1.1 client whose connection interim answers
    /// (1xx) can be written to.
    H1None(&'a mut ClientIo),
    /// A body read whole beforehand (kept to be sent again on a retry);
    /// `None` once sent.
    Buffered(Option<Bytes>),
    /// An HTTP/2 stream's body.
    H2 {
        /// The stream.
        body: H2Body,
        /// Most bytes accepted.
        limit: u64,
        /// Bytes received so far.
        received: u64,
        /// A frame is being waited for (see [`RequestBody::waiting_on_client`]).
        waiting: bool,
        /// Where interim answers (1xx) go.
        interim: &'a H2Respond,
    },
    /// An HTTP/2 stream handed whole to an HTTP/2 upstream (full duplex);
    /// what it relayed so far.
    Relayed(std::sync::Arc<RelayCount>),
}

impl RequestBody<'_> {
    /// Exact length, when known before reading.
    pub(crate) fn known_length(&self) -> Option<u64> {
        match self {
            RequestBody::Empty | RequestBody::H1None(_) => Some(0),
            RequestBody::Buffered(b) => Some(b.as_ref().map_or(0, |b| b.len() as u64)),
            RequestBody::H1(b) => b.known_length(),
            RequestBody::Relayed(_) => None,
            RequestBody::H2 { body, .. } => {
                if body.is_end_stream() {
                    Some(0)
                } else {
                    body.size_hint().exact()
                }
            }
        }
    }

    /// The next piece of the body; `None` at its end.
    pub(crate) async fn next_data(&mut self) -> Result<Option<Bytes>, ProxyError> {
        match self {
            // Already on its way: nothing is left to read here.
            RequestBody::Empty | RequestBody::H1None(_) | RequestBody::Relayed(_) => Ok(None),
            RequestBody::Buffered(b) => Ok(b.take()),
            RequestBody::H1(b) => b.next_data().await,
            RequestBody::H2 {
                body,
                limit,
                received,
                waiting,
                ..
            } => loop {
                *waiting = true;
                let frame = body.frame().await;
                *waiting = false;
                match frame {
                    None => return Ok(None),
                    Some(Err(e)) => {
                        return Err(ProxyError::client(
                            ErrorKind::BadRequest,
                            format!("request body: {e}"),
                        ))
                    }
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            *received += data.len() as u64;
                            if *received > *limit {
                                return Err(too_large());
                            }
                            return Ok(Some(data));
                        }
                    }
                }
            },
        }
    }

    /// Whether there is no body to send.
    pub(crate) fn is_none(&self) -> bool {
        matches!(self, RequestBody::Empty | RequestBody::H1None(_))
    }

    /// Where to send interim answers (1xx), once the body was read: the
    /// HTTP/1.1 client connection or the HTTP/2 client's stream.
    pub(crate) fn interim_sink(&mut self) -> Option<InterimSink<'_>> {
        match self {
            RequestBody::H1(b) => Some(InterimSink::H1(b.client_io())),
            RequestBody::H1None(io) => Some(InterimSink::H1(io)),
            RequestBody::H2 { interim, .. } => Some(InterimSink::H2(interim)),
            _ => None,
        }
    }

    /// Reads the whole body into memory (the caller checked its length).
    pub(crate) async fn read_all(&mut self) -> Result<Bytes, ProxyError> {
        let mut all = Gather::new(self.known_length());
        while let Some(data) = self.next_data().await? {
            all.push(data);
        }
        Ok(all.finish())
    }

    /// Reads the whole body into memory for a policy that needs all of it;
    /// past `limit` bytes (announced or received) it is a 413.
    pub(crate) async fn read_within(&mut self, limit: u64) -> Result<Bytes, ProxyError> {
        if self.known_length().is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let mut all = Gather::new(self.known_length());
        while let Some(data) = self.next_data().await? {
            if (all.len() + data.len()) as u64 > limit {
                return Err(too_large());
            }
            all.push(data);
        }
        Ok(all.finish())
    }

    /// Sets the most bytes the body may have (the route's limit).
    pub(crate) fn set_limit(&mut self, max: u64) {
        match self {
            RequestBody::Empty
            | RequestBody::H1None(_)
            | RequestBody::Buffered(_)
            | RequestBody::Relayed(_) => {}
            RequestBody::H1(b) => b.set_limit(max),
            RequestBody::H2 { limit, .. } => *limit = max,
        }
    }

    /// Whether the body was waiting for the client's next bytes when it was
    /// last left: a deadline that cancelled it found the client slow, not
    /// the upstream.
    pub(crate) fn waiting_on_client(&self) -> bool {
        match self {
            RequestBody::Empty | RequestBody::H1None(_) | RequestBody::Buffered(_) => false,
            RequestBody::H1(b) => b.waiting_on_client(),
            RequestBody::H2 { waiting, .. } => *waiting,
            RequestBody::Relayed(count) => count.waiting(),
        }
    }

    /// Body bytes received from the client so far.
    pub(crate) fn received(&self) -> u64 {
        match self {
            RequestBody::Empty | RequestBody::H1None(_) | RequestBody::Buffered(_) => 0,
            RequestBody::H1(b) => b.received(),
            RequestBody::H2 { received, .. } => *received,
            RequestBody::Relayed(count) => count.received(),
        }
    }
}

/// Where an upstream's interim answers (1xx) are forwarded to.
#[derive(Debug)]
pub(crate) enum InterimSink<'s> {
    /// An HTTP/1.1 client connection.
    H1(&'s mut ClientIo),
    /// An HTTP/2 client's stream.
    H2(&'s H2Respond),
}

impl InterimSink<'_> {
    /// Forwards one interim answer; hop-by-hop fields are dropped.
    pub(crate) async fn send(&mut self, status: http::StatusCode, headers: &mut http::HeaderMap) {
        match self {
            InterimSink::H1(io) => io.write_interim(status, headers).await,
            InterimSink::H2(respond) => respond.send_interim(status, headers),
        }
    }
}

/// The pieces of a body read whole. A body that came in one piece (most
/// small ones) is kept as that piece, without a copy; from the second piece
/// on they go into one buffer, sized by the announced length when there is
/// one, so it is not grown piece by piece.
#[derive(Debug)]
pub(crate) struct Gather {
    one: Option<Bytes>,
    all: bytes::BytesMut,
    announced: usize,
}

impl Gather {
    /// Nothing gathered yet; `announced` is the length the message gave.
    pub(crate) fn new(announced: Option<u64>) -> Self {
        Self {
            one: None,
            all: bytes::BytesMut::new(),
            announced: announced.and_then(|n| usize::try_from(n).ok()).unwrap_or(0),
        }
    }

    /// Bytes gathered so far.
    pub(crate) fn len(&self) -> usize {
        self.one.as_ref().map_or(self.all.len(), Bytes::len)
    }

    /// Adds the next piece.
    pub(crate) fn push(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        if self.one.is_none() && self.all.is_empty() {
            self.one = Some(data);
            return;
        }
        if let Some(one) = self.one.take() {
            self.all.reserve(self.announced.max(one.len() + data.len()));
            self.all.extend_from_slice(&one);
        }
        self.all.extend_from_slice(&data);
    }

    /// The whole body.
    pub(crate) fn finish(self) -> Bytes {
        match self.one {
            Some(one) => one,
            None => self.all.freeze(),
        }
    }
}

/// The 413 error for a body over the route's limit.
pub(crate) fn too_large() -> ProxyError {
    ProxyError::client(ErrorKind::PayloadTooLarge, "request body too large")
}

/// A response body on its way to the client.
// Not boxed: the upstream variant is the one nearly every answer uses, and
// boxing it would add a heap allocation per request to keep the rare small
// variants small.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum ResponseBody {
    /// No body.
    Empty,
    /// A body in memory (fixed responses, errors).
    Full(Bytes),
    /// Streamed from an HTTP/1.1 upstream connection.
    Upstream(UpstreamBody),
    /// Streamed from an HTTP/2 upstream; the request counts as in flight
    /// on its target until this body is dropped.
    H2(H2Body, InFlightTicket),
    /// Streamed from a static file.
    File(tollgate_edge::static_files::FileBody),
    /// Compressed on its way (the `compress` policy).
    Compress(Box<CompressBody>),
    /// Copied into the cache on its way (the `cache` policy).
    Tee(Box<TeeBody>),
    /// A body holding something (a `concurrency_limit` permit) until it
    /// ends or is dropped.
    Held(Box<HeldBody>),
    /// A body a [`Watcher`] sees go by (report-only checks of answers).
    Watched(Box<WatchedBody>),
}

/// Sees the bytes of an answer on their way, and its complete end; it
/// cannot change them.
pub(crate) trait Watcher: Send + Sync {
    /// A piece of the body, as sent.
    fn data(&mut self, data: &Bytes);
    /// The body ended complete (not called when it failed or was dropped).
    fn end(&mut self);
}

/// A body and its [`Watcher`].
pub struct WatchedBody {
    inner: ResponseBody,
    watcher: Option<Box<dyn Watcher>>,
}

impl WatchedBody {
    /// `inner`, seen by `watcher`.
    pub(crate) fn new(inner: ResponseBody, watcher: Box<dyn Watcher>) -> Self {
        Self {
            inner,
            watcher: Some(watcher),
        }
    }

    fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ProxyError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(w)) = (frame.data_ref(), self.watcher.as_mut()) {
                    w.data(data);
                }
                // A writer may stop polling once the body says it is over.
                if self.inner.is_end_stream() {
                    if let Some(mut w) = self.watcher.take() {
                        w.end();
                    }
                }
            }
            Poll::Ready(None) => {
                if let Some(mut w) = self.watcher.take() {
                    w.end();
                }
            }
            Poll::Ready(Some(Err(_))) => self.watcher = None,
            Poll::Pending => {}
        }
        polled
    }
}

impl std::fmt::Debug for WatchedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchedBody")
            .field("inner", &self.inner)
            .field("watching", &self.watcher.is_some())
            .finish()
    }
}

/// A body and what it holds until its end.
pub struct HeldBody {
    inner: ResponseBody,
    held: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl HeldBody {
    /// `inner`, holding `held` until it ends.
    pub(crate) fn new(inner: ResponseBody, held: Box<dyn std::any::Any + Send + Sync>) -> Self {
        Self {
            inner,
            held: Some(held),
        }
    }

    fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ProxyError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        // Released at the end (or a failure), not when the connection is
        // next reused.
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) || self.inner.is_end_stream() {
            self.held = None;
        }
        polled
    }
}

impl std::fmt::Debug for HeldBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldBody")
            .field("inner", &self.inner)
            .field("holding", &self.held.is_some())
            .finish()
    }
}

impl ResponseBody {
    /// A body holding `bytes`.
    pub(crate) fn full(bytes: impl Into<Bytes>) -> Self {
        let b = bytes.into();
        if b.is_empty() {
            Self::Empty
        } else {
            Self::Full(b)
        }
    }

    /// Exact length, when known before sending.
    pub(crate) fn exact_len(&self) -> Option<u64> {
        match self {
            ResponseBody::Empty => Some(0),
            ResponseBody::Full(b) => Some(b.len() as u64),
            ResponseBody::Upstream(u) => u.exact_len(),
            ResponseBody::H2(b, _) => b.size_hint().exact(),
            ResponseBody::File(f) => Some(f.remaining()),
            ResponseBody::Compress(_) => None,
            ResponseBody::Tee(t) => t.exact_len(),
            ResponseBody::Held(h) => h.inner.exact_len(),
            ResponseBody::Watched(w) => w.inner.exact_len(),
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = ProxyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ProxyError>>> {
        let this = self.get_mut();
        match this {
            ResponseBody::Empty => Poll::Ready(None),
            ResponseBody::Full(b) => {
                let data = std::mem::take(b);
                *this = ResponseBody::Empty;
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
            ResponseBody::Upstream(u) => u.poll_data(cx).map(|o| o.map(|r| r.map(Frame::data))),
            ResponseBody::H2(b, _) => Pin::new(b).poll_frame(cx).map(|o| {
                o.map(|r| {
                    r.map_err(|e| {
                        ProxyError::upstream(
                            ErrorKind::UpstreamProtocol,
                            format!("upstream body: {}", describe_h2_error(&e)),
                        )
                    })
                })
            }),
            ResponseBody::File(f) => f.poll_chunk(cx).map(|o| {
                o.map(|r| {
                    r.map(Frame::data).map_err(|e| {
                        ProxyError::new(
                            tollgate_core::ErrorSource::Internal,
                            ErrorKind::Internal,
                            format!("static file: {e}"),
                        )
                    })
                })
            }),
            ResponseBody::Compress(c) => c.poll_data(cx),
            ResponseBody::Tee(t) => t.poll_data(cx),
            ResponseBody::Held(h) => h.poll_data(cx),
            ResponseBody::Watched(w) => w.poll_data(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Empty => true,
            ResponseBody::Full(b) => b.is_empty(),
            ResponseBody::Upstream(u) => u.is_done(),
            ResponseBody::H2(b, _) => b.is_end_stream(),
            ResponseBody::File(f) => f.remaining() == 0,
            ResponseBody::Compress(c) => c.is_end_stream(),
            ResponseBody::Tee(t) => t.is_end_stream(),
            ResponseBody::Held(h) => h.inner.is_end_stream(),
            ResponseBody::Watched(w) => w.inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self.exact_len() {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}
