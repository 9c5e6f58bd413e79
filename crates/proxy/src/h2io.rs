//! HTTP/2 streams on the `h2` crate, both sides (clients and upstreams):
//! a received stream as an [`http_body::Body`] ([`H2Body`]: DATA frames,
//! then trailers, flow-control capacity given back as each piece is taken)
//! and a body written onto a stream as the peer's window allows
//! ([`poll_send_body`]).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use h2::{RecvStream, SendStream};
use http::{header, HeaderMap};
use http_body::{Body, Frame, SizeHint};

/// A received HTTP/2 stream's body.
#[derive(Debug)]
pub struct H2Body {
    recv: RecvStream,
    /// Bytes still announced by `content-length`, when the peer sent one.
    left: Option<u64>,
    /// The DATA frames are over; trailers (if any) come next.
    data_done: bool,
}

impl H2Body {
    /// The body of a message whose fields are `headers`.
    pub(crate) fn new(recv: RecvStream, headers: &HeaderMap) -> Self {
        let left = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.parse().ok());
        Self {
            recv,
            left,
            data_done: false,
        }
    }
}

impl Body for H2Body {
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
                    // Given back as soon as the piece is taken: the peer's
                    // window then moves at the pace of whoever reads on.
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

/// How writing a body onto a stream ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Written {
    /// All of it, trailers included.
    Done,
    /// The peer reset the stream or the connection is gone.
    PeerGone,
    /// The body failed; the caller resets the stream so the peer does not
    /// take a cut message for a whole one.
    BodyFailed,
}

/// Writes `body` on `tx`, then its trailers if it has any. The body is
/// asked for its next piece only once the stream can take at least a byte
/// (as hyper did): a peer that does not read holds the body's source back
/// instead of filling tollgate's memory.
pub(crate) fn poll_send_body<B>(
    tx: &mut SendStream<Bytes>,
    body: &mut B,
    cx: &mut Context<'_>,
) -> Poll<Written>
where
    B: Body<Data = Bytes> + Unpin,
{
    loop {
        tx.reserve_capacity(1);
        if tx.capacity() == 0 {
            loop {
                match std::task::ready!(tx.poll_capacity(cx)) {
                    Some(Ok(0)) => {}
                    Some(Ok(_)) => break,
                    Some(Err(_)) | None => return Poll::Ready(Written::PeerGone),
                }
            }
        } else if tx.poll_reset(cx).is_ready() {
            return Poll::Ready(Written::PeerGone);
        }
        let frame = match std::task::ready!(Pin::new(&mut *body).poll_frame(cx)) {
            Some(Ok(frame)) => frame,
            Some(Err(_)) => return Poll::Ready(Written::BodyFailed),
            None => return Poll::Ready(sent(tx.send_data(Bytes::new(), true))),
        };
        match frame.into_data() {
            Ok(data) => {
                let end = body.is_end_stream();
                match tx.send_data(data, end) {
                    Ok(()) if !end => {}
                    other => return Poll::Ready(sent(other)),
                }
            }
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers() {
                    tx.reserve_capacity(0);
                    return Poll::Ready(sent(tx.send_trailers(trailers)));
                }
            }
        }
    }
}

fn sent(r: Result<(), h2::Error>) -> Written {
    match r {
        Ok(()) => Written::Done,
        Err(_) => Written::PeerGone,
    }
}

/// Waits until `tx` can take at least a byte; `false` when the stream is
/// gone.
pub(crate) async fn capacity(tx: &mut SendStream<Bytes>) -> bool {
    tx.reserve_capacity(1);
    std::future::poll_fn(|cx| loop {
        if tx.capacity() > 0 {
            return Poll::Ready(true);
        }
        match std::task::ready!(tx.poll_capacity(cx)) {
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return Poll::Ready(false),
        }
    })
    .await
}

/// Drops the fields HTTP/2 forbids in a message (RFC 9113 §8.2.2; h2
/// refuses to send a head carrying any), `TE: trailers` excepted in
/// requests. The pipeline drops them from what it forwards, so this only
/// guards messages tollgate made or changed.
pub(crate) fn strip_connection_fields(headers: &mut HeaderMap, request: bool) {
    // One pass over the fields finds the usual case (none of them) without
    // a hashed lookup per name.
    let connection_specific = |k: &header::HeaderName| {
        k == header::CONNECTION
            || k == header::TRANSFER_ENCODING
            || k == header::UPGRADE
            || k == header::TE
            || k.as_str() == "keep-alive"
            || k.as_str() == "proxy-connection"
    };
    if !headers.keys().any(connection_specific) {
        return;
    }
    if let Some(conn) = headers.remove(header::CONNECTION) {
        if let Ok(names) = conn.to_str() {
            for name in names.split(',') {
                headers.remove(name.trim());
            }
        }
    }
    for name in [
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        header::HeaderName::from_static("keep-alive"),
        header::HeaderName::from_static("proxy-connection"),
    ] {
        headers.remove(name);
    }
    let te_ok = request && headers.get(header::TE).is_none_or(|v| v == "trailers");
    if !te_ok {
        headers.remove(header::TE);
    }
}
