//! Per-worker pools of idle keep-alive connections, one pool per target.
//! Each worker thread owns its pools, so connections never cross event loops
//! and the lock is never contended.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::net::TcpStream;
use tollgate_core::{ErrorKind, ProxyError};
use tollgate_net::{MaybeTls, OutboundStream};

use super::tls::TargetTls;

/// Read buffer an upstream connection starts with and keeps while idle;
/// bodies grow it while they stream.
const READ_BUF: usize = 4 * 1024;
/// An idle connection whose buffer grew past this gets a fresh small one,
/// so a thousand idle connections cost a thousand small buffers.
const KEEP_BUF_BELOW: usize = 32 * 1024;

/// Idle connections to one target, owned by one worker.
#[derive(Debug)]
pub(crate) struct TargetPool {
    /// `host:port` as configured.
    pub(crate) address: String,
    idle: Mutex<Vec<IdleConn>>,
    max_idle: usize,
    idle_timeout: Duration,
    connect_timeout: Duration,
    /// TLS settings when the upstream is reached over TLS.
    tls: Option<TargetTls>,
}

#[derive(Debug)]
struct IdleConn {
    stream: OutboundStream,
    rbuf: BytesMut,
    wbuf: BytesMut,
    since: Instant,
}

/// A connection checked out of a pool, for one exchange at a time.
#[derive(Debug)]
pub(crate) struct PooledConn {
    /// The connection (plain or TLS).
    pub(crate) stream: OutboundStream,
    /// Bytes read from the upstream and not yet consumed.
    pub(crate) rbuf: BytesMut,
    /// Write buffer, kept with the connection so requests reuse it.
    pub(crate) wbuf: BytesMut,
    /// Whether the connection served an earlier request (it may have been
    /// closed by the upstream meanwhile).
    pub(crate) reused: bool,
}

impl TargetPool {
    /// A pool for `address`.
    pub(crate) fn new(
        address: String,
        max_idle: usize,
        idle_timeout: Duration,
        connect_timeout: Duration,
        tls: Option<TargetTls>,
    ) -> Self {
        Self {
            address,
            idle: Mutex::new(Vec::new()),
            max_idle,
            idle_timeout,
            connect_timeout,
            tls,
        }
    }

    /// Whether connections to this target carry TLS.
    pub(crate) fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The most recently used live idle connection, or a new one.
    pub(crate) async fn checkout(&self) -> Result<PooledConn, ProxyError> {
        if let Some(conn) = self.take_idle() {
            return Ok(conn);
        }
        self.connect().await
    }

    /// A new connection, bypassing idle ones. With TLS, the handshake
    /// counts towards the connect timeout, and a failed one (certificate
    /// refused, no common protocol) is a connect error: nothing of the
    /// request was sent, so another target may be tried.
    pub(crate) async fn connect(&self) -> Result<PooledConn, ProxyError> {
        let stream = tokio::time::timeout(self.connect_timeout, self.open())
            .await
            .map_err(|_| {
                ProxyError::upstream(
                    ErrorKind::UpstreamTimeout,
                    format!("connect to {} timed out", self.address),
                )
                .retryable()
            })??;
        Ok(PooledConn {
            stream,
            rbuf: BytesMut::with_capacity(READ_BUF),
            wbuf: BytesMut::with_capacity(1024),
            reused: false,
        })
    }

    async fn open(&self) -> Result<OutboundStream, ProxyError> {
        let tcp = TcpStream::connect(&*self.address).await.map_err(|e| {
            ProxyError::upstream(
                ErrorKind::UpstreamConnect,
                format!("connect to {} failed: {e}", self.address),
            )
            .retryable()
        })?;
        tollgate_net::set_nodelay(&tcp);
        let Some(tls) = &self.tls else {
            return Ok(MaybeTls::Plain(tcp));
        };
        tls.connector
            .connect(tcp, tls.name.clone())
            .await
            .map_err(|e| {
                ProxyError::upstream(
                    ErrorKind::UpstreamConnect,
                    format!("TLS handshake with {} failed: {e}", self.address),
                )
                .retryable()
            })
    }

    fn take_idle(&self) -> Option<PooledConn> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        while let Some(mut c) = idle.pop() {
            if now.duration_since(c.since) < self.idle_timeout && still_open(&mut c.stream) {
                return Some(PooledConn {
                    stream: c.stream,
                    rbuf: c.rbuf,
                    wbuf: c.wbuf,
                    reused: true,
                });
            }
        }
        None
    }

    /// Returns a connection whose last exchange ended cleanly.
    pub(crate) fn release(&self, conn: PooledConn) {
        if !conn.rbuf.is_empty() {
            return; // bytes beyond the response: the stream is out of sync
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        // Oldest first: only the front can have expired, so this is O(1) when nothing has.
        let expired = idle
            .iter()
            .take_while(|c| now.duration_since(c.since) >= self.idle_timeout)
            .count();
        idle.drain(..expired);
        if idle.len() < self.max_idle {
            let mut rbuf = conn.rbuf;
            if rbuf.capacity() > KEEP_BUF_BELOW {
                rbuf = BytesMut::with_capacity(READ_BUF);
            } else {
                // Reclaims the whole buffer when the body pieces split off it are gone.
                rbuf.reserve(READ_BUF);
            }
            idle.push(IdleConn {
                stream: conn.stream,
                rbuf,
                wbuf: conn.wbuf,
                since: now,
            });
        }
    }
}

/// Whether an idle connection still looks usable: nothing to read (a
/// closed one reads end of file, a confused one has stray bytes). Uses the
/// readiness the event loop already has, so it costs no system call while
/// the connection is quiet. A connection closed too recently to be seen is
/// still caught by the exchange's retry.
fn still_open(stream: &mut OutboundStream) -> bool {
    let mut byte = [0u8; 1];
    match stream {
        MaybeTls::Plain(tcp) => {
            matches!(tcp.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        }
        // Read through TLS, never the socket beneath: records that arrived
        // while idle (TLS 1.3 session tickets, a close_notify) must reach
        // rustls. Nothing readable yet means still open.
        MaybeTls::Tls(tls) => {
            use tokio::io::AsyncRead;
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            let mut buf = tokio::io::ReadBuf::new(&mut byte);
            std::pin::Pin::new(tls.as_mut())
                .poll_read(&mut cx, &mut buf)
                .is_pending()
        }
    }
}

/// Reads what the connection has into `buf`; `Ready(Ok(0))` at its end.
/// Plain sockets read on readiness (no future set up per read); TLS
/// connections decrypt through rustls.
pub(crate) fn poll_read_buf(
    stream: &mut OutboundStream,
    cx: &mut std::task::Context<'_>,
    buf: &mut BytesMut,
) -> std::task::Poll<std::io::Result<usize>> {
    use std::future::Future;
    use std::task::Poll;
    match stream {
        MaybeTls::Plain(tcp) => loop {
            std::task::ready!(tcp.poll_read_ready(cx))?;
            match tcp.try_read_buf(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                done => return Poll::Ready(done),
            }
        },
        MaybeTls::Tls(tls) => {
            use tokio::io::AsyncReadExt;
            std::pin::pin!(tls.read_buf(buf)).poll(cx)
        }
    }
}
