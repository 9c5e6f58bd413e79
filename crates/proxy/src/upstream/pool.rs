//! Per-worker pools of idle keep-alive connections, one pool per target.
//! Each worker thread owns its pools, so connections never cross event loops
//! and the lock is never contended.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::net::TcpStream;
use tollgate_core::{ErrorKind, ProxyError};

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
    /// Moving average of response-head latency in µs (0: none yet). Per
    /// worker, so recording it touches no cache line another core writes.
    latency_us: AtomicU64,
}

#[derive(Debug)]
struct IdleConn {
    stream: TcpStream,
    rbuf: BytesMut,
    wbuf: BytesMut,
    since: Instant,
}

/// A connection checked out of a pool, for one exchange at a time.
#[derive(Debug)]
pub(crate) struct PooledConn {
    /// The socket.
    pub(crate) stream: TcpStream,
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
    ) -> Self {
        Self {
            address,
            idle: Mutex::new(Vec::new()),
            max_idle,
            idle_timeout,
            connect_timeout,
            latency_us: AtomicU64::new(0),
        }
    }

    /// Folds one response-head latency into the moving average (weight 1/8).
    pub(crate) fn record_latency(&self, d: Duration) {
        let sample = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
        let old = self.latency_us.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            (old.saturating_mul(7).saturating_add(sample)) / 8
        };
        self.latency_us.store(new, Ordering::Relaxed);
    }

    /// The moving average of response-head latency, if any was recorded.
    pub(crate) fn latency(&self) -> Option<Duration> {
        match self.latency_us.load(Ordering::Relaxed) {
            0 => None,
            us => Some(Duration::from_micros(us)),
        }
    }

    /// The most recently used live idle connection, or a new one.
    pub(crate) async fn checkout(&self) -> Result<PooledConn, ProxyError> {
        if let Some(conn) = self.take_idle() {
            return Ok(conn);
        }
        self.connect().await
    }

    /// A new connection, bypassing idle ones.
    pub(crate) async fn connect(&self) -> Result<PooledConn, ProxyError> {
        let stream = tokio::time::timeout(self.connect_timeout, TcpStream::connect(&*self.address))
            .await
            .map_err(|_| {
                ProxyError::upstream(
                    ErrorKind::UpstreamTimeout,
                    format!("connect to {} timed out", self.address),
                )
                .retryable()
            })?
            .map_err(|e| {
                ProxyError::upstream(
                    ErrorKind::UpstreamConnect,
                    format!("connect to {} failed: {e}", self.address),
                )
                .retryable()
            })?;
        tollgate_net::set_nodelay(&stream);
        Ok(PooledConn {
            stream,
            rbuf: BytesMut::with_capacity(READ_BUF),
            wbuf: BytesMut::with_capacity(1024),
            reused: false,
        })
    }

    fn take_idle(&self) -> Option<PooledConn> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        while let Some(c) = idle.pop() {
            if now.duration_since(c.since) < self.idle_timeout && still_open(&c.stream) {
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
fn still_open(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}
