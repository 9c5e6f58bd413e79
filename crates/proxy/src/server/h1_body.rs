//! A request body read from an HTTP/1.1 client connection while it is
//! forwarded, with `100 Continue` sent when the body is first wanted.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tollgate_core::{ErrorKind, ProxyError};
use tollgate_h1::{ChunkEvent, ChunkedDecoder, LengthDecoder};
use tollgate_net::InboundStream;

use crate::body::too_large;

/// Trailer bytes accepted at the end of a chunked request body.
const MAX_TRAILER_BYTES: usize = 16 * 1024;

/// The client side of an HTTP/1.1 connection with its buffers.
#[derive(Debug)]
pub(crate) struct ClientIo {
    /// The connection (plain or TLS).
    pub(crate) stream: InboundStream,
    /// Bytes read and not yet consumed.
    pub(crate) rbuf: BytesMut,
    /// Bytes about to be written.
    pub(crate) wbuf: BytesMut,
    /// The bounds on writing to the client (stalls, slow readers).
    pub(crate) pace: super::pace::Pace,
}

impl ClientIo {
    /// Writes an interim (1xx) answer before the final one (RFC 9110
    /// §15.2: a proxy forwards them); hop-by-hop fields are dropped, and
    /// nothing of it is kept. A client that does not take it within the
    /// send timeout will fail on the final answer.
    pub(crate) async fn write_interim(
        &mut self,
        status: http::StatusCode,
        headers: &mut http::HeaderMap,
    ) {
        crate::forward::strip_hop_by_hop(headers, false, false);
        let mut head = BytesMut::with_capacity(128);
        tollgate_h1::encode_response_head(
            status,
            headers,
            tollgate_h1::HeadExtras::default(),
            &mut head,
        );
        let stream = &mut self.stream;
        let write = async move {
            stream.write_all(&head).await?;
            stream.flush().await
        };
        let _ = tokio::time::timeout(self.pace.send_timeout(), write).await;
    }
}

#[derive(Debug)]
pub(crate) enum BodyDecoder {
    Length(LengthDecoder, u64),
    Chunked(ChunkedDecoder),
}

impl BodyDecoder {
    /// A decoder for a `Content-Length: n` body.
    pub(crate) fn length(n: u64) -> Self {
        Self::Length(LengthDecoder::new(n), n)
    }

    /// A decoder for a chunked body.
    pub(crate) fn chunked() -> Self {
        Self::Chunked(ChunkedDecoder::new(MAX_TRAILER_BYTES))
    }
}

/// A request body being read from the client.
#[derive(Debug)]
pub struct H1RequestBody<'a> {
    io: &'a mut ClientIo,
    decoder: BodyDecoder,
    limit: u64,
    received: u64,
    done: bool,
    send_continue: bool,
    read_timeout: Duration,
    /// A read from the client is under way: when the route's deadline
    /// cancels it, the client was the slow side (408, not 504).
    waiting: bool,
}

impl<'a> H1RequestBody<'a> {
    /// Reads a body with `decoder` from `io`, refusing more than `limit` bytes.
    pub(crate) fn new(
        io: &'a mut ClientIo,
        decoder: BodyDecoder,
        limit: u64,
        send_continue: bool,
        read_timeout: Duration,
    ) -> Self {
        Self {
            io,
            decoder,
            limit,
            received: 0,
            done: false,
            send_continue,
            read_timeout,
            waiting: false,
        }
    }

    /// Exact length for a Content-Length body.
    pub(crate) fn known_length(&self) -> Option<u64> {
        match &self.decoder {
            BodyDecoder::Length(_, n) => Some(*n),
            BodyDecoder::Chunked(_) => None,
        }
    }

    /// Sets the most bytes accepted.
    pub(crate) fn set_limit(&mut self, limit: u64) {
        self.limit = limit;
    }

    /// Bytes received so far.
    pub(crate) fn received(&self) -> u64 {
        self.received
    }

    /// Whether the whole body was read (the connection is in sync).
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// The client connection, for interim answers once the body was read.
    pub(crate) fn client_io(&mut self) -> &mut ClientIo {
        self.io
    }

    /// Whether a read from the client was in progress when the body was
    /// last left (a deadline cancelled it while the client was silent).
    pub(crate) fn waiting_on_client(&self) -> bool {
        self.waiting
    }

    /// The next piece of the body; `None` at its end.
    pub(crate) async fn next_data(&mut self) -> Result<Option<Bytes>, ProxyError> {
        if self.done {
            return Ok(None);
        }
        if self.send_continue {
            self.send_continue = false;
            let stream = &mut self.io.stream;
            // Flushed: over TLS a write may stay in the record buffer.
            let sent = match stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await {
                Ok(()) => stream.flush().await,
                Err(e) => Err(e),
            };
            sent.map_err(|e| client_gone(&e))?;
        }
        loop {
            let event = match &mut self.decoder {
                BodyDecoder::Length(d, _) => d.decode(&mut self.io.rbuf),
                BodyDecoder::Chunked(d) => d.decode(&mut self.io.rbuf).map_err(|e| {
                    ProxyError::client(ErrorKind::BadRequest, format!("invalid chunked body: {e}"))
                })?,
            };
            match event {
                ChunkEvent::Data(b) => {
                    self.received += b.len() as u64;
                    if self.received > self.limit {
                        return Err(too_large());
                    }
                    return Ok(Some(b));
                }
                ChunkEvent::End { .. } => {
                    self.done = true;
                    return Ok(None);
                }
                ChunkEvent::NeedMore => {}
            }
            if self.io.rbuf.capacity() - self.io.rbuf.len() < 4096 {
                self.io.rbuf.reserve(16 * 1024);
            }
            self.waiting = true;
            let read = tokio::time::timeout(
                self.read_timeout,
                self.io.stream.read_buf(&mut self.io.rbuf),
            )
            .await
            .map_err(|_| ProxyError::client(ErrorKind::RequestTimeout, "request body timed out"))?;
            self.waiting = false;
            match read {
                Ok(0) => {
                    return Err(ProxyError::client(
                        ErrorKind::BadRequest,
                        "client closed the connection mid-body",
                    ))
                }
                Ok(_) => {}
                Err(e) => return Err(client_gone(&e)),
            }
        }
    }
}

fn client_gone(e: &std::io::Error) -> ProxyError {
    ProxyError::client(
        ErrorKind::BadRequest,
        format!("client connection failed: {e}"),
    )
}
