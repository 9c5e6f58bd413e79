//! The HTTP/1.1 connection loop: read a head, run the pipeline, write the
//! answer, repeat while the connection may be kept. One task per
//! connection does all of it, so no channel sits between client and upstream.

use std::future::poll_fn;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::{Buf, Bytes, BytesMut};
use http::header;
use http::{Method, Response, StatusCode, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tollgate_core::{ErrorKind, ProxyError};
use tollgate_h1::{
    BodyFraming, ConnectionField, FramingField, HeadExtras, HeadLimits, RequestHead,
};
use tollgate_net::InboundStream;
use tollgate_ops::AccessRecord;

use super::h1_body::{BodyDecoder, ClientIo, H1RequestBody};
use super::ListenerCtx;
use crate::body::{RequestBody, ResponseBody};
use crate::date::DateCache;
use crate::forward::ClientInfo;
use crate::pipeline::{self, error_response, Exchange, Incoming};
use crate::snapshot::Worker;

/// Initial capacity of a client connection's read buffer: most request
/// heads fit, and a thousand connections hold a thousand of them. Longer
/// heads double it.
const READ_BUF: usize = 1024;

/// How long a connection's first request may still take to arrive once
/// shutdown began. Its client was accepted from the listening queue just
/// before; under an upgrade that queue lives on in the new process, so the
/// client has no reason to expect a close, and its request is usually on
/// the way.
pub(super) const FIRST_REQUEST_GRACE: std::time::Duration = std::time::Duration::from_secs(1);
/// Below this much free room the read buffer is reclaimed or grown first.
const READ_ROOM: usize = 256;
/// Initial capacity of a client connection's write buffer.
const WRITE_BUF: usize = 1024;
/// Response body pieces up to this size are copied next to the head.
const COALESCE_BELOW: usize = 16 * 1024;

/// A GOAWAY frame on stream 0: last stream 0, PROTOCOL_ERROR, no debug
/// data; the answer to a damaged connection preface (RFC 9113 §3.4).
const GOAWAY_PROTOCOL_ERROR: [u8; 17] = [
    0, 0, 8, 7, 0, 0, 0, 0, 0, // length 8, type GOAWAY, no flags, stream 0
    0, 0, 0, 0, // last stream id 0
    0, 0, 0, 1, // PROTOCOL_ERROR
];

/// What waiting for the next request head gave.
// Not boxed: a request head passes through here once per request, and a
// heap allocation for it would cost more than moving it.
#[allow(clippy::large_enum_variant)]
enum NextHead {
    Head(RequestHead),
    /// The client closed, went idle too long, or the server is shutting down.
    Closed,
    /// The connection opened with the HTTP/2 preface.
    H2,
    /// The connection opened like an HTTP/2 preface (`PRI * HTTP/2.0`)
    /// that then went wrong.
    BadPreface,
}

/// Serves one client connection until it closes; its first request head
/// must have arrived by `first_head_by`.
pub(crate) async fn serve(
    stream: InboundStream,
    first_head_by: tokio::time::Instant,
    client: ClientInfo,
    ctx: Arc<ListenerCtx>,
    worker: Arc<Worker>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut io = ClientIo {
        stream,
        rbuf: BytesMut::with_capacity(READ_BUF),
        // Room for a typical head and small body, so answering does not grow it.
        wbuf: BytesMut::with_capacity(WRITE_BUF),
        pace: super::pace::Pace::new(
            ctx.limits.min_send_rate,
            ctx.limits.send_rate_window,
            ctx.limits.send_timeout,
        ),
    };
    let limits = HeadLimits {
        max_head_bytes: ctx.limits.max_header_bytes,
        max_headers: ctx.limits.max_headers,
        max_uri_length: ctx.limits.max_uri_length,
    };
    let mut first = Some(first_head_by);
    loop {
        let head = match next_head(&mut io, &limits, &ctx, first, &mut shutdown).await {
            Ok(NextHead::Head(h)) => h,
            Ok(NextHead::Closed) => {
                close_tls(&mut io, &shutdown).await;
                return;
            }
            Ok(NextHead::H2) => {
                let prefix = std::mem::take(&mut io.rbuf).to_vec();
                // Boxed: the HTTP/2 connection state is large and only HTTP/2 clients need it.
                Box::pin(super::h2::serve(
                    io.stream, prefix, client, ctx, worker, shutdown,
                ))
                .await;
                return;
            }
            Ok(NextHead::BadPreface) => {
                io.wbuf.clear();
                io.wbuf.extend_from_slice(&GOAWAY_PROTOCOL_ERROR);
                let _ = flush(&mut io).await;
                linger_close(&mut io, &shutdown).await;
                return;
            }
            Err(e) => {
                let id = worker.new_request_id();
                let mut resp = error_response(&e, &id);
                ctx.add_hsts(resp.headers_mut());
                let _ = write_response(
                    &mut io,
                    resp,
                    &Method::GET,
                    Version::HTTP_11,
                    true,
                    &worker.date,
                )
                .await;
                linger_close(&mut io, &shutdown).await;
                return;
            }
        };
        first = None;
        let keep = serve_one(&mut io, head, &client, &ctx, &worker, &shutdown).await;
        if !keep {
            close_tls(&mut io, &shutdown).await;
            return;
        }
    }
}

/// Waits for and parses the next request head. The connection's first
/// head must be complete by `first` (`Some`); a later one may wait the
/// keep-alive timeout for its first byte and then has the header read
/// timeout (slow clients are cut off with 408).
async fn next_head(
    io: &mut ClientIo,
    limits: &HeadLimits,
    ctx: &ListenerCtx,
    first: Option<tokio::time::Instant>,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<NextHead, ProxyError> {
    let idle_deadline =
        first.unwrap_or_else(|| tokio::time::Instant::now() + ctx.limits.keepalive_timeout);
    let first_request = first.is_some();
    let mut head_deadline: Option<tokio::time::Instant> = None;
    // Set once shutdown is seen while the first request has not arrived.
    let mut grace_until: Option<tokio::time::Instant> = None;
    loop {
        if !io.rbuf.is_empty() {
            let mut preface_pending = false;
            if first_request && io.rbuf[0] == b'P' {
                match preface(&io.rbuf) {
                    Preface::H2 => return Ok(NextHead::H2),
                    Preface::Invalid => return Ok(NextHead::BadPreface),
                    Preface::Pending => preface_pending = true,
                    Preface::NotH2 => {}
                }
            }
            if !preface_pending {
                match tollgate_h1::parse_request(&io.rbuf, limits) {
                    Ok(Some((head, used))) => {
                        io.rbuf.advance(used);
                        return Ok(NextHead::Head(head));
                    }
                    Ok(None) => {}
                    Err(e) => return Err(ProxyError::client(kind_of(e.status()), e.to_string())),
                }
            }
            if head_deadline.is_none() {
                head_deadline = Some(first.unwrap_or_else(|| {
                    tokio::time::Instant::now() + ctx.limits.header_read_timeout
                }));
            }
        } else if *shutdown.borrow() {
            if !first_request {
                return Ok(NextHead::Closed);
            }
            let until = *grace_until
                .get_or_insert_with(|| tokio::time::Instant::now() + FIRST_REQUEST_GRACE);
            if tokio::time::Instant::now() >= until {
                return Ok(NextHead::Closed);
            }
        }
        let mut deadline = head_deadline.unwrap_or(idle_deadline);
        if let (Some(g), true) = (grace_until, io.rbuf.is_empty()) {
            deadline = deadline.min(g);
        }
        if io.rbuf.capacity() - io.rbuf.len() < READ_ROOM {
            // Reclaims the buffer in place once the last head's bytes are gone.
            io.rbuf.reserve(io.rbuf.len().max(READ_BUF));
        }
        let read = tokio::select! {
            r = tokio::time::timeout_at(deadline, io.stream.read_buf(&mut io.rbuf)) => r,
            _ = shutdown.changed(), if io.rbuf.is_empty() && grace_until.is_none() => {
                if first_request && *shutdown.borrow() {
                    continue;
                }
                return Ok(NextHead::Closed);
            }
        };
        match read {
            Err(_) if head_deadline.is_some() => {
                return Err(ProxyError::client(
                    ErrorKind::RequestTimeout,
                    "request head not received in time",
                ))
            }
            Err(_) => return Ok(NextHead::Closed),
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(NextHead::Closed),
            Ok(Ok(_)) => {}
        }
    }
}

/// How far the bytes of a connection starting with `P` are an HTTP/2 preface.
enum Preface {
    /// The magic and a SETTINGS frame's header: HTTP/2.
    H2,
    /// Too few bytes to tell.
    Pending,
    /// `PRI * HTTP/2.0` that went wrong: a damaged magic, or a first frame
    /// that is not SETTINGS (RFC 9113 §3.4).
    Invalid,
    /// An HTTP/1.1 request (`POST`, `PUT`, ...).
    NotH2,
}

fn preface(buf: &[u8]) -> Preface {
    match tollgate_h1::is_h2_preface(buf) {
        None => Preface::Pending,
        Some(false) if buf.starts_with(b"PRI * HTTP/2.0") => Preface::Invalid,
        Some(false) => Preface::NotH2,
        Some(true) => {
            let n = tollgate_h1::H2_PREFACE.len();
            match buf.get(n..n + 9) {
                None => Preface::Pending,
                // Type SETTINGS, not an ACK, on stream 0.
                Some(h) if h[3] == 4 && h[4] & 1 == 0 && h[5..9] == [0; 4] => Preface::H2,
                Some(_) => Preface::Invalid,
            }
        }
    }
}

fn kind_of(status: StatusCode) -> ErrorKind {
    match status.as_u16() {
        408 => ErrorKind::RequestTimeout,
        413 => ErrorKind::PayloadTooLarge,
        414 => ErrorKind::UriTooLong,
        417 => ErrorKind::ExpectationFailed,
        431 => ErrorKind::HeadersTooLarge,
        501 => ErrorKind::NotImplemented,
        505 => ErrorKind::VersionNotSupported,
        _ => ErrorKind::BadRequest,
    }
}

/// Serves one request; returns whether the connection may carry another.
async fn serve_one(
    io: &mut ClientIo,
    head: RequestHead,
    client: &ClientInfo,
    ctx: &ListenerCtx,
    worker: &Arc<Worker>,
    shutdown: &watch::Receiver<bool>,
) -> bool {
    let start = Instant::now();
    let _in_flight = worker
        .metrics
        .hold(ctx.index, crate::metrics::Gauge::Request);
    let wall = SystemTime::now();
    let RequestHead {
        method,
        uri,
        version,
        headers,
        framing,
        keep_alive,
        expect_continue,
        upgrade,
        ..
    } = head;
    let request_id = match headers.get(&pipeline::DEFAULT_REQUEST_ID) {
        Some(v) if !v.is_empty() && v.len() <= 200 => v.clone(),
        _ => worker.new_request_id(),
    };
    let logged = worker.log.enabled().then(|| {
        let host = pipeline::request_host(&uri, &headers).into_owned();
        let path = uri
            .path_and_query()
            .map_or_else(|| uri.to_string(), |pq| pq.as_str().to_owned());
        let fields = crate::server::logged_fields(&worker.snapshot.config, &headers);
        (host, path, fields)
    });

    let decoder = match framing {
        BodyFraming::Length(n) if n > 0 => Some(BodyDecoder::length(n)),
        BodyFraming::Chunked => Some(BodyDecoder::chunked()),
        _ => None,
    };
    let body = match decoder {
        Some(d) => RequestBody::H1(H1RequestBody::new(
            io,
            d,
            u64::MAX,
            expect_continue,
            ctx.body_read_timeout,
        )),
        // Kept for interim answers (1xx) an upstream may send first.
        None => RequestBody::H1None(io),
    };
    let mut req = Incoming {
        listener: ctx.index,
        client: client.clone(),
        method: method.clone(),
        uri,
        version,
        headers,
        body,
        upgrade,
        request_id: request_id.clone(),
        // gRPC runs over HTTP/2 only.
        grpc: None,
    };
    let mut ex = Exchange::default();
    let result = pipeline::handle(worker, &mut req, &mut ex).await;
    let bytes_in = req.body.received();
    let body_done = match &req.body {
        RequestBody::Empty | RequestBody::H1None(_) | RequestBody::Buffered(_) => true,
        RequestBody::H1(b) => b.is_done(),
        RequestBody::H2 { .. } | RequestBody::Relayed(_) => true,
    };
    drop(req);

    let (mut resp, mut close) = match result {
        Ok(resp) => (resp, false),
        Err(e) => (error_response(&e, &request_id), e.closes_connection()),
    };
    ctx.add_hsts(resp.headers_mut());
    // Read now, not when the request arrived: a shutdown that began while the
    // upstream worked still tells this client to go elsewhere next time.
    let shutting_down = *shutdown.borrow();
    // A reload replaced this connection's generation: the client's next
    // request goes to a new connection, served by the new one.
    close |= !keep_alive || !body_done || shutting_down || worker.is_retired();
    let status = resp.status();
    let (bytes_in, bytes_out, end, close) = if status == StatusCode::SWITCHING_PROTOCOLS && upgrade
    {
        // The tunnel's line is written when it ends, with what crossed it.
        let t = Box::pin(tunnel(io, resp)).await;
        (bytes_in + t.from_client, t.to_client, t.end, true)
    } else {
        let (bytes_out, clean) =
            write_response(io, resp, &method, version, close, &worker.date).await;
        if io.pace.tripped() {
            // Closed for reading too slowly: the log says the client was slow.
            ex.timeout = Some("client_read");
        }
        if close && clean && !body_done {
            linger_close(io, shutdown).await;
        }
        let end = if clean { "complete" } else { "aborted" };
        (bytes_in, bytes_out, end, close || !clean)
    };

    let duration = start.elapsed();
    worker.metrics.record(crate::metrics::Served {
        listener: ctx.index,
        route: ex.route,
        upstream: ex.upstream.map(|(u, _)| u),
        target: ex.upstream.map(|(_, t)| t),
        upstream_connect: ex.upstream_connect,
        status: status.as_u16(),
        bytes_in,
        bytes_out,
        duration,
        upstream_time: ex.upstream_time,
    });
    worker.metrics.decided(ex.auth, ex.limited.as_deref());
    let consumer = ex.consumer.as_ref().map(|c| c.name());
    worker.metrics.consumer_served(consumer, status.as_u16());
    crate::trace::end_server(worker, &ex, status.as_u16());
    if let Some((log_host, log_path, log_fields)) = &logged {
        let trace_id = ex.trace.as_ref().map(|t| t.trace_id_hex());
        let snapshot = &worker.snapshot;
        worker.log.record(&AccessRecord {
            start: wall,
            request_id: request_id.to_str().unwrap_or(""),
            client: client.peer,
            method: method.as_str(),
            host: log_host,
            path: ex.logged_target.as_deref().unwrap_or(log_path),
            status: status.as_u16(),
            bytes_in,
            bytes_out,
            duration,
            route: ex.route.map(|i| snapshot.config.routes[i].name.as_str()),
            upstream: ex.upstream_address(worker),
            upstream_time: ex.upstream_time,
            upstream_connect_time: ex.upstream_connect,
            upstream_body_time: ex.upstream_head_at.map(|at| at.elapsed()),
            end: Some(end),
            grpc_status: None,
            timeout: ex.timeout,
            dropped_headers: ex.dropped_headers,
            consumer: ex.consumer.as_ref().map(|c| c.name()),
            auth: ex.auth,
            limit: ex.limited.as_deref(),
            trace_id: trace_id.as_ref().and_then(|b| std::str::from_utf8(b).ok()),
            headers: log_fields,
        });
    }
    !close
}

/// Writes a response with framing chosen for the client; returns the body
/// bytes sent and whether the message was completed cleanly.
async fn write_response(
    io: &mut ClientIo,
    resp: Response<ResponseBody>,
    method: &Method,
    version: Version,
    close: bool,
    date: &DateCache,
) -> (u64, bool) {
    let (mut parts, mut body) = resp.into_parts();
    if !parts.headers.contains_key(header::DATE) {
        // RFC 9110 §6.6.1: answers without a Date get the time they were sent.
        parts.headers.insert(header::DATE, date.now());
    }
    let status = parts.status.as_u16();
    let bodiless =
        *method == Method::HEAD || status == 204 || status == 304 || (100..200).contains(&status);
    let mut chunked = false;
    let mut close_delimited = false;
    let mut extras = HeadExtras::default();
    if !bodiless {
        // The map never carries framing for bodies: it is chosen here.
        parts.headers.remove(header::CONTENT_LENGTH);
        match body.exact_len() {
            Some(n) => extras.framing = FramingField::Length(n),
            None if version == Version::HTTP_11 => {
                extras.framing = FramingField::Chunked;
                chunked = true;
            }
            None => close_delimited = true,
        }
    } else if status == 204 || (100..200).contains(&status) {
        parts.headers.remove(header::CONTENT_LENGTH);
    }
    if close || close_delimited {
        extras.connection = Some(ConnectionField::Close);
    } else if version == Version::HTTP_10 {
        extras.connection = Some(ConnectionField::KeepAlive);
    }
    io.wbuf.clear();
    io.pace.reset();
    tollgate_h1::encode_response_head(parts.status, &parts.headers, extras, &mut io.wbuf);
    if bodiless {
        return (0, flush(io).await);
    }
    let mut sent = 0u64;
    let mut looked_again = false;
    loop {
        // Whatever is buffered goes out before waiting on the upstream, so
        // slow streams (SSE, long polls) reach the client as they arrive.
        let step = poll_fn(
            |cx| match std::pin::Pin::new(&mut body).poll_frame_data(cx) {
                std::task::Poll::Pending if !io.wbuf.is_empty() => std::task::Poll::Ready(None),
                std::task::Poll::Pending => std::task::Poll::Pending,
                std::task::Poll::Ready(next) => std::task::Poll::Ready(Some(next)),
            },
        )
        .await;
        let Some(next) = step else {
            if !looked_again {
                // The rest is often already in flight (a head and its body in two
                // segments): let the event loop look once more before sending a
                // partial answer, which would cost a write and a client wake-up.
                looked_again = true;
                tokio::task::yield_now().await;
                continue;
            }
            if !flush(io).await {
                return (sent, false);
            }
            continue;
        };
        looked_again = false;
        match next {
            Some(Ok(data)) => {
                sent += data.len() as u64;
                if chunked {
                    tollgate_h1::encode_chunk(&data, &mut io.wbuf);
                } else if data.len() < COALESCE_BELOW {
                    io.wbuf.extend_from_slice(&data);
                } else {
                    // Large piece: one vectored write with whatever is buffered, no copy.
                    let written = io.pace.write_pair(&mut io.stream, &io.wbuf, &data).await;
                    io.wbuf.clear();
                    if written.is_err() {
                        return (sent, false);
                    }
                    continue;
                }
                if io.wbuf.len() >= COALESCE_BELOW && !flush(io).await {
                    return (sent, false);
                }
            }
            Some(Err(_)) => {
                // The upstream failed mid-body: the client can only learn by the connection closing.
                let _ = flush(io).await;
                return (sent, false);
            }
            None => break,
        }
    }
    if chunked {
        tollgate_h1::encode_last_chunk(None, &mut io.wbuf);
    }
    let ok = flush(io).await;
    (sent, ok && !close_delimited)
}

/// Longest a closing connection keeps reading what the client still sends.
const LINGER: std::time::Duration = std::time::Duration::from_secs(2);
/// Most bytes read and discarded while lingering.
const LINGER_BYTES: usize = 256 * 1024;

/// Closes after an answer that left client bytes unread (an error, a body not
/// taken): send FIN, then read and drop what still arrives for a moment, so the
/// kernel does not answer it with a reset that could destroy our answer in flight.
/// A shutdown ends the lingering at once: the answer was written, and a
/// closing connection is not work in flight the drain should wait for.
async fn linger_close(io: &mut ClientIo, shutdown: &watch::Receiver<bool>) {
    if io.stream.shutdown().await.is_err() {
        return;
    }
    let deadline = tokio::time::Instant::now() + LINGER;
    let drain = async {
        let mut discarded = 0;
        while discarded < LINGER_BYTES {
            io.rbuf.clear();
            match tokio::time::timeout_at(deadline, io.stream.read_buf(&mut io.rbuf)).await {
                Ok(Ok(n)) if n > 0 => discarded += n,
                _ => return,
            }
        }
    };
    tokio::select! {
        () = drain => {}
        () = super::stopping(shutdown.clone()) => {}
    }
}

/// Ends a TLS connection with close_notify, so the client can tell the
/// end of the stream from a cut (answers delimited by the close depend on
/// it). Plain connections are simply dropped. A client that does not take
/// the close_notify holds the connection for `LINGER` at most, and not past
/// the start of a shutdown.
async fn close_tls(io: &mut ClientIo, shutdown: &watch::Receiver<bool>) {
    if io.stream.is_tls() {
        tokio::select! {
            _ = tokio::time::timeout(LINGER, io.stream.shutdown()) => {}
            () = super::stopping(shutdown.clone()) => {}
        }
    }
}

/// Writes the buffer out; false when the client is gone, did not take the
/// bytes within the send timeout, or took them too slowly (see `pace`).
async fn flush(io: &mut ClientIo) -> bool {
    if io.wbuf.is_empty() {
        return true;
    }
    let ok = io
        .pace
        .write_pair(&mut io.stream, &io.wbuf, &[])
        .await
        .is_ok();
    io.wbuf.clear();
    ok
}

/// What crossed an upgraded connection, for its access line.
struct Tunnel {
    /// Bytes from the client to the upstream (after the request head).
    from_client: u64,
    /// Bytes from the upstream to the client (after the 101 head).
    to_client: u64,
    /// `closed`, `idle_timeout` or `error`.
    end: &'static str,
}

/// After a 101: write the head, then relay bytes both ways until both
/// sides close, one fails, or the tunnel is idle too long.
async fn tunnel(io: &mut ClientIo, resp: Response<ResponseBody>) -> Tunnel {
    let mut t = Tunnel {
        from_client: 0,
        to_client: 0,
        end: "error",
    };
    let (parts, body) = resp.into_parts();
    let ResponseBody::Upstream(up) = body else {
        return t;
    };
    let Some((mut conn, idle)) = up.into_upgraded() else {
        return t;
    };
    io.wbuf.clear();
    tollgate_h1::encode_response_head(
        parts.status,
        &parts.headers,
        HeadExtras::default(),
        &mut io.wbuf,
    );
    if !conn.rbuf.is_empty() {
        io.wbuf.extend_from_slice(&conn.rbuf);
        t.to_client = conn.rbuf.len() as u64;
        conn.rbuf.clear();
    }
    if !flush(io).await {
        return t;
    }
    if !io.rbuf.is_empty() {
        let pending: Bytes = io.rbuf.split().freeze();
        if conn.stream.write_all(&pending).await.is_err() {
            return t;
        }
        t.from_client = pending.len() as u64;
    }
    // Ends when both sides closed, one failed, or nothing moved for the
    // upstream's `read_idle` (as a proxy read timeout ends a WebSocket).
    let config = tollgate_net::RelayConfig::new(idle);
    let outcome = tollgate_net::relay(&mut io.stream, &mut conn.stream, &config).await;
    t.from_client += outcome.a_to_b;
    t.to_client += outcome.b_to_a;
    t.end = match outcome.end {
        tollgate_net::RelayEnd::Closed => "closed",
        tollgate_net::RelayEnd::IdleTimeout => "idle_timeout",
        tollgate_net::RelayEnd::Error(_) => "error",
    };
    t
}

/// Polls the next data piece of a response body.
trait PollData {
    fn poll_frame_data(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Bytes, ProxyError>>>;
}

impl PollData for ResponseBody {
    fn poll_frame_data(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Bytes, ProxyError>>> {
        use http_body::Body;
        loop {
            match std::task::ready!(self.as_mut().poll_frame(cx)) {
                None => return std::task::Poll::Ready(None),
                Some(Err(e)) => return std::task::Poll::Ready(Some(Err(e))),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return std::task::Poll::Ready(Some(Ok(data)));
                    }
                }
            }
        }
    }
}
