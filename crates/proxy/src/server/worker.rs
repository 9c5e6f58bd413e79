//! A worker thread: its single-threaded runtime, the accept loop of each of
//! its listener sockets, the access log flusher, and the drain on shutdown.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;

use super::{tls, AtAccept, ListenerCtx, WorkerSlot};
use crate::forward::ClientInfo;

/// How often workers hand buffered access log lines to the sink.
const LOG_FLUSH_EVERY: Duration = Duration::from_millis(200);

/// One worker's socket of a listener.
pub(super) enum WorkerSocket {
    Stream(std::net::TcpListener),
    Datagram(std::net::UdpSocket),
}

impl WorkerSocket {
    /// The address the socket is bound to.
    pub(super) fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match self {
            Self::Stream(s) => s.local_addr(),
            Self::Datagram(s) => s.local_addr(),
        }
    }

    /// A second descriptor for the same socket (same accept queue).
    pub(super) fn try_clone(&self) -> std::io::Result<Self> {
        Ok(match self {
            Self::Stream(s) => Self::Stream(s.try_clone()?),
            Self::Datagram(s) => Self::Datagram(s.try_clone()?),
        })
    }
}

/// Runs one worker thread until shutdown and the drain are over.
pub(super) fn run_worker(
    slot: Arc<WorkerSlot>,
    sockets: Vec<(WorkerSocket, Arc<ListenerCtx>)>,
    shutdown: watch::Receiver<bool>,
    drain: Duration,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("worker runtime failed to start: {e}");
            return;
        }
    };
    let active = Arc::new(AtomicUsize::new(0));
    runtime.block_on(async {
        for (socket, ctx) in sockets {
            let (w, rx, a) = (slot.clone(), shutdown.clone(), active.clone());
            match socket {
                WorkerSocket::Stream(s) => match TcpListener::from_std(s) {
                    Ok(listener) if ctx.protocol.is_l4() => {
                        tokio::spawn(crate::l4::accept_loop(listener, ctx, w, rx, a));
                    }
                    Ok(listener) => {
                        tokio::spawn(accept_loop(listener, ctx, w, rx, a));
                    }
                    Err(e) => tracing::error!("listener setup failed: {e}"),
                },
                WorkerSocket::Datagram(s) => match UdpSocket::from_std(s) {
                    Ok(socket) => {
                        tokio::spawn(crate::l4::serve_udp(socket, ctx, w, rx, a));
                    }
                    Err(e) => tracing::error!("listener setup failed: {e}"),
                },
            }
        }
        // The log buffer is shared by the worker's generations.
        let log = slot.load().log.clone();
        let flusher = {
            let log = log.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(LOG_FLUSH_EVERY);
                loop {
                    tick.tick().await;
                    log.flush();
                }
            })
        };
        let mut rx = shutdown.clone();
        while !*rx.borrow() {
            if rx.changed().await.is_err() {
                break;
            }
        }
        let deadline = tokio::time::Instant::now() + drain;
        while active.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        flusher.abort();
        log.flush();
    });
}

/// Counts a connection as active until dropped, even if its task panics.
pub(crate) struct ActiveGuard(Arc<AtomicUsize>);

impl ActiveGuard {
    pub(crate) fn new(active: Arc<AtomicUsize>) -> Self {
        active.fetch_add(1, Ordering::AcqRel);
        Self(active)
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The next client connection of a stream listener with its place under
/// `max_connections` (waiting for one when all are taken: new connections
/// wait in the backlog); `None` once shutdown begins.
pub(crate) async fn next_connection(
    listener: &TcpListener,
    ctx: &ListenerCtx,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<(
    tokio::net::TcpStream,
    SocketAddr,
    tokio::sync::OwnedSemaphorePermit,
)> {
    loop {
        if *shutdown.borrow() {
            return None;
        }
        let permit = match ctx.connections.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => tokio::select! {
                p = ctx.connections.clone().acquire_owned() => p.ok()?,
                _ = shutdown.changed() => return None,
            },
        };
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => return None,
        };
        match accepted {
            Ok((stream, peer)) => return Some((stream, peer, permit)),
            Err(e) => {
                // Out of descriptors or a connection reset before accept: back off briefly.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    ctx: Arc<ListenerCtx>,
    slot: Arc<WorkerSlot>,
    mut shutdown: watch::Receiver<bool>,
    active: Arc<AtomicUsize>,
) {
    while let Some((stream, peer, permit)) = next_connection(&listener, &ctx, &mut shutdown).await {
        // The generation current now serves this connection.
        let worker = slot.load_full();
        // Refused clients are closed here, before a byte is read; behind a
        // trusted PROXY-protocol sender the client is known only after its
        // header, so the check waits for it.
        let Some(admission) = AtAccept::check(&worker.snapshot, &ctx, peer.ip()) else {
            continue;
        };
        #[cfg(not(target_os = "linux"))]
        tollgate_net::set_nodelay(&stream);
        let mut client = ClientInfo {
            peer,
            trusted: ctx.trusts(peer.ip()),
            proto: if ctx.tls.is_some() { "https" } else { "http" },
            cert: None,
        };
        let guard = ActiveGuard::new(active.clone());
        let open = worker
            .metrics
            .hold(ctx.index, crate::metrics::Gauge::Connection);
        let (ctx, rx) = (ctx.clone(), shutdown.clone());
        let accepted = tokio::time::Instant::now();
        tokio::spawn(async move {
            let mut stream = stream;
            // The client named by a trusted proxy's PROXY header is the
            // client (for X-Forwarded-For, ip_hash, trust).
            let by = accepted + ctx.limits.header_read_timeout;
            // Waiting for the header is not a request in flight: a shutdown
            // closes the connection rather than wait for it.
            // Biased: without a PROXY header expected the first branch is
            // ready at once and must win, or a connection accepted just
            // before a shutdown would be dropped unanswered.
            let header = tokio::select! {
                biased;
                h = crate::l4::accept_proxy_header(&mut stream, peer, &ctx, by) => h,
                () = super::stopping(rx.clone()) => return,
            };
            match header {
                Ok(Some(a)) => {
                    client.peer = a.source;
                    client.trusted = ctx.trusts(a.source.ip());
                }
                Ok(None) => {}
                Err(()) => return,
            }
            let Some(admitted) = admission.complete(&worker.snapshot, &ctx, client.peer.ip())
            else {
                return;
            };
            tls::serve(stream, accepted, client, ctx, worker, rx).await;
            drop(admitted);
            drop(permit);
            drop(guard);
            drop(open);
        });
    }
}
