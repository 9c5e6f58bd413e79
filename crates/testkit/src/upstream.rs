//! Upstream servers for tests: each binds `127.0.0.1:0`, runs on the kit's
//! runtime, records what reaches it, and stops when its handle is dropped.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Version};
use http_body::{Body, Frame};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Sleep;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::runtime;
use crate::scripted::{Reply, Script};
use crate::tls::{CertPair, TestCa};

/// A request as an upstream received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Method.
    pub method: String,
    /// Path and query as received.
    pub path: String,
    /// Protocol version of the upstream side.
    pub version: Version,
    /// Header fields as received.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

/// What a server does with a connection.
#[derive(Debug, Clone)]
enum Kind {
    /// HTTP/1.1 JSON echo, optionally with another status, a delay and extra headers.
    Echo {
        status: u16,
        delay: Duration,
        extra: Vec<(String, String)>,
    },
    /// HTTP/1.1, a chunked body sent piece by piece.
    Streaming {
        chunks: Vec<Bytes>,
        interval: Duration,
    },
    /// Accepts and closes at once.
    Closing,
    /// 101 to a WebSocket upgrade, then a byte echo.
    WebSocketEcho,
    /// 101 to any Upgrade (h2c included), then a byte echo; 200 `plain` to
    /// a request without one.
    UpgradeAnything,
    /// HTTP/2 prior knowledge JSON echo.
    H2cEcho,
    /// TLS, then the JSON echo over HTTP/2 or HTTP/1.1 as ALPN chose.
    TlsEcho(Arc<rustls::ServerConfig>),
    /// HTTP/1.1, answers written by the test.
    Scripted(Script),
}

/// What a TLS upstream saw of one handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsHandshake {
    /// The SNI name the client sent.
    pub server_name: Option<String>,
    /// The protocol ALPN chose.
    pub alpn: Option<String>,
    /// The subject of the client's certificate, when it presented one.
    pub client_subject: Option<String>,
}

#[derive(Debug, Default)]
struct Shared {
    connections: AtomicUsize,
    /// When not 0, the status HTTP/1.1 echo servers answer with instead of
    /// their own (see [`Upstream::set_status`]).
    status_override: AtomicU16,
    requests: Mutex<Vec<RecordedRequest>>,
    chunk_times: Mutex<Vec<Instant>>,
    handshakes: Mutex<Vec<TlsHandshake>>,
}

/// A test upstream server. Dropping the handle stops it (the listener and
/// every open connection are closed).
#[derive(Debug)]
pub struct Upstream {
    addr: SocketAddr,
    id: String,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Upstream {
    /// Answers every request 200 with a JSON description of it:
    /// `{"method","path","version","headers":{name:[values]},"body_len","body"}`
    /// and header `x-upstream-id: <id>`.
    pub fn echo() -> Self {
        Self::start(Kind::Echo {
            status: 200,
            delay: Duration::ZERO,
            extra: Vec::new(),
        })
    }

    /// Like [`Upstream::echo`] but answers with status `code` (no body for
    /// 1xx, 204 and 304).
    pub fn status(code: u16) -> Self {
        Self::start(Kind::Echo {
            status: code,
            delay: Duration::ZERO,
            extra: Vec::new(),
        })
    }

    /// Like [`Upstream::echo`] but waits `delay` (after reading the request)
    /// before answering.
    pub fn slow(delay: Duration) -> Self {
        Self::start(Kind::Echo {
            status: 200,
            delay,
            extra: Vec::new(),
        })
    }

    /// Like [`Upstream::echo`], adding these response header fields.
    pub fn with_headers(headers: &[(&str, &str)]) -> Self {
        Self::start(Kind::Echo {
            status: 200,
            delay: Duration::ZERO,
            extra: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
        })
    }

    /// Answers 200 with a chunked body: `chunks[0]` at once, then each next
    /// one `interval` later. [`Upstream::chunk_times`] tells when each was
    /// handed to the connection.
    pub fn streaming(chunks: &[&str], interval: Duration) -> Self {
        Self::start(Kind::Streaming {
            chunks: chunks
                .iter()
                .map(|c| Bytes::copy_from_slice(c.as_bytes()))
                .collect(),
            interval,
        })
    }

    /// Accepts connections and closes them at once, without reading or
    /// answering (an upstream failure).
    pub fn closing() -> Self {
        Self::start(Kind::Closing)
    }

    /// Answers `101 Switching Protocols` with a correct `Sec-WebSocket-Accept`
    /// to a WebSocket upgrade request, then echoes every byte back until the
    /// peer closes. Anything else gets 400.
    pub fn websocket_echo() -> Self {
        Self::start(Kind::WebSocketEcho)
    }

    /// A careless upstream: switches to whatever protocol an `Upgrade`
    /// field offers (`h2c` too) with `101`, then echoes every byte; a
    /// request without `Upgrade` gets `200` with body `plain` and the
    /// connection closed. Requests are recorded.
    pub fn upgrade_anything() -> Self {
        Self::start(Kind::UpgradeAnything)
    }

    /// An HTTP/2 server with prior knowledge (h2c), with the same JSON echo
    /// as [`Upstream::echo`].
    pub fn h2c_echo() -> Self {
        Self::start(Kind::H2cEcho)
    }

    /// A TLS server presenting `pair` that offers `alpn` (e.g. `["h2",
    /// "http/1.1"]`) and, with `client_ca`, requires a client certificate
    /// from it; then the JSON echo of [`Upstream::echo`] over the protocol
    /// ALPN chose. [`Upstream::handshakes`] tells what each handshake saw.
    pub fn tls_echo(pair: &CertPair, alpn: &[&str], client_ca: Option<&TestCa>) -> Self {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("versions");
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                roots
                    .add(CertificateDer::from_pem_slice(ca.cert_pem().as_bytes()).expect("CA"))
                    .expect("CA root");
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .expect("client verifier");
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(
                CertificateDer::pem_slice_iter(pair.cert_pem.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .expect("certificate PEM"),
                PrivateKeyDer::from_pem_slice(pair.key_pem.as_bytes()).expect("key PEM"),
            )
            .expect("server certificate");
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        Self::start(Kind::TlsEcho(Arc::new(config)))
    }

    /// Answers every HTTP/1.1 request with what `script` returns for it
    /// (called once per request, after the request body was read). The
    /// request is recorded first, so [`Upstream::request_count`] counts it.
    pub fn scripted(script: impl Fn(&RecordedRequest) -> Reply + Send + Sync + 'static) -> Self {
        Self::start(Kind::Scripted(Script(Arc::new(script))))
    }

    fn start(kind: Kind) -> Self {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind upstream");
        std_listener
            .set_nonblocking(true)
            .expect("nonblocking upstream");
        let addr = std_listener.local_addr().expect("upstream address");
        let id = addr.to_string();
        let shared = Arc::new(Shared::default());
        let _guard = runtime().enter();
        let listener = TcpListener::from_std(std_listener).expect("upstream listener");
        let task = runtime().spawn(accept_loop(listener, kind, id.clone(), shared.clone()));
        Self {
            addr,
            id,
            shared,
            task,
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The value of the `x-upstream-id` header this server answers with.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Connections accepted so far.
    pub fn connection_count(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Requests received so far (fully read).
    pub fn request_count(&self) -> usize {
        lock(&self.shared.requests).len()
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// The last request received; panics when there was none.
    pub fn last_request(&self) -> RecordedRequest {
        lock(&self.shared.requests)
            .last()
            .cloned()
            .expect("the upstream received no request")
    }

    /// For an HTTP/1.1 echo server ([`Upstream::echo`], [`Upstream::status`],
    /// [`Upstream::slow`], [`Upstream::with_headers`]): answer every request
    /// from now on with status `code` (e.g. to make a health check fail);
    /// `0` restores the server's own status.
    pub fn set_status(&self, code: u16) {
        self.shared.status_override.store(code, Ordering::SeqCst);
    }

    /// Requests received so far whose path (without query) is not `path`,
    /// e.g. client traffic without the health probes.
    pub fn request_count_except(&self, path: &str) -> usize {
        lock(&self.shared.requests)
            .iter()
            .filter(|r| r.path.split('?').next() != Some(path))
            .count()
    }

    /// For a [`Upstream::tls_echo`] server: every handshake so far, in order.
    pub fn handshakes(&self) -> Vec<TlsHandshake> {
        lock(&self.shared.handshakes).clone()
    }

    /// For a [`Upstream::streaming`] server: when each chunk was handed to
    /// the connection.
    pub fn chunk_times(&self) -> Vec<Instant> {
        lock(&self.shared.chunk_times).clone()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn accept_loop(listener: TcpListener, kind: Kind, id: String, shared: Arc<Shared>) {
    // Dropping the set (when this task is aborted) aborts every connection.
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        shared.connections.fetch_add(1, Ordering::SeqCst);
        let _ = stream.set_nodelay(true);
        let (kind, id, shared) = (kind.clone(), id.clone(), shared.clone());
        connections.spawn(serve_connection(stream, kind, id, shared));
    }
}

type RespBody = UnsyncBoxBody<Bytes, Infallible>;

async fn serve_connection(stream: TcpStream, kind: Kind, id: String, shared: Arc<Shared>) {
    match kind {
        Kind::Closing => drop(stream),
        Kind::WebSocketEcho => websocket(stream, &id, &shared, false).await,
        Kind::UpgradeAnything => websocket(stream, &id, &shared, true).await,
        Kind::H2cEcho => {
            let service = service_fn(move |req| {
                let (id, shared) = (id.clone(), shared.clone());
                async move { Ok::<_, Infallible>(echo(req, 200, &[], &id, &shared).await) }
            });
            let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        }
        Kind::TlsEcho(config) => tls_echo(stream, config, id, shared).await,
        Kind::Echo { .. } | Kind::Streaming { .. } | Kind::Scripted(_) => {
            let service = service_fn(move |req| {
                let (kind, id, shared) = (kind.clone(), id.clone(), shared.clone());
                async move { Ok::<_, Infallible>(http1_answer(req, kind, &id, &shared).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        }
    }
}

async fn tls_echo(
    stream: TcpStream,
    config: Arc<rustls::ServerConfig>,
    id: String,
    shared: Arc<Shared>,
) {
    let Ok(tls) = tokio_rustls::TlsAcceptor::from(config).accept(stream).await else {
        return;
    };
    let conn = tls.get_ref().1;
    let seen = TlsHandshake {
        server_name: conn.server_name().map(str::to_owned),
        alpn: conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
        client_subject: conn
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|c| tollgate_net::tls::CertNames::from_der(c))
            .map(|n| n.subject),
    };
    let h2 = seen.alpn.as_deref() == Some("h2");
    lock(&shared.handshakes).push(seen);
    let io = TokioIo::new(tls);
    if h2 {
        let service = service_fn(move |req| {
            let (id, shared) = (id.clone(), shared.clone());
            async move { Ok::<_, Infallible>(echo(req, 200, &[], &id, &shared).await) }
        });
        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .serve_connection(io, service)
            .await;
    } else {
        let kind = Kind::Echo {
            status: 200,
            delay: Duration::ZERO,
            extra: Vec::new(),
        };
        let service = service_fn(move |req| {
            let (kind, id, shared) = (kind.clone(), id.clone(), shared.clone());
            async move { Ok::<_, Infallible>(http1_answer(req, kind, &id, &shared).await) }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(io, service)
            .await;
    }
}

async fn http1_answer(
    req: Request<Incoming>,
    kind: Kind,
    id: &str,
    shared: &Arc<Shared>,
) -> Response<RespBody> {
    match kind {
        Kind::Echo {
            status,
            delay,
            extra,
        } => {
            let recorded = read_and_record(req, shared).await;
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let status = match shared.status_override.load(Ordering::SeqCst) {
                0 => status,
                code => code,
            };
            echo_response(&recorded, status, &extra, id)
        }
        Kind::Streaming { chunks, interval } => {
            read_and_record(req, shared).await;
            let drip = Drip {
                chunks: chunks.into(),
                interval,
                first: true,
                sleep: None,
                shared: shared.clone(),
            };
            let mut resp = Response::new(UnsyncBoxBody::new(drip));
            resp.headers_mut()
                .insert("content-type", HeaderValue::from_static("text/plain"));
            insert_id(resp.headers_mut(), id);
            resp
        }
        Kind::Scripted(script) => {
            let recorded = read_and_record(req, shared).await;
            let reply = (script.0)(&recorded);
            scripted_answer(reply, shared).await
        }
        _ => unreachable!("not an HTTP/1.1 echo kind"),
    }
}

async fn echo(
    req: Request<Incoming>,
    status: u16,
    extra: &[(String, String)],
    id: &str,
    shared: &Arc<Shared>,
) -> Response<RespBody> {
    let recorded = read_and_record(req, shared).await;
    echo_response(&recorded, status, extra, id)
}

/// Reads the whole request body (a broken body counts as empty) and records
/// the request.
async fn read_and_record(req: Request<Incoming>, shared: &Shared) -> RecordedRequest {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    record(&parts, body, shared)
}

fn record(parts: &http::request::Parts, body: Bytes, shared: &Shared) -> RecordedRequest {
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let recorded = RecordedRequest {
        method: parts.method.to_string(),
        path,
        version: parts.version,
        headers: parts.headers.clone(),
        body,
    };
    lock(&shared.requests).push(recorded.clone());
    recorded
}

fn echo_json(r: &RecordedRequest) -> String {
    let mut headers = serde_json::Map::new();
    for name in r.headers.keys() {
        let values: Vec<serde_json::Value> = r
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned().into())
            .collect();
        headers.insert(name.as_str().to_owned(), values.into());
    }
    serde_json::json!({
        "method": r.method,
        "path": r.path,
        "version": format!("{:?}", r.version),
        "headers": headers,
        "body_len": r.body.len(),
        "body": String::from_utf8_lossy(&r.body),
    })
    .to_string()
}

fn echo_response(
    r: &RecordedRequest,
    status: u16,
    extra: &[(String, String)],
    id: &str,
) -> Response<RespBody> {
    let status = StatusCode::from_u16(status).expect("valid status code");
    let bodiless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let body = if bodiless {
        Bytes::new()
    } else {
        Bytes::from(echo_json(r))
    };
    let mut resp = Response::new(UnsyncBoxBody::new(Full::new(body)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    if !bodiless {
        h.insert("content-type", HeaderValue::from_static("application/json"));
    }
    insert_id(h, id);
    for (n, v) in extra {
        h.append(
            http::HeaderName::from_bytes(n.as_bytes()).expect("header name"),
            HeaderValue::from_str(v).expect("header value"),
        );
    }
    resp
}

async fn scripted_answer(reply: Reply, shared: &Arc<Shared>) -> Response<RespBody> {
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let body = match reply.chunks {
        Some((chunks, interval)) => UnsyncBoxBody::new(Drip {
            chunks: chunks.into(),
            interval,
            first: true,
            sleep: None,
            shared: shared.clone(),
        }),
        None => UnsyncBoxBody::new(Full::new(reply.body)),
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(reply.status).expect("valid status code");
    for (n, v) in &reply.headers {
        resp.headers_mut().append(
            http::HeaderName::from_bytes(n.as_bytes()).expect("header name"),
            HeaderValue::from_str(v).expect("header value"),
        );
    }
    resp
}

fn insert_id(h: &mut HeaderMap, id: &str) {
    h.insert("x-upstream-id", HeaderValue::from_str(id).expect("id"));
}

/// A body that yields its chunks one `interval` apart.
struct Drip {
    chunks: VecDeque<Bytes>,
    interval: Duration,
    first: bool,
    sleep: Option<Pin<Box<Sleep>>>,
    shared: Arc<Shared>,
}

impl Body for Drip {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.chunks.is_empty() {
            return Poll::Ready(None);
        }
        if !this.first {
            let interval = this.interval;
            let sleep = this
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(interval)));
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.sleep = None;
        }
        this.first = false;
        let chunk = this.chunks.pop_front().expect("a chunk");
        lock(&this.shared.chunk_times).push(Instant::now());
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }
}

/// Reads a request head byte by byte-ish, answers the WebSocket handshake
/// (`any`: any upgrade), then echoes raw bytes.
async fn websocket(mut stream: TcpStream, id: &str, shared: &Shared, any: bool) {
    let mut buf = Vec::with_capacity(4096);
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return;
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let leftover = buf[head_end..].to_vec();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    let mut headers = HeaderMap::new();
    for line in lines.filter(|l| !l.is_empty()) {
        if let Some((n, v)) = line.split_once(':') {
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(n.trim().as_bytes()),
                HeaderValue::from_str(v.trim()),
            ) {
                headers.append(n, v);
            }
        }
    }
    let is_ws = headers
        .get("upgrade")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let key = headers
        .get("sec-websocket-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    lock(&shared.requests).push(RecordedRequest {
        method,
        path,
        version: Version::HTTP_11,
        headers,
        body: Bytes::new(),
    });
    if any {
        return upgrade_anything(stream, &headers_of(shared), id, leftover).await;
    }
    let (true, Some(key)) = (is_ws, key) else {
        let _ = stream
            .write_all(
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
            .await;
        return;
    };
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
         sec-websocket-accept: {}\r\nx-upstream-id: {id}\r\n\r\n",
        crate::ws::websocket_accept(&key)
    );
    if stream.write_all(answer.as_bytes()).await.is_err() {
        return;
    }
    if !leftover.is_empty() && stream.write_all(&leftover).await.is_err() {
        return;
    }
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&chunk[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The fields of the request recorded last.
fn headers_of(shared: &Shared) -> HeaderMap {
    lock(&shared.requests)
        .last()
        .map(|r| r.headers.clone())
        .unwrap_or_default()
}

/// [`Upstream::upgrade_anything`] once the head is read.
async fn upgrade_anything(mut stream: TcpStream, headers: &HeaderMap, id: &str, leftover: Vec<u8>) {
    let Some(proto) = headers.get("upgrade").and_then(|v| v.to_str().ok()) else {
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nplain")
            .await;
        return;
    };
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: {proto}\r\nconnection: Upgrade\r\n\
         x-upstream-id: {id}\r\n\r\n"
    );
    if stream.write_all(answer.as_bytes()).await.is_err() {
        return;
    }
    if !leftover.is_empty() && stream.write_all(&leftover).await.is_err() {
        return;
    }
    let (mut r, mut w) = stream.split();
    let _ = tokio::io::copy(&mut r, &mut w).await;
}

/// Position of `needle` in `hay`.
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
