//! A real gRPC server and client for tests, built on tonic's generic codec
//! and service types (no code generation, no protoc): the messages are
//! written by hand with `prost`, the server is hyper's HTTP/2 server (h2c or
//! TLS) calling `tonic::server::Grpc`, the client `tonic::client::Grpc`
//! over a hyper HTTP/2 connection.
//!
//! The server refuses calls without `te: trailers`, as gRPC's C core does.
//! The service `test.Echo` has one method of each kind:
//! - `Unary`: answers `echo:<text>` with the same `data`, after `delay_ms`;
//!   the text `fail` answers INVALID_ARGUMENT with trailing metadata
//!   `x-detail: why`.
//! - `ServerStream`: answers `<text>` (a number n) with n messages `0`..n.
//! - `ClientStream`: answers the texts it received, joined by `,`.
//! - `Bidi`: answers each message with `echo:<text>` as it arrives.

// tonic's API returns `Result<_, tonic::Status>`, a large error type this
// module cannot choose.
#![allow(clippy::result_large_err)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::stream::{BoxStream, StreamExt};
use http::uri::PathAndQuery;
use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tonic::codec::{ProstCodec, Streaming};
use tonic::{Code, Status};

use crate::tls::{server_config, CertPair, TlsOptions};
use crate::{runtime, CLIENT_TIMEOUT};

/// The one message type of `test.Echo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EchoMsg {
    /// Text echoed (or a count, or `fail`).
    #[prost(string, tag = "1")]
    pub text: String,
    /// Bytes echoed as they came.
    #[prost(bytes = "vec", tag = "2")]
    pub data: Vec<u8>,
    /// How long the server waits before answering a unary call.
    #[prost(uint32, tag = "3")]
    pub delay_ms: u32,
}

impl EchoMsg {
    /// A message with `text` only.
    pub fn text(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            ..Self::default()
        }
    }
}

/// Largest message either side accepts (tonic's default is 4 MiB, which a
/// 4 MiB payload plus its framing passes).
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

type Codec = ProstCodec<EchoMsg, EchoMsg>;
type Reply<T> = Pin<Box<dyn Future<Output = Result<tonic::Response<T>, Status>> + Send>>;

/// A gRPC server on `127.0.0.1:0`, stopped when dropped.
#[derive(Debug)]
pub struct GrpcServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl GrpcServer {
    /// Serves `test.Echo` over cleartext HTTP/2 (h2c, prior knowledge).
    pub fn h2c() -> Self {
        Self::start(None)
    }

    /// Serves `test.Echo` over TLS (ALPN `h2`) with `pair`.
    pub fn tls(pair: &CertPair) -> Self {
        Self::start(Some(server_config(pair, &["h2"])))
    }

    fn start(tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let listener = runtime()
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let task = runtime().spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, tls.clone()));
            }
        });
        Self { addr, task }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(stream: TcpStream, tls: Option<Arc<rustls::ServerConfig>>) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(|req: http::Request<Incoming>| async move {
        Ok::<_, Infallible>(dispatch(req).await)
    });
    let builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    match tls {
        None => {
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        }
        Some(config) => {
            if let Ok(tls) = tokio_rustls::TlsAcceptor::from(config).accept(stream).await {
                let _ = builder.serve_connection(TokioIo::new(tls), service).await;
            }
        }
    }
}

/// Routes a call to its method.
async fn dispatch(req: http::Request<Incoming>) -> http::Response<tonic::body::Body> {
    // As strict as gRPC's C core: a call without `te: trailers` is refused.
    if req
        .headers()
        .get(http::header::TE)
        .is_none_or(|v| v != "trailers")
    {
        return Status::internal("te: trailers required").into_http();
    }
    let mut grpc = tonic::server::Grpc::new(Codec::default())
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    match req.uri().path() {
        "/test.Echo/Unary" => grpc.unary(Handler(unary), req).await,
        "/test.Echo/ServerStream" => grpc.server_streaming(Handler(server_stream), req).await,
        "/test.Echo/ClientStream" => grpc.client_streaming(Handler(client_stream), req).await,
        "/test.Echo/Bidi" => grpc.streaming(Handler(bidi), req).await,
        _ => Status::unimplemented("no such method").into_http(),
    }
}

fn unary(req: tonic::Request<EchoMsg>) -> Reply<EchoMsg> {
    Box::pin(async move {
        let msg = req.into_inner();
        tokio::time::sleep(Duration::from_millis(msg.delay_ms.into())).await;
        if msg.text == "fail" {
            let mut meta = tonic::metadata::MetadataMap::new();
            meta.insert("x-detail", "why".parse().expect("metadata"));
            return Err(Status::with_metadata(
                Code::InvalidArgument,
                "bad input",
                meta,
            ));
        }
        Ok(tonic::Response::new(EchoMsg {
            text: format!("echo:{}", msg.text),
            data: msg.data,
            delay_ms: 0,
        }))
    })
}

fn server_stream(
    req: tonic::Request<EchoMsg>,
) -> Reply<BoxStream<'static, Result<EchoMsg, Status>>> {
    Box::pin(async move {
        let n: u32 = req.into_inner().text.parse().unwrap_or(0);
        let stream = futures_util::stream::iter((0..n).map(|i| Ok(EchoMsg::text(&i.to_string()))));
        Ok(tonic::Response::new(stream.boxed()))
    })
}

fn client_stream(req: tonic::Request<Streaming<EchoMsg>>) -> Reply<EchoMsg> {
    Box::pin(async move {
        let mut stream = req.into_inner();
        let mut texts = Vec::new();
        while let Some(msg) = stream.message().await? {
            texts.push(msg.text);
        }
        Ok(tonic::Response::new(EchoMsg::text(&texts.join(","))))
    })
}

fn bidi(
    req: tonic::Request<Streaming<EchoMsg>>,
) -> Reply<BoxStream<'static, Result<EchoMsg, Status>>> {
    Box::pin(async move {
        let stream = req
            .into_inner()
            .map(|m| m.map(|m| EchoMsg::text(&format!("echo:{}", m.text))));
        Ok(tonic::Response::new(stream.boxed()))
    })
}

/// A method as a tower service (what tonic's server and client take).
#[derive(Clone)]
struct Handler<F>(F);

impl<Req, Resp, F> tower_service::Service<tonic::Request<Req>> for Handler<F>
where
    F: FnMut(tonic::Request<Req>) -> Reply<Resp>,
{
    type Response = tonic::Response<Resp>;
    type Error = Status;
    type Future = Reply<Resp>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: tonic::Request<Req>) -> Self::Future {
        (self.0)(req)
    }
}

/// An HTTP/2 connection as tonic's client transport.
#[derive(Clone)]
pub struct GrpcChannel(SendRequest<tonic::body::Body>);

type Answer = Pin<Box<dyn Future<Output = Result<http::Response<Incoming>, hyper::Error>> + Send>>;

impl tower_service::Service<http::Request<tonic::body::Body>> for GrpcChannel {
    type Response = http::Response<Incoming>;
    type Error = hyper::Error;
    type Future = Answer;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), hyper::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Answer {
        let mut sender = self.0.clone();
        Box::pin(async move { sender.send_request(req).await })
    }
}

/// A gRPC client of `test.Echo` on one HTTP/2 connection. Its methods are
/// async: run them inside [`run`].
pub struct GrpcClient {
    grpc: tonic::client::Grpc<GrpcChannel>,
}

impl GrpcClient {
    /// Connects over h2c (prior knowledge) to `addr`.
    pub async fn h2c(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let _ = stream.set_nodelay(true);
        Self::over(TokioIo::new(stream), &format!("http://{addr}")).await
    }

    /// Connects over TLS (ALPN `h2`) to `addr`, verifying with `opts`.
    pub async fn tls(addr: SocketAddr, opts: &TlsOptions) -> Self {
        let opts = opts.clone().alpn(&["h2"]);
        let name = opts.server_name.clone().expect("a server name");
        let stream = TcpStream::connect(addr).await.expect("connect");
        let tls = tokio_rustls::TlsConnector::from(opts.client_config())
            .connect(name.clone().try_into().expect("server name"), stream)
            .await
            .expect("TLS handshake");
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]), "ALPN h2");
        let port = addr.port();
        Self::over(TokioIo::new(tls), &format!("https://{name}:{port}")).await
    }

    async fn over<T>(io: TokioIo<T>, origin: &str) -> Self
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .expect("HTTP/2 handshake");
        tokio::spawn(conn);
        let grpc =
            tonic::client::Grpc::with_origin(GrpcChannel(sender), origin.parse().expect("origin"))
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE);
        Self { grpc }
    }

    /// `Unary` with `msg`; `timeout` is sent as `grpc-timeout`.
    pub async fn unary(
        &mut self,
        msg: EchoMsg,
        timeout: Option<Duration>,
    ) -> Result<EchoMsg, Status> {
        let mut req = tonic::Request::new(msg);
        if let Some(t) = timeout {
            req.set_timeout(t);
        }
        self.ready().await?;
        let path = PathAndQuery::from_static("/test.Echo/Unary");
        Ok(self
            .grpc
            .unary(req, path, Codec::default())
            .await?
            .into_inner())
    }

    /// `ServerStream`: the texts of the `n` messages answered.
    pub async fn server_stream(&mut self, n: u32) -> Result<Vec<String>, Status> {
        self.ready().await?;
        let path = PathAndQuery::from_static("/test.Echo/ServerStream");
        let req = tonic::Request::new(EchoMsg::text(&n.to_string()));
        let mut stream = self
            .grpc
            .server_streaming(req, path, Codec::default())
            .await?
            .into_inner();
        let mut out = Vec::new();
        while let Some(m) = stream.message().await? {
            out.push(m.text);
        }
        Ok(out)
    }

    /// `ClientStream` with messages of these texts.
    pub async fn client_stream(&mut self, texts: &[&str]) -> Result<String, Status> {
        self.ready().await?;
        let path = PathAndQuery::from_static("/test.Echo/ClientStream");
        let msgs: Vec<EchoMsg> = texts.iter().map(|t| EchoMsg::text(t)).collect();
        let req = tonic::Request::new(futures_util::stream::iter(msgs));
        Ok(self
            .grpc
            .client_streaming(req, path, Codec::default())
            .await?
            .into_inner()
            .text)
    }

    /// Opens `Bidi`: a sender for the messages to send (the send side
    /// closes when it is dropped) and the stream of answers.
    pub async fn bidi(
        &mut self,
    ) -> Result<(tokio::sync::mpsc::Sender<EchoMsg>, Streaming<EchoMsg>), Status> {
        self.ready().await?;
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let outgoing =
            futures_util::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|m| (m, rx)) },
            );
        let path = PathAndQuery::from_static("/test.Echo/Bidi");
        let resp = self
            .grpc
            .streaming(tonic::Request::new(outgoing), path, Codec::default())
            .await?;
        Ok((tx, resp.into_inner()))
    }

    async fn ready(&mut self) -> Result<(), Status> {
        self.grpc
            .ready()
            .await
            .map_err(|e| Status::unavailable(format!("not ready: {e}")))
    }
}

/// Runs an async test body on the kit's runtime, failing after twice
/// [`CLIENT_TIMEOUT`].
pub fn run<T>(fut: impl Future<Output = T>) -> T {
    runtime().block_on(async {
        tokio::time::timeout(CLIENT_TIMEOUT * 2, fut)
            .await
            .unwrap_or_else(|_| panic!("test body took longer than {:?}", CLIENT_TIMEOUT * 2))
    })
}
