//! Per-worker pools of idle keep-alive connections, one pool per target.
//! Each worker thread owns its pools, so connections never cross event loops
//! and the lock is not contended (except that a request waiting under
//! `max_connections` may close another pool's idle connection).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tollgate_balance::ConcurrencyLimit;
use tollgate_core::{ErrorKind, ProxyError};
use tollgate_net::{MaybeTls, OutboundStream};

use super::resolve::TargetAddrs;
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
    /// What `address` resolves to now (shared by every worker's pool).
    addrs: Arc<TargetAddrs>,
    idle: Mutex<Vec<IdleConn>>,
    max_idle: usize,
    idle_timeout: Duration,
    connect_timeout: Duration,
    /// TLS settings when the upstream is reached over TLS.
    tls: Option<TargetTls>,
    /// Moving average of response-head latency in µs (0: none yet). Per
    /// worker, so recording it touches no cache line another core writes.
    latency_us: AtomicU64,
    /// The upstream's `circuit_breaker.max_connections`, shared by every
    /// target and worker.
    limit: Option<Arc<ConnectionLimit>>,
}

/// A cap on open connections to an upstream and on requests waiting for
/// one (`max_connections`, `max_pending`).
#[derive(Debug)]
pub(crate) struct ConnectionLimit {
    /// Open connections: waited for (up to the connect timeout).
    slots: Arc<Semaphore>,
    /// Requests waiting for a slot: never waited for, refused when full.
    pending: Arc<ConcurrencyLimit>,
    /// Every pool counted under the limit (each target, each worker).
    pools: Mutex<Vec<Weak<TargetPool>>>,
}

impl ConnectionLimit {
    /// At most `max` connections open and `max_pending` requests waiting.
    pub(crate) fn new(max: usize, max_pending: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max)),
            pending: Arc::new(ConcurrencyLimit::new(max_pending)),
            pools: Mutex::new(Vec::new()),
        }
    }

    fn register(&self, pool: &Arc<TargetPool>) {
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        pools.retain(|p| p.strong_count() > 0);
        pools.push(Arc::downgrade(pool));
    }

    /// Closes the longest-idle connection of the first pool that has one,
    /// giving its slot back. Idle connections are only dropped when their
    /// own pool is next used, so without this a target whose pool holds
    /// the slots idle starves every other target (and other workers' pools
    /// for the same target) for as long as it keeps them.
    fn close_an_idle_connection(&self) -> bool {
        let pools: Vec<Arc<TargetPool>> = self
            .pools
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        pools.iter().any(|p| p.close_oldest_idle())
    }
}

fn limit_error(message: &str) -> ProxyError {
    // Not retryable: every target of the upstream shares the limit.
    ProxyError::upstream(ErrorKind::Unavailable, message)
}

#[derive(Debug)]
struct IdleConn {
    stream: OutboundStream,
    peer: SocketAddr,
    _slot: Option<OwnedSemaphorePermit>,
    rbuf: BytesMut,
    wbuf: BytesMut,
    since: Instant,
}

/// A connection checked out of a pool, for one exchange at a time.
#[derive(Debug)]
pub(crate) struct PooledConn {
    /// The connection (plain or TLS).
    pub(crate) stream: OutboundStream,
    /// The address it is connected to.
    peer: SocketAddr,
    /// Its place under the upstream's `max_connections`, held while it is open.
    slot: Option<OwnedSemaphorePermit>,
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
        addrs: Arc<TargetAddrs>,
        max_idle: usize,
        idle_timeout: Duration,
        connect_timeout: Duration,
        tls: Option<TargetTls>,
    ) -> Self {
        Self {
            address,
            addrs,
            idle: Mutex::new(Vec::new()),
            max_idle,
            idle_timeout,
            connect_timeout,
            tls,
            latency_us: AtomicU64::new(0),
            limit: None,
        }
    }

    /// The pool, shared, with its connections counted under the
    /// upstream's `limit` (when it has one).
    pub(crate) fn shared(mut self, limit: Option<Arc<ConnectionLimit>>) -> Arc<Self> {
        self.limit = limit;
        let pool = Arc::new(self);
        if let Some(limit) = &pool.limit {
            limit.register(&pool);
        }
        pool
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

    /// Whether connections to this target carry TLS.
    pub(crate) fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The most recently used live idle connection, or a new one.
    pub(crate) async fn checkout(&self) -> Result<PooledConn, ProxyError> {
        if let Some(conn) = self.take_idle() {
            return Ok(conn);
        }
        // Boxed: opening a connection (waiting for a slot, TCP, TLS) is a
        // large future that every request's future would otherwise carry,
        // though most requests find an idle connection.
        Box::pin(self.checkout_new()).await
    }

    /// A connection newly opened, under `max_connections` when set.
    async fn checkout_new(&self) -> Result<PooledConn, ProxyError> {
        let slot = match self.slot_now() {
            Ok(slot) => slot,
            // At `max_connections`: wait (as one of `max_pending`) for a
            // connection to close or for one of this pool's to come back idle.
            Err(limit) => match self.wait_for_slot(limit, true).await? {
                Ok(slot) => Some(slot),
                Err(idle) => return Ok(idle),
            },
        };
        self.connect_with(slot).await
    }

    /// A slot under the limit now (`Ok(None)` without a limit), or the
    /// limit that is full.
    fn slot_now(&self) -> Result<Option<OwnedSemaphorePermit>, &ConnectionLimit> {
        match &self.limit {
            None => Ok(None),
            Some(l) => l
                .slots
                .clone()
                .try_acquire_owned()
                .map(Some)
                .map_err(|_| &**l),
        }
    }

    /// Waits up to the connect timeout for a slot, or (when `reuse`) for an
    /// idle connection of this pool.
    async fn wait_for_slot(
        &self,
        limit: &ConnectionLimit,
        reuse: bool,
    ) -> Result<Result<OwnedSemaphorePermit, PooledConn>, ProxyError> {
        let _waiting = limit.pending.try_acquire_owned().ok_or_else(|| {
            limit_error("upstream connection limit reached and too many requests waiting")
        })?;
        let deadline = tokio::time::Instant::now() + self.connect_timeout;
        loop {
            tokio::select! {
                slot = limit.slots.clone().acquire_owned() => {
                    return slot.map(Ok).map_err(|_| limit_error("upstream connection limit closed"));
                }
                // Connections returned to this pool do not free a slot:
                // look for them now and then, and close one idle elsewhere
                // (its slot then comes to this request).
                _ = tokio::time::sleep(Duration::from_millis(2)) => {
                    if reuse {
                        if let Some(conn) = self.take_idle() {
                            return Ok(Err(conn));
                        }
                    }
                    limit.close_an_idle_connection();
                    if tokio::time::Instant::now() >= deadline {
                        return Err(limit_error("no upstream connection became free in time"));
                    }
                }
            }
        }
    }

    /// A new connection, bypassing idle ones. With TLS, the handshake
    /// counts towards the connect timeout, and a failed one (certificate
    /// refused, no common protocol) is a connect error: nothing of the
    /// request was sent, so another target may be tried.
    pub(crate) async fn connect(&self) -> Result<PooledConn, ProxyError> {
        let slot = match self.slot_now() {
            Ok(slot) => slot,
            Err(limit) => match self.wait_for_slot(limit, false).await? {
                Ok(slot) => Some(slot),
                Err(conn) => return Ok(conn),
            },
        };
        self.connect_with(slot).await
    }

    async fn connect_with(
        &self,
        slot: Option<OwnedSemaphorePermit>,
    ) -> Result<PooledConn, ProxyError> {
        let Some(peer) = self.addrs.pick() else {
            return Err(ProxyError::upstream(
                ErrorKind::UpstreamConnect,
                format!("{} resolves to no address", self.address),
            )
            .retryable());
        };
        let stream = tokio::time::timeout(self.connect_timeout, self.open(peer))
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
            peer,
            slot,
            rbuf: BytesMut::with_capacity(READ_BUF),
            wbuf: BytesMut::with_capacity(1024),
            reused: false,
        })
    }

    async fn open(&self, peer: SocketAddr) -> Result<OutboundStream, ProxyError> {
        let tcp = TcpStream::connect(peer).await.map_err(|e| {
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
        let mut c = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            loop {
                let mut c = idle.pop()?;
                // An address that left the target's DNS answer is drained:
                // its idle connections are closed instead of reused.
                if now.duration_since(c.since) < self.idle_timeout
                    && self.addrs.contains(&c.peer)
                    && still_open(&mut c.stream)
                {
                    break c;
                }
            }
        };
        // Reclaims the whole buffer in place, now that the pieces of the
        // last body split off it are gone (when the connection went back,
        // its body's last piece was often still on its way to the client).
        c.rbuf.reserve(READ_BUF);
        Some(PooledConn {
            stream: c.stream,
            peer: c.peer,
            slot: c._slot,
            rbuf: c.rbuf,
            wbuf: c.wbuf,
            reused: true,
        })
    }

    /// Closes the connection idle the longest, if any (its slot under the
    /// limit is given back).
    fn close_oldest_idle(&self) -> bool {
        let oldest = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            (!idle.is_empty()).then(|| idle.remove(0))
        };
        oldest.is_some()
    }

    /// Returns a connection whose last exchange ended cleanly.
    pub(crate) fn release(&self, conn: PooledConn) {
        if !conn.rbuf.is_empty() {
            return; // bytes beyond the response: the stream is out of sync
        }
        if !self.addrs.contains(&conn.peer) {
            return; // drained: the address left the target's DNS answer
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
            }
            idle.push(IdleConn {
                stream: conn.stream,
                peer: conn.peer,
                _slot: conn.slot,
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn connections_to_an_address_that_left_are_drained() {
        let a = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let b = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let addrs = Arc::new(TargetAddrs::new(&a_addr.to_string()));
        let pool = TargetPool::new(
            "svc.internal:80".into(),
            addrs.clone(),
            8,
            Duration::from_secs(60),
            Duration::from_secs(1),
            None,
        );
        let conn = pool.checkout().await.unwrap();
        let (mut on_a, _) = a.accept().await.unwrap();
        // In flight while the answer changes: it finishes, then is not pooled.
        addrs.update(vec![b_addr]);
        pool.release(conn);
        let mut byte = [0u8; 1];
        let closed = tokio::time::timeout(Duration::from_secs(2), on_a.read(&mut byte)).await;
        assert!(matches!(closed, Ok(Ok(0))), "{closed:?}");
        let conn = pool.checkout().await.unwrap();
        assert!(!conn.reused);
        assert_eq!(conn.peer, b_addr);
        let _on_b = b.accept().await.unwrap();

        // An idle connection whose address leaves is closed, not reused.
        pool.release(conn);
        addrs.update(vec![a_addr]);
        let conn = pool.checkout().await.unwrap();
        assert!(!conn.reused);
        assert_eq!(conn.peer, a_addr);
    }
}
