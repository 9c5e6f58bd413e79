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
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;
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

/// A worker thread's current generation: replaced whole by a reload, read
/// by each new connection.
pub(crate) type WorkerSlot = ArcSwap<Worker>;

/// A running tollgate: its bound addresses and the handle to stop it.
#[derive(Debug)]
pub struct RunningServer {
    addresses: Vec<(String, SocketAddr)>,
    snapshot: ArcSwap<Snapshot>,
    slots: Vec<Arc<WorkerSlot>>,
    /// The listeners as configured at start: a reload may not change them.
    listeners: String,
    shutdown: watch::Sender<bool>,
    threads: Vec<JoinHandle<()>>,
    /// The health checker and DNS resolver of the current snapshot, and
    /// what stops them; replaced on reload.
    helpers: Mutex<(watch::Sender<bool>, Vec<JoinHandle<()>>)>,
}

/// What a reload changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadSummary {
    /// Upstreams whose state (health, in-flight counts, pools, breaker) was kept.
    pub kept: Vec<String>,
    /// Upstreams built afresh (new or changed).
    pub rebuilt: Vec<String>,
}

/// Starts the threads that serve one snapshot's upstreams: the active
/// health checker and the DNS resolver, stopped by `stop`.
fn start_helpers(
    snapshot: &Snapshot,
    stop: &watch::Sender<bool>,
) -> io::Result<Vec<JoinHandle<()>>> {
    let mut threads = Vec::new();
    if let Some(checker) = crate::health::start_checkers(&snapshot.health, stop.subscribe())? {
        threads.push(checker);
    }
    let named: Vec<_> = snapshot
        .config
        .upstreams
        .iter()
        .zip(&snapshot.addrs)
        .flat_map(|(u, addrs)| addrs.iter().map(|a| (a.clone(), u.dns_refresh)))
        .collect();
    if let Some(resolver) = crate::upstream::start_resolver(named, stop.subscribe())? {
        threads.push(resolver);
    }
    Ok(threads)
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
        let listeners = format!("{:?}", config.listeners);
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
        let mut slots = Vec::with_capacity(workers);
        let (helpers_stop, _) = watch::channel(false);
        let helper_threads = start_helpers(&snapshot, &helpers_stop)?;
        if let Some(reloader) =
            tollgate_net::tls::spawn_reloader(&tls_listeners, shutdown.subscribe())?
        {
            threads.push(reloader);
        }
        for w in 0..workers {
            let mine: Vec<WorkerSocket> = sockets.iter_mut().map(|g| g.remove(0)).collect();
            let worker = Worker::new(snapshot.clone(), ids.clone(), log.clone());
            let slot = Arc::new(ArcSwap::from_pointee(worker));
            slots.push(slot.clone());
            let contexts = contexts.clone();
            let rx = shutdown.subscribe();
            let thread = std::thread::Builder::new()
                .name(format!("tollgate-worker-{w}"))
                .spawn(move || run_worker(slot, mine, contexts, rx, drain))?;
            threads.push(thread);
        }
        Ok(Self {
            addresses,
            snapshot: ArcSwap::new(snapshot),
            slots,
            listeners,
            shutdown,
            threads,
            helpers: Mutex::new((helpers_stop, helper_threads)),
        })
    }

    /// Applies a new configuration without dropping a connection: new
    /// connections (and new requests on HTTP/1.1 keep-alive connections,
    /// which close after their current answer) use it; requests in flight
    /// finish on the old one. Upstreams whose definition did not change
    /// keep their health state, in-flight counts, retry budget, breaker and
    /// connection pools. Listeners must stay as they are (binding new
    /// sockets needs a restart); the access log and `server` settings keep
    /// their start values.
    pub fn reload(&self, config: Config) -> Result<ReloadSummary, String> {
        if format!("{:?}", config.listeners) != self.listeners {
            return Err("listeners changed: a reload cannot bind, close or reconfigure listeners; restart tollgate to apply".into());
        }
        let old = self.snapshot.load_full();
        let snapshot = Snapshot::build_after(config, &old).map_err(|errors| {
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })?;
        let snapshot = Arc::new(snapshot);
        let mut summary = ReloadSummary {
            kept: Vec::new(),
            rebuilt: Vec::new(),
        };
        for (u, carried) in snapshot.config.upstreams.iter().zip(&snapshot.carried) {
            let list = if carried.is_some() {
                &mut summary.kept
            } else {
                &mut summary.rebuilt
            };
            list.push(u.name.clone());
        }
        // New helper threads first: the new snapshot's targets are probed
        // before the old checker stops, and a failure leaves the old running.
        let (stop, _) = watch::channel(false);
        let threads = start_helpers(&snapshot, &stop).map_err(|e| e.to_string())?;
        for slot in &self.slots {
            let previous = slot.load_full();
            slot.store(Arc::new(previous.after(snapshot.clone())));
            previous.retire();
        }
        self.snapshot.store(snapshot);
        let old_helpers = {
            let mut helpers = self.helpers.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::replace(&mut *helpers, (stop, threads))
        };
        let _ = old_helpers.0.send(true);
        for t in old_helpers.1 {
            let _ = t.join();
        }
        Ok(summary)
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
        let workers: Vec<Arc<Worker>> = self.slots.iter().map(|s| s.load_full()).collect();
        crate::state::upstream_states(&self.snapshot.load(), &workers)
    }

    /// Every listener's name and bound address.
    pub fn addresses(&self) -> &[(String, SocketAddr)] {
        &self.addresses
    }

    /// Requests, relayed connections and UDP sessions in flight on each
    /// target of the upstream called `name` (in target order).
    pub fn in_flight(&self, name: &str) -> Option<Vec<u64>> {
        let snapshot = self.snapshot.load();
        let u = snapshot
            .config
            .upstreams
            .iter()
            .position(|u| u.name == name)?;
        let counts = snapshot.balancers.get(u)?.in_flight();
        Some((0..counts.len()).map(|t| counts.get(t)).collect())
    }

    /// Stops accepting, lets in-flight requests finish (up to the configured
    /// drain timeout) and waits for the workers to exit.
    pub fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let (stop, helpers) = self.helpers.into_inner().unwrap_or_else(|p| p.into_inner());
        let _ = stop.send(true);
        for t in self.threads.into_iter().chain(helpers) {
            let _ = t.join();
        }
    }
}

fn run_worker(
    slot: Arc<WorkerSlot>,
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
                        // UDP sessions keep the generation they started
                        // with: a reload reaches them after a restart.
                        let w = w.load_full();
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
        let (ctx, rx) = (ctx.clone(), shutdown.clone());
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
