//! A response body streamed from an HTTP/1.1 upstream connection. When the
//! body ends cleanly the connection goes back to its pool. The request
//! counts as in flight on its target (for the balancer) until the body has
//! ended, failed or been dropped.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::{Instant, Sleep};
use tollgate_core::{ErrorKind, ProxyError};
use tollgate_h1::{BodyFraming, ChunkEvent, ChunkedDecoder, LengthDecoder};

use super::pool::{poll_read_buf, PooledConn, TargetPool};
use crate::snapshot::InFlightTicket;

/// Room made in the read buffer before reading more of a body.
const READ_CHUNK: usize = 16 * 1024;
/// Trailer bytes accepted at the end of a chunked upstream body.
const MAX_TRAILER_BYTES: usize = 16 * 1024;

#[derive(Debug)]
enum Decoder {
    Length(LengthDecoder),
    Chunked(ChunkedDecoder),
    Close,
    Done,
}

/// The body of an upstream HTTP/1.1 response.
#[derive(Debug)]
pub struct UpstreamBody {
    conn: Option<PooledConn>,
    pool: Arc<TargetPool>,
    decoder: Decoder,
    exact: Option<u64>,
    keep_alive: bool,
    read_idle: Duration,
    timer: Option<Pin<Box<Sleep>>>,
    /// Released as soon as the body is over.
    ticket: Option<InFlightTicket>,
}

impl UpstreamBody {
    /// Reads the body framed by `framing` from `conn`; the connection returns
    /// to `pool` at the end when `keep_alive`, and `ticket` is released.
    pub(crate) fn new(
        conn: PooledConn,
        pool: Arc<TargetPool>,
        framing: &BodyFraming,
        keep_alive: bool,
        read_idle: Duration,
        ticket: InFlightTicket,
    ) -> Self {
        let (decoder, exact) = match framing {
            BodyFraming::Empty => (Decoder::Done, Some(0)),
            BodyFraming::Length(n) => (Decoder::Length(LengthDecoder::new(*n)), Some(*n)),
            BodyFraming::Chunked => (
                Decoder::Chunked(ChunkedDecoder::new(MAX_TRAILER_BYTES)),
                None,
            ),
            BodyFraming::CloseDelimited => (Decoder::Close, None),
        };
        let mut body = Self {
            conn: Some(conn),
            pool,
            decoder,
            exact,
            keep_alive: keep_alive && !matches!(framing, BodyFraming::CloseDelimited),
            read_idle,
            timer: None,
            ticket: Some(ticket),
        };
        if matches!(body.decoder, Decoder::Done) {
            body.finish();
        }
        body
    }

    /// The connection after a `101 Switching Protocols`: no HTTP body, and
    /// never back to the pool; [`UpstreamBody::into_upgraded`] takes it out
    /// (and releases `ticket`: a tunnel does not count as a request in flight).
    /// `idle` ends the tunnel when no byte moves either way that long.
    pub(crate) fn switched(
        conn: PooledConn,
        pool: Arc<TargetPool>,
        ticket: InFlightTicket,
        idle: Duration,
    ) -> Self {
        Self {
            conn: Some(conn),
            pool,
            decoder: Decoder::Done,
            exact: Some(0),
            keep_alive: false,
            read_idle: idle,
            timer: None,
            ticket: Some(ticket),
        }
    }

    /// Exact length when the upstream announced one.
    pub(crate) fn exact_len(&self) -> Option<u64> {
        self.exact
    }

    /// Whether the whole body was read.
    pub(crate) fn is_done(&self) -> bool {
        matches!(self.decoder, Decoder::Done)
    }

    /// Takes the connection out for a protocol upgrade (after a 101),
    /// with the tunnel's idle timeout.
    pub(crate) fn into_upgraded(mut self) -> Option<(PooledConn, Duration)> {
        self.decoder = Decoder::Done;
        self.ticket = None;
        self.conn.take().map(|c| (c, self.read_idle))
    }

    fn finish(&mut self) {
        self.decoder = Decoder::Done;
        self.ticket = None;
        if let Some(conn) = self.conn.take() {
            if self.keep_alive {
                self.pool.release(conn);
            }
        }
    }

    /// The body failed: the connection is dropped, the request is over.
    fn abort(&mut self) {
        self.decoder = Decoder::Done;
        self.conn = None;
        self.ticket = None;
    }

    /// Polls for the next piece of body data.
    pub(crate) fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, ProxyError>>> {
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return Poll::Ready(None);
            };
            let event = match &mut self.decoder {
                Decoder::Done => return Poll::Ready(None),
                Decoder::Length(d) => d.decode(&mut conn.rbuf),
                Decoder::Chunked(d) => match d.decode(&mut conn.rbuf) {
                    Ok(ev) => ev,
                    Err(e) => {
                        return Poll::Ready(Some(Err(protocol(format!(
                            "upstream chunked body: {e}"
                        )))))
                    }
                },
                Decoder::Close => {
                    if conn.rbuf.is_empty() {
                        ChunkEvent::NeedMore
                    } else {
                        ChunkEvent::Data(conn.rbuf.split().freeze())
                    }
                }
            };
            match event {
                ChunkEvent::Data(b) => {
                    // The last bytes of a sized body end it now: the
                    // connection goes back to the pool at once, and an
                    // HTTP/2 client gets END_STREAM on this DATA frame
                    // rather than on an empty one after it.
                    if matches!(&self.decoder, Decoder::Length(d) if d.is_done()) {
                        self.finish();
                    }
                    return Poll::Ready(Some(Ok(b)));
                }
                ChunkEvent::End { .. } => {
                    self.finish();
                    return Poll::Ready(None);
                }
                ChunkEvent::NeedMore => {}
            }
            if conn.rbuf.capacity() - conn.rbuf.len() < 4096 {
                conn.rbuf.reserve(READ_CHUNK);
            }
            let read = match poll_read_buf(&mut conn.stream, cx, &mut conn.rbuf) {
                Poll::Ready(r) => r,
                Poll::Pending => return self.poll_idle_timer(cx),
            };
            match read {
                Ok(0) => {
                    if matches!(self.decoder, Decoder::Close) {
                        self.keep_alive = false;
                        self.finish();
                        return Poll::Ready(None);
                    }
                    self.abort();
                    return Poll::Ready(Some(Err(protocol(
                        "upstream closed the connection mid-body".into(),
                    ))));
                }
                Ok(_) => self.timer = None,
                Err(e) => {
                    self.abort();
                    return Poll::Ready(Some(Err(read_error(e))));
                }
            }
        }
    }

    fn poll_idle_timer(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, ProxyError>>> {
        let idle = self.read_idle;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(Instant::now() + idle)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.abort();
                Poll::Ready(Some(Err(ProxyError::upstream(
                    ErrorKind::UpstreamTimeout,
                    "upstream body read timed out",
                ))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

fn protocol(msg: String) -> ProxyError {
    ProxyError::upstream(ErrorKind::UpstreamProtocol, msg)
}

fn read_error(e: std::io::Error) -> ProxyError {
    protocol(format!("upstream read failed: {e}"))
}
