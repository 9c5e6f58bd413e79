//! Worker threads, listeners and connection lifecycles. Each worker runs its
//! own single-threaded event loop with its own accept socket per listener
//! (SO_REUSEPORT) and its own upstream pools: nothing on the data path is
//! shared between cores except the immutable snapshot.

mod admission;
mod h1;
mod h1_body;
mod h2;
mod tls;

pub use h1_body::H1RequestBody;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use http::header::{HeaderMap, HeaderValue, STRICT_TRANSPORT_SECURITY};
use ipnet::IpNet;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{watch, Semaphore};
use tollgate_config::{Config, ConfigError, Http2Limits, HttpLimits, ListenerProtocol};
use tollgate_core::RequestIdGenerator;
use tollgate_net::tls::ServerTls;
use tollgate_ops::AccessLog;

use crate::forward::ClientInfo;
use crate::snapshot::{Snapshot, Worker};

/// How often workers hand buffered access log lines to the sink.
const LOG_FLUSH_EVERY: Duration = Duration::from_millis(200);

/// What a connection needs to know about the listener it came in on.
#[derive(Debug)]
pub(crate) struct ListenerCtx {
    pub(crate) index: usize,
    pub(crate) protocol: ListenerProtocol,
    pub(crate) limits: HttpLimits,
    pub(crate) http2: Http2Limits,
    trusted: Vec<IpNet>,
    /// Peers that must send a PROXY protocol header first.
    pub(crate) proxy_from: Vec<IpNet>,
    pub(crate) body_read_timeout: Duration,
    /// Open connections (UDP: sessions) allowed on this listener.
    pub(crate) connections: Arc<Semaphore>,
    /// TLS termination (HTTPS listeners).
    pub(crate) tls: Option<Arc<ServerTls>>,
    /// `Strict-Transport-Security` for every answer (HTTPS listeners with `hsts`).
    pub(crate) hsts: Option<HeaderValue>,
}

impl ListenerCtx {
    /// Whether `ip`'s X-Forwarded-* / Forwarded headers are believed.
    pub(crate) fn trusts(&self, ip: std::net::IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(&ip))
    }

    /// Adds the listener's HSTS header unless the answer has one (an
    /// upstream may send its own, e.g. `max-age=0` to withdraw it).
    pub(crate) fn add_hsts(&self, headers: &mut HeaderMap) {
        if let Some(v) = &self.hsts {
            headers
                .entry(STRICT_TRANSPORT_SECURITY)
                .or_insert_with(|| v.clone());
        }
    }
}

/// Turns configuration errors found while starting into one I/O error
/// listing them all.
fn config_errors(errors: Vec<ConfigError>) -> io::Error {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    io::Error::new(io::ErrorKind::InvalidInput, lines.join("\n"))
}

/// One worker's socket of a listener.
enum WorkerSocket {
    Stream(std::net::TcpListener),
    Datagram(std::net::UdpSocket),
}

/// A running tollgate: its bound addresses and the handle to stop it.
#[derive(Debug)]
pub struct RunningServer {
    addresses: Vec<(String, SocketAddr)>,
    snapshot: Arc<Snapshot>,
    workers: Vec<Arc<Worker>>,
    shutdown: watch::Sender<bool>,
    threads: Vec<JoinHandle<()>>,
}

impl RunningServer {
    /// Binds every listener and starts the workers.
    pub fn start(config: Config) -> io::Result<Self> {
        let workers = config.server.workers.max(1);
        let drain = config.server.shutdown_timeout;
        let log = AccessLog::open(&config.access_log)?;
        let mut sockets = Vec::new();
        let mut addresses = Vec::new();
        let mut contexts = Vec::new();
        let mut errors = Vec::new();
        let mut tls_listeners = Vec::new();
        for (index, l) in config.listeners.iter().enumerate() {
            let tls = match l.tls.as_ref().map(ServerTls::build) {
                None => None,
                Some(Ok(t)) => Some(Arc::new(t)),
                Some(Err(e)) => {
                    errors.extend(e);
                    continue;
                }
            };
            tls_listeners.extend(tls.clone());
            let named = |e: io::Error| {
                io::Error::new(
                    e.kind(),
                    format!("listener {} on {}: {e}", l.name, l.address),
                )
            };
            let (group, local): (Vec<WorkerSocket>, SocketAddr) = match l.protocol {
                ListenerProtocol::Udp => {
                    let g = tollgate_net::bind_udp_group(l.address, workers).map_err(named)?;
                    let local = g[0].local_addr()?;
                    (g.into_iter().map(WorkerSocket::Datagram).collect(), local)
                }
                _ => {
                    let g = tollgate_net::bind_group(l.address, workers).map_err(named)?;
                    let local = g[0].local_addr()?;
                    (g.into_iter().map(WorkerSocket::Stream).collect(), local)
                }
            };
            addresses.push((l.name.clone(), local));
            sockets.push(group);
            let max_open = match (&l.l4, l.protocol) {
                (Some(l4), ListenerProtocol::Udp) => l4.max_sessions,
                _ => l.limits.max_connections,
            };
            contexts.push(Arc::new(ListenerCtx {
                index,
                protocol: l.protocol,
                limits: l.limits.clone(),
                http2: l.http2.clone(),
                trusted: l.trusted_proxies.clone(),
                proxy_from: l.proxy_protocol.clone(),
                body_read_timeout: l.limits.keepalive_timeout,
                connections: Arc::new(Semaphore::new(max_open.max(1))),
                tls,
                hsts: l
                    .hsts
                    .as_ref()
                    .and_then(|h| HeaderValue::from_str(&h.header_value()).ok()),
            }));
        }
        let snapshot = match Snapshot::build(config) {
            Ok(s) if errors.is_empty() => Arc::new(s),
            Ok(_) => return Err(config_errors(errors)),
            Err(e) => {
                errors.extend(e);
                return Err(config_errors(errors));
            }
        };
        let ids = Arc::new(RequestIdGenerator::new());
        let (shutdown, _) = watch::channel(false);
        let mut threads = Vec::with_capacity(workers + 1);
        let mut all_workers = Vec::with_capacity(workers);
        if let Some(checker) =
            crate::health::start_checkers(&snapshot.health, shutdown.subscribe())?
        {
            threads.push(checker);
        }
        let named: Vec<_> = snapshot
            .config
            .upstreams
            .iter()
            .zip(&snapshot.addrs)
            .flat_map(|(u, addrs)| addrs.iter().map(|a| (a.clone(), u.dns_refresh)))
            .collect();
        if let Some(resolver) = crate::upstream::start_resolver(named, shutdown.subscribe())? {
            threads.push(resolver);
        }
        if let Some(reloader) =
            tollgate_net::tls::spawn_reloader(&tls_listeners, shutdown.subscribe())?
        {
            threads.push(reloader);
        }
        for w in 0..workers {
            let mine: Vec<WorkerSocket> = sockets.iter_mut().map(|g| g.remove(0)).collect();
            let worker = Arc::new(Worker::new(snapshot.clone(), ids.clone(), log.clone()));
            all_workers.push(worker.clone());
            let contexts = contexts.clone();
            let rx = shutdown.subscribe();
            let thread = std::thread::Builder::new()
                .name(format!("tollgate-worker-{w}"))
                .spawn(move || run_worker(worker, mine, contexts, rx, drain))?;
            threads.push(thread);
        }
        Ok(Self {
            addresses,
            snapshot,
            workers: all_workers,
            shutdown,
            threads,
        })
    }

    /// The bound address of the listener called `name`.
    pub fn address(&self, name: &str) -> Option<SocketAddr> {
        self.addresses
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| *a)
    }

    /// Health, ejection, in-flight requests, latency and breaker state of
    /// every upstream and target, now.
    pub fn upstream_states(&self) -> Vec<crate::UpstreamState> {
        crate::state::upstream_states(&self.snapshot, &self.workers)
    }

    /// Every listener's name and bound address.
    pub fn addresses(&self) -> &[(String, SocketAddr)] {
        &self.addresses
    }

    /// Requests, relayed connections and UDP sessions in flight on each
    /// target of the upstream called `name` (in target order).
    pub fn in_flight(&self, name: &str) -> Option<Vec<u64>> {
        let u = self
            .snapshot
            .config
            .upstreams
            .iter()
            .position(|u| u.name == name)?;
        let counts = self.snapshot.balancers.get(u)?.in_flight();
        Some((0..counts.len()).map(|t| counts.get(t)).collect())
    }

    /// Stops accepting, lets in-flight requests finish (up to the configured
    /// drain timeout) and waits for the workers to exit.
    pub fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn run_worker(
    worker: Arc<Worker>,
    sockets: Vec<WorkerSocket>,
    contexts: Vec<Arc<ListenerCtx>>,
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
        for (socket, ctx) in sockets.into_iter().zip(contexts) {
            let (w, rx, a) = (worker.clone(), shutdown.clone(), active.clone());
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
        let flusher = {
            let worker = worker.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(LOG_FLUSH_EVERY);
                loop {
                    tick.tick().await;
                    worker.log.flush();
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
        worker.log.flush();
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

async fn accept_loop(
    listener: TcpListener,
    ctx: Arc<ListenerCtx>,
    worker: Arc<Worker>,
    mut shutdown: watch::Receiver<bool>,
    active: Arc<AtomicUsize>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let permit = match ctx.connections.clone().try_acquire_owned() {
            Ok(p) => p,
            // Full: wait for a connection to close (new ones wait in the backlog).
            Err(_) => tokio::select! {
                p = ctx.connections.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
                _ = shutdown.changed() => return,
            },
        };
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of descriptors or a connection reset before accept: back off briefly.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        // Refused clients are closed here, before a byte is read; behind a
        // trusted PROXY-protocol sender the client is known only after its
        // header, so the check waits for it.
        let sends_proxy_header = ctx.proxy_from.iter().any(|n| n.contains(&peer.ip()));
        let admitted = if sends_proxy_header {
            None
        } else {
            match admission::admit(&worker.snapshot, ctx.index, peer.ip()) {
                Some(a) => Some(a),
                None => continue,
            }
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
        let (ctx, worker, rx) = (ctx.clone(), worker.clone(), shutdown.clone());
        tokio::spawn(async move {
            let mut stream = stream;
            if !ctx.proxy_from.is_empty() {
                // The client named by a trusted proxy's PROXY header is the
                // client (for X-Forwarded-For, ip_hash, trust).
                match crate::l4::accept_proxy_header(&mut stream, peer, &ctx).await {
                    Ok(Some(a)) => {
                        client.peer = a.source;
                        client.trusted = ctx.trusts(a.source.ip());
                    }
                    Ok(None) => {}
                    Err(()) => return,
                }
            }
            let admitted = match admitted {
                Some(a) => a,
                None => match admission::admit(&worker.snapshot, ctx.index, client.peer.ip()) {
                    Some(a) => a,
                    None => return,
                },
            };
            tls::serve(stream, client, ctx, worker, rx).await;
            drop(admitted);
            drop(permit);
            drop(guard);
        });
    }
}
