//! One HTTP/1.1 exchange on an upstream connection: write the request head
//! and stream the body, then read the response head. While the body is
//! sent the upstream is watched: an early final answer stops the sending
//! (RFC 9112 §9.6) and the connection is not reused.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use http::header::HeaderMap;
use http::Method;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tollgate_core::{ErrorKind, ProxyError};
use tollgate_h1::{FramingField, HeadExtras, HeadLimits, ResponseHead};

use super::pool::PooledConn;
use crate::body::InterimSink;
use crate::body::RequestBody;

/// Limits on upstream response heads.
const RESPONSE_HEAD_LIMITS: HeadLimits = HeadLimits {
    max_head_bytes: 64 * 1024,
    max_headers: 256,
    max_uri_length: 0,
};
/// A body piece smaller than this is copied next to the head, saving a write.
const COALESCE_BELOW: usize = 16 * 1024;

/// What goes upstream.
pub(crate) struct OutgoingRequest<'r, 'b> {
    /// Method.
    pub(crate) method: &'r Method,
    /// Request target in origin form.
    pub(crate) target: &'r str,
    /// Headers after forwarding rules (no framing fields).
    pub(crate) headers: &'r mut HeaderMap,
    /// Body source.
    pub(crate) body: &'r mut RequestBody<'b>,
    /// Interim answers (1xx) go to the client (an HTTP/1.1 client whose
    /// own body this is); otherwise they are dropped.
    pub(crate) forward_interim: bool,
    /// Fields the route will add to the answer (its map is made with room).
    pub(crate) answer_room: usize,
}

/// Why an exchange failed, and whether anything reached the upstream.
#[derive(Debug)]
pub(crate) struct ExchangeError {
    /// The error.
    pub(crate) error: ProxyError,
    /// No byte of a response arrived and the request had no body that was consumed.
    pub(crate) before_response: bool,
}

impl From<ProxyError> for ExchangeError {
    fn from(error: ProxyError) -> Self {
        Self {
            error,
            before_response: false,
        }
    }
}

/// Sends `req` on `conn` and waits up to `header_timeout` after the request
/// is sent for the response head (`outer_deadline` is the caller's own limit
/// on the whole exchange). Informational 1xx answers other than 101 are skipped.
pub(crate) async fn exchange(
    conn: &mut PooledConn,
    req: OutgoingRequest<'_, '_>,
    header_timeout: Duration,
    outer_deadline: tokio::time::Instant,
) -> Result<ResponseHead, ExchangeError> {
    let known = req.body.known_length();
    let chunked = known.is_none();
    let framing = match known {
        Some(0) if !method_implies_body(req.method) => FramingField::None,
        Some(n) => FramingField::Length(n),
        None => FramingField::Chunked,
    };
    let mut wbuf = std::mem::take(&mut conn.wbuf);
    wbuf.clear();
    let extras = HeadExtras {
        framing,
        connection: None,
    };
    tollgate_h1::encode_request_head(req.method, req.target, req.headers, extras, &mut wbuf);

    let body_was_empty = known == Some(0);
    let sent = send_body(conn, &mut wbuf, req.body, chunked, req.method).await;
    conn.wbuf = wbuf;
    let sent = sent.map_err(|error| ExchangeError {
        before_response: body_was_empty && conn.reused && error.kind == ErrorKind::UpstreamProtocol,
        error,
    })?;

    let mut interim = if req.forward_interim {
        req.body.interim_sink()
    } else {
        None
    };
    // The caller bounds the whole exchange by the route's deadline; a second
    // timer is only armed when the header timeout would fire before it.
    let header_deadline = tokio::time::Instant::now() + header_timeout;
    let head = if header_deadline < outer_deadline {
        tokio::time::timeout_at(
            header_deadline,
            read_head(conn, req.method, req.answer_room, &mut interim),
        )
        .await
        .map_err(|_| {
            ExchangeError::from(ProxyError::upstream(
                ErrorKind::UpstreamTimeout,
                "upstream did not answer in time",
            ))
        })?
    } else {
        read_head(conn, req.method, req.answer_room, &mut interim).await
    };
    let mut head = head.map_err(|(error, nothing_read)| ExchangeError {
        before_response: nothing_read && body_was_empty && conn.reused,
        error,
    })?;
    if sent == Sent::Cut {
        // Part of the request body was never sent: the connection is out of step.
        head.keep_alive = false;
    }
    Ok(head)
}

fn method_implies_body(m: &Method) -> bool {
    *m == Method::POST || *m == Method::PUT || *m == Method::PATCH
}

/// How sending the request body ended.
#[derive(Debug, PartialEq, Eq)]
enum Sent {
    /// All of it went out.
    All,
    /// The upstream answered (a final head), closed or failed before the
    /// body was all sent: sending stopped (RFC 9112 §9.6) and the
    /// connection cannot carry another request.
    Cut,
}

/// Sends the buffered head and the body, watching the upstream all along:
/// an early final answer (a 413 or 401 right after the head) stops the
/// sending instead of waiting for a body the upstream will not read.
async fn send_body(
    conn: &mut PooledConn,
    wbuf: &mut BytesMut,
    body: &mut RequestBody<'_>,
    chunked: bool,
    method: &Method,
) -> Result<Sent, ProxyError> {
    if body.is_none() {
        return write_all(conn, wbuf).await.map(|()| Sent::All);
    }
    let mut head_pending = true;
    loop {
        // The client's next piece, unless the upstream answers first. Only
        // a final head, a close or an error wins, and then no more of the
        // body is read here.
        let next = tokio::select! {
            next = body.next_data() => next?,
            () = std::future::poll_fn(|cx| poll_answer(conn, cx, method)) => return Ok(Sent::Cut),
        };
        let Some(data) = next else { break };
        if data.is_empty() {
            continue;
        }
        if chunked {
            tollgate_h1::encode_chunk(&data, wbuf);
        } else if data.len() < COALESCE_BELOW || !head_pending {
            wbuf.extend_from_slice(&data);
        } else {
            if write_watching(conn, wbuf, method).await? == Sent::Cut {
                return Ok(Sent::Cut);
            }
            wbuf.clear();
            if write_watching(conn, &data, method).await? == Sent::Cut {
                return Ok(Sent::Cut);
            }
            head_pending = false;
            continue;
        }
        if wbuf.len() >= COALESCE_BELOW {
            let sent = write_watching(conn, wbuf, method).await?;
            wbuf.clear();
            if sent == Sent::Cut {
                return Ok(Sent::Cut);
            }
            head_pending = false;
        }
    }
    if chunked {
        tollgate_h1::encode_last_chunk(None, wbuf);
    }
    let sent = write_watching(conn, wbuf, method).await?;
    wbuf.clear();
    Ok(sent)
}

/// Writes `bytes` (and flushes), unless the upstream answers, closes or
/// fails first. A failed write after which the upstream's answer is
/// complete counts as an answer: the upstream closed after answering.
async fn write_watching(
    conn: &mut PooledConn,
    mut bytes: &[u8],
    method: &Method,
) -> Result<Sent, ProxyError> {
    let written = std::future::poll_fn(|cx| loop {
        if poll_answer(conn, cx, method).is_ready() {
            return Poll::Ready(Ok(Sent::Cut));
        }
        let stream = Pin::new(&mut conn.stream);
        if bytes.is_empty() {
            // A no-op for TCP; over TLS it sends records still buffered.
            return stream.poll_flush(cx).map_ok(|()| Sent::All);
        }
        match std::task::ready!(stream.poll_write(cx, bytes)) {
            Ok(0) => return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into())),
            Ok(n) => bytes = &bytes[n..],
            Err(e) => return Poll::Ready(Err(e)),
        }
    })
    .await;
    match written {
        Ok(sent) => Ok(sent),
        Err(_) if has_final_head(&conn.rbuf, method) => Ok(Sent::Cut),
        Err(e) => Err(write_error(e)),
    }
}

/// Reads what the upstream sent while the request is still being written;
/// ready once it holds a final head, or the upstream closed or failed.
/// Nothing arrives on the common path, where this is one read that would
/// block. (An uninitialised stack buffer, so the common case costs no
/// zeroing: filling the read buffer's spare room directly would need
/// unsafe code.)
fn poll_answer(conn: &mut PooledConn, cx: &mut Context<'_>, method: &Method) -> Poll<()> {
    loop {
        let mut tmp = [std::mem::MaybeUninit::<u8>::uninit(); 8192];
        let mut buf = ReadBuf::uninit(&mut tmp);
        match std::task::ready!(Pin::new(&mut conn.stream).poll_read(cx, &mut buf)) {
            Ok(()) if buf.filled().is_empty() => return Poll::Ready(()),
            Ok(()) => conn.rbuf.extend_from_slice(buf.filled()),
            Err(_) => return Poll::Ready(()),
        }
        if has_final_head(&conn.rbuf, method) {
            return Poll::Ready(());
        }
    }
}

/// Whether `buf` holds a complete final (not 1xx) response head, or bytes
/// that cannot be one (reading the head will report them).
fn has_final_head(buf: &[u8], method: &Method) -> bool {
    let mut at = 0;
    while at < buf.len() {
        match tollgate_h1::parse_response(&buf[at..], &RESPONSE_HEAD_LIMITS, method) {
            Ok(Some((head, used))) => {
                let code = head.status.as_u16();
                if !(100..200).contains(&code) || code == 101 {
                    return true;
                }
                at += used;
            }
            Ok(None) => return false,
            Err(_) => return true,
        }
    }
    false
}

async fn write_all(conn: &mut PooledConn, wbuf: &mut BytesMut) -> Result<(), ProxyError> {
    if wbuf.is_empty() {
        return Ok(());
    }
    conn.stream.write_all(wbuf).await.map_err(write_error)?;
    // A no-op for TCP; over TLS it sends records still buffered.
    conn.stream.flush().await.map_err(write_error)?;
    wbuf.clear();
    Ok(())
}

fn write_error(e: std::io::Error) -> ProxyError {
    ProxyError::upstream(
        ErrorKind::UpstreamProtocol,
        format!("upstream write failed: {e}"),
    )
}

/// Reads until a final response head parses; interim heads (1xx but 101)
/// are written to `interim` when there is one, else dropped. The flag in
/// the error says whether no byte at all was received.
async fn read_head(
    conn: &mut PooledConn,
    method: &Method,
    room: usize,
    interim: &mut Option<InterimSink<'_>>,
) -> Result<ResponseHead, (ProxyError, bool)> {
    use tokio::io::AsyncReadExt;
    let mut any = !conn.rbuf.is_empty();
    loop {
        if !conn.rbuf.is_empty() {
            match tollgate_h1::parse_response_with_room(
                &conn.rbuf,
                &RESPONSE_HEAD_LIMITS,
                method,
                room,
            ) {
                Ok(Some((mut head, used))) => {
                    conn.rbuf.advance(used);
                    let code = head.status.as_u16();
                    if (100..200).contains(&code) && code != 101 {
                        if let Some(sink) = interim.as_mut() {
                            sink.send(head.status, &mut head.headers).await;
                        }
                        continue;
                    }
                    return Ok(head);
                }
                Ok(None) => {}
                Err(e) => {
                    return Err((
                        ProxyError::upstream(
                            ErrorKind::UpstreamProtocol,
                            format!("invalid upstream response: {e}"),
                        ),
                        false,
                    ))
                }
            }
        }
        if conn.rbuf.capacity() - conn.rbuf.len() < 4096 {
            conn.rbuf.reserve(16 * 1024);
        }
        match conn.stream.read_buf(&mut conn.rbuf).await {
            Ok(0) => {
                return Err((
                    ProxyError::upstream(
                        ErrorKind::UpstreamProtocol,
                        "upstream closed the connection before answering",
                    ),
                    !any,
                ))
            }
            Ok(_) => any = true,
            Err(e) => {
                return Err((
                    ProxyError::upstream(
                        ErrorKind::UpstreamProtocol,
                        format!("upstream read failed: {e}"),
                    ),
                    !any,
                ))
            }
        }
    }
}
