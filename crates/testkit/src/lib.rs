//! tollgate-testkit: what tollgate's integration tests are built from.
//!
//! - [`Upstream`]: small HTTP servers on `127.0.0.1:0` (echo, fixed status,
//!   slow, streaming, closing, WebSocket echo, h2c echo, TLS echo, and scripted
//!   ones answering what the test says) that record what reached them and
//!   stop when dropped.
//! - [`Tollgate`]: tollgate started in-process from a YAML string, stopped
//!   when dropped; [`Tollgate::in_front_of`] for the common "one listener,
//!   one upstream over these targets" setup.
//! - Clients: [`raw_request`] and friends for byte-exact HTTP/1.1 (also
//!   from another loopback address, [`raw_request_from`]), and
//!   [`get`] / [`request`] / [`h2_get`] / [`h2_request`] (hyper based) for
//!   convenience.
//! - TLS: [`TestCa`] issues certificates, [`TempDir`] holds their files,
//!   [`tls_connect`] / [`tls_get`] are TLS clients that report the handshake.
//! - [`render`]: `{name}` placeholders in config templates.
//! - L4: [`TcpServer`] (echo, hello, half-close, PROXY protocol echo) and
//!   [`UdpServer`] (echo naming itself), with [`read_line`] and [`udp_exchange`].
//! - [`json_lines`], [`wait_json_lines`]: the access log or a JSON event
//!   log as parsed lines.
//! - [`TempDir`]: a directory of files (static roots), removed when dropped.
//! - [`TollgateProcess`]: the binary run as a child, its stderr lines read
//!   (the event log, signals).
//! - [`LoadLoop`]: client threads under which a test reloads or upgrades,
//!   counting failed requests and refused connections.
//! - gRPC: [`GrpcServer`] (h2c or TLS) serving `test.Echo` with every kind
//!   of method, [`GrpcClient`] calling it (tonic's codec, no codegen), and
//!   [`run`] for async test bodies.
//! - [`OtlpReceiver`]: an OTLP/HTTP collector (POST `/v1/traces`) that
//!   decodes each `ExportTraceServiceRequest` with the OpenTelemetry
//!   protobuf types and keeps the spans; it can stall (a slow collector).
//! - [`RedisServer`]: a real `redis-server` on its own port and directory
//!   (kill, restart, SIGSTOP/SIGCONT for outage tests).
//! - [`jwt`]: signing keys (RSA, EC, Ed25519, HMAC), their PEM/JWK/JWKS
//!   forms, tokens with any header, and [`jwt::JwksServer`] (serves a key
//!   set, counts fetches, rotates, fails, stalls), for the gateway's tests.
//! - [`auth`]: an OAuth2 introspection endpoint and a forward-auth service
//!   (count calls, fail, stall).
//!
//! # Sync by design
//!
//! Every helper is blocking and tests are plain `#[test]` functions. The
//! upstream servers and the hyper clients run on one shared multi-threaded
//! tokio runtime owned by this crate (see [`runtime`]); tollgate runs on its
//! own worker threads. Do not call the client helpers from inside an async
//! context (they use `block_on`).

pub mod auth;
mod browser;
mod client;
mod grpc;
mod harness;
mod json_lines;
pub mod jwt;
mod l4;
mod load;
mod otlp;
mod process;
mod raw;
mod redis;
mod scripted;
mod soap;
mod tempdir;
mod tls;
mod upstream;
mod ws;

use std::sync::OnceLock;
use std::time::Duration;

pub use browser::{Chromium, CHROMIUM_INSTALL};
pub use client::{get, h2_get, h2_request, request, Echo, HttpResponse};
pub use grpc::{run, EchoMsg, GrpcChannel, GrpcClient, GrpcServer};
pub use harness::{render, unused_addr, PoolTarget, Tollgate, TEST_PREAMBLE};
pub use json_lines::{json_lines, wait_json_lines};
pub use l4::{read_line, read_line_buffered, udp_exchange, TcpServer, UdpServer};
pub use load::{LoadLoop, LoadReport};
pub use otlp::{OtlpReceiver, ReceivedSpan};
pub use process::TollgateProcess;
pub use raw::{
    connect, connect_from, parse_response, parse_status, raw_request, raw_request_from,
    raw_request_timeout, read_all, read_until, read_until_timeout,
};
pub use redis::{RedisCluster, RedisSentinel, RedisServer, REDIS_INSTALL};
pub use scripted::Reply;
pub use tempdir::TempDir;
pub use tls::{tls_connect, tls_get, tls_raw_request, CertPair, TestCa, TlsConn, TlsOptions};
/// Re-exported so tests can read gRPC statuses and codes.
pub use tonic;
pub use upstream::{RecordedRequest, TlsHandshake, Upstream};
pub use ws::{websocket_accept, WEBSOCKET_KEY};

/// Re-exported so tests need no extra dependency for header maps and versions.
pub use bytes;
/// Re-exported so tests need no extra dependency for header maps and versions.
pub use http;
/// Re-exported for tests that parse JSON bodies and log lines.
pub use serde_json;

/// How long any single client helper may take before the test fails.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// The runtime the upstream servers and hyper clients run on (two worker
/// threads, created on first use, lives for the whole test binary).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("testkit-rt")
            .enable_all()
            .build()
            .expect("testkit runtime")
    })
}
