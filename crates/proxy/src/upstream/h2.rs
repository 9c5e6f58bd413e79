//! HTTP/2 to upstreams, cleartext with prior knowledge (h2c) or over TLS
//! agreed by ALPN (h2): one multiplexed connection per target and worker,
//! re-established when it closes.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::{mpsc, Mutex};
use tollgate_core::{ErrorKind, ProxyError};

use super::pool::TargetPool;
use crate::body::RequestBody;

/// A request body handed to hyper: nothing, or pieces sent over a channel
/// by the task that reads them from the client.
#[derive(Debug)]
pub(crate) enum H2RequestBody {
    /// No body.
    Empty,
    /// Pieces as they arrive.
    Channel(mpsc::Receiver<Result<Bytes, ProxyError>>, Option<u64>),
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
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, H2RequestBody::Empty)
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            H2RequestBody::Empty => SizeHint::with_exact(0),
            H2RequestBody::Channel(_, Some(n)) => SizeHint::with_exact(*n),
            H2RequestBody::Channel(_, None) => SizeHint::default(),
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
/// request runs.
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

fn send_error(e: &hyper::Error) -> ProxyError {
    ProxyError::upstream(ErrorKind::UpstreamProtocol, format!("h2 upstream: {e}"))
}
