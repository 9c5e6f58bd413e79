//! The two halves of an HTTP/2 client's stream as the pipeline sees them:
//! the request body ([`H2ClientBody`], DATA frames then trailers, with
//! flow-control capacity given back as the pipeline takes each piece) and
//! the place interim answers (1xx) go before the final one ([`H2Respond`]).

use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use h2::server::SendResponse;
use h2::RecvStream;
use http::{HeaderMap, StatusCode};
use http_body::{Body, Frame, SizeHint};

/// An HTTP/2 client's request body.
#[derive(Debug)]
pub(crate) struct H2ClientBody {
    recv: RecvStream,
    /// Bytes still announced by `content-length`, when the client sent one.
    left: Option<u64>,
    /// The DATA frames are over; trailers (if any) come next.
    data_done: bool,
}

impl H2ClientBody {
    /// The body of a request whose fields are `headers`.
    pub(crate) fn new(recv: RecvStream, headers: &HeaderMap) -> Self {
        let left = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.parse().ok());
        Self {
            recv,
            left,
            data_done: false,
        }
    }
}

impl Body for H2ClientBody {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        let this = &mut *self;
        if !this.data_done {
            match std::task::ready!(this.recv.poll_data(cx)) {
                Some(Ok(data)) => {
                    // Given back as soon as the pipeline takes the piece: the
                    // client's window then moves at the pace of the upstream.
                    let _ = this.recv.flow_control().release_capacity(data.len());
                    if let Some(left) = &mut this.left {
                        *left = left.saturating_sub(data.len() as u64);
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => this.data_done = true,
            }
        }
        match std::task::ready!(this.recv.poll_trailers(cx)) {
            Ok(Some(trailers)) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
            Ok(None) => Poll::Ready(None),
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.recv.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        match self.left {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

/// The answering half of an HTTP/2 client's stream while the pipeline
/// runs: interim answers are sent through it, and the stream's task polls
/// it for the client's RST_STREAM. Both happen on the stream's one task,
/// so the lock is never contended; it only lets the pipeline borrow it
/// while the task watches for the reset.
#[derive(Debug)]
pub(crate) struct H2Respond(Mutex<SendResponse<Bytes>>);

impl H2Respond {
    /// The answering half of a stream.
    pub(super) fn new(respond: SendResponse<Bytes>) -> Self {
        Self(Mutex::new(respond))
    }

    /// The stream's handle, once the pipeline is done with it.
    pub(super) fn into_inner(self) -> SendResponse<Bytes> {
        self.0.into_inner().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, SendResponse<Bytes>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends an interim (1xx) answer before the final one (RFC 9110 §15.2);
    /// hop-by-hop fields are dropped and nothing of it is kept. A stream
    /// the client already reset takes nothing, silently: the final answer
    /// will meet the same reset.
    pub(crate) fn send_interim(&self, status: StatusCode, headers: &mut HeaderMap) {
        crate::forward::strip_hop_by_hop(headers, false, false);
        let mut head = http::Response::new(());
        *head.status_mut() = status;
        *head.headers_mut() = std::mem::take(headers);
        let _ = self.lock().send_informational(head);
    }
}
