//! Worker threads, listeners and connection lifecycles. Each worker runs its
//! own single-threaded event loop with its own accept socket per listener
//! (SO_REUSEPORT) and its own upstream pools: nothing on the data path is
//! shared between cores except the immutable snapshot.
//!
//! Here: binding the listeners, what a connection knows of its listener
//! (`ListenerCtx`), and the running server's start, reload and shutdown.
//! `worker.rs` is one worker thread and its accept loops; `tls.rs`, `h1.rs`
//! and `h2.rs` serve a connection; `admission.rs` decides whether to.

mod admission;
mod h1;
mod h1_body;
mod h2;
mod h2_body;
mod h2_log;
mod h2_pace;
mod h2_stream;
mod pace;
mod sockets;
mod tls;
mod weights;
mod worker;

pub(crate) use admission::{admit, Admitted, AtAccept};
pub(crate) use h1_body::ClientIo;
pub use h1_body::H1RequestBody;
pub(crate) use h2_body::H2Respond;
pub(crate) use worker::{next_connection, ActiveGuard};

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;
use http::header::{HeaderMap, HeaderValue, STRICT_TRANSPORT_SECURITY};
use ipnet::IpNet;
use tokio::sync::{watch, Semaphore};
use tollgate_config::{Config, ConfigError, Http2Limits, HttpLimits, Listener, ListenerProtocol};
use tollgate_core::RequestIdGenerator;
use tollgate_net::tls::ServerTls;
use tollgate_net::Inherited;
use tollgate_ops::AccessLog;

use crate::snapshot::{Snapshot, Worker};
use worker::run_worker;

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
    /// Set when an upgrade handed the sockets to a new process: a UDP
    /// listener then stops reading at once (the new process reads the
    /// same socket), where a plain shutdown keeps reading for its sessions.
    pub(crate) handed_over: std::sync::atomic::AtomicBool,
}

impl ListenerCtx {
    /// The context of `listener`, the `index`th, with its TLS termination.
    fn new(index: usize, listener: &Listener, tls: Option<Arc<ServerTls>>) -> Self {
        let max_open = match (&listener.l4, listener.protocol) {
            (Some(l4), ListenerProtocol::Udp) => l4.max_sessions,
            _ => listener.limits.max_connections,
        };
        Self {
            index,
            protocol: listener.protocol,
            limits: listener.limits.clone(),
            http2: listener.http2.clone(),
            trusted: listener.trusted_proxies.clone(),
            proxy_from: listener.proxy_protocol.clone(),
            body_read_timeout: listener.limits.keepalive_timeout,
            connections: Arc::new(Semaphore::new(max_open.max(1))),
            tls,
            hsts: listener
                .hsts
                .as_ref()
                .and_then(|h| HeaderValue::from_str(&h.header_value()).ok()),
            handed_over: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Whether a connection from `peer` must start with a PROXY header.
    pub(crate) fn expects_proxy_header(&self, peer: std::net::IpAddr) -> bool {
        self.proxy_from.iter().any(|n| n.contains(&peer))
    }

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

/// Whether `new` keeps `old`'s listeners, which a reload cannot change.
/// The upstreams an L4 listener relays to are compared by name: their
/// indices move when an upstream is added above, and relays follow the
/// new snapshot anyway.
fn same_listeners(old: &Config, new: &Config) -> bool {
    let key = |config: &Config, l: &Listener| {
        let name = |u: usize| config.upstreams.get(u).map(|u| u.name.clone());
        let mut l = l.clone();
        let relays_to = l.l4.as_mut().map(|l4| {
            let sni: Vec<_> = l4
                .sni
                .iter_mut()
                .map(|r| name(std::mem::take(&mut r.upstream)))
                .collect();
            (l4.upstream.take().and_then(name), sni)
        });
        (l, relays_to)
    };
    old.listeners.len() == new.listeners.len()
        && old
            .listeners
            .iter()
            .zip(&new.listeners)
            .all(|(a, b)| key(old, a) == key(new, b))
}

/// Resolves once shutdown has begun (or the server is gone): for waits that
/// are not work in flight (lingering, a close_notify, a PROXY header) and
/// must not hold the drain up.
pub(crate) async fn stopping(mut shutdown: watch::Receiver<bool>) {
    while !*shutdown.borrow_and_update() {
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

/// Turns configuration errors found while starting into one I/O error
/// listing them all.
fn config_errors(errors: Vec<ConfigError>) -> io::Error {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    io::Error::new(io::ErrorKind::InvalidInput, lines.join("\n"))
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
    shutdown: watch::Sender<bool>,
    threads: Vec<JoinHandle<()>>,
    /// The health checker and DNS resolver of the current snapshot, and
    /// what stops them; replaced on reload.
    helpers: Mutex<(watch::Sender<bool>, Vec<JoinHandle<()>>)>,
    /// Targets drained through the admin API, by upstream name and target
    /// address; written into every new snapshot.
    drained: Mutex<Vec<(String, String)>>,
    /// Target weights set through the admin API (`weights.rs`).
    weights: Mutex<Vec<weights::WeightOverride>>,
    /// A duplicate of every listening socket, handed to the process that
    /// replaces this one; closed first on shutdown.
    kept: Vec<sockets::Kept>,
    /// Every listener's context, to mark them handed over.
    contexts: Vec<Arc<ListenerCtx>>,
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
        Self::start_with(config, &mut Inherited::none())
    }

    /// Starts the workers on the listeners' sockets taken from `inherited`
    /// (an upgrade's hand-over, systemd), binding those it does not hold.
    pub fn start_with(config: Config, inherited: &mut Inherited) -> io::Result<Self> {
        let workers = config.server.workers.max(1);
        let drain = config.server.shutdown_timeout;
        let log = AccessLog::open(&config.access_log)?;
        let mut groups = Vec::new();
        let mut addresses = Vec::new();
        let mut contexts = Vec::new();
        let mut errors = Vec::new();
        let mut tls_listeners = Vec::new();
        for (index, l) in config.listeners.iter().enumerate() {
            let tls = match l.tls.as_ref().map(ServerTls::build) {
                None => None,
                Some(Ok(t)) => Some(Arc::new(t.for_listener(&l.name))),
                Some(Err(e)) => {
                    errors.extend(e);
                    continue;
                }
            };
            tls_listeners.extend(tls.clone());
            let (group, local) = sockets::listener_sockets(l, workers, inherited)?;
            addresses.push((l.name.clone(), local));
            groups.push(group);
            contexts.push(Arc::new(ListenerCtx::new(index, l, tls)));
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
        let mut slots = Vec::with_capacity(workers);
        let (helpers_stop, _) = watch::channel(false);
        let helper_threads = start_helpers(&snapshot, &helpers_stop)?;
        if let Some(reloader) =
            tollgate_net::tls::spawn_reloader(&tls_listeners, shutdown.subscribe())?
        {
            threads.push(reloader);
        }
        let kept = sockets::keep(&groups, &addresses)?;
        let dealt = sockets::deal(groups, &contexts, workers)?;
        for (w, mine) in dealt.into_iter().enumerate() {
            let worker = Worker::new(snapshot.clone(), ids.clone(), log.clone());
            let slot = Arc::new(ArcSwap::from_pointee(worker));
            slots.push(slot.clone());
            let rx = shutdown.subscribe();
            let thread = std::thread::Builder::new()
                .name(format!("tollgate-worker-{w}"))
                .spawn(move || run_worker(slot, mine, rx, drain))?;
            threads.push(thread);
        }
        Ok(Self {
            addresses,
            snapshot: ArcSwap::new(snapshot),
            slots,
            shutdown,
            threads,
            helpers: Mutex::new((helpers_stop, helper_threads)),
            drained: Mutex::new(Vec::new()),
            weights: Mutex::new(Vec::new()),
            kept,
            contexts,
        })
    }

    /// Every listening socket (each worker's), for a hand-over to the
    /// process that replaces this one.
    pub fn handover_sockets(&self) -> Vec<tollgate_net::inherit::handover::Outgoing<'_>> {
        use std::os::fd::AsFd;
        self.kept
            .iter()
            .map(|(kind, name, addr, fd)| (*kind, name.as_str(), *addr, fd.as_fd()))
            .collect()
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
        let old = self.snapshot.load_full();
        if !same_listeners(&old.config, &config) {
            return Err("listeners changed: a reload cannot bind, close or reconfigure listeners; restart tollgate to apply".into());
        }
        let snapshot = Snapshot::build_after(config, &old).map_err(|errors| {
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })?;
        self.apply_drains(&snapshot);
        self.apply_weights(&snapshot);
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

    /// The request counters of every worker summed by route and upstream
    /// name, and the targets' health and breakers, as metric families.
    pub fn metrics(&self) -> Vec<tollgate_ops::metrics::Family> {
        let snapshot = self.snapshot.load();
        // `admin: {metrics: false}`: nothing was counted, so no zeros either.
        let counting = snapshot.config.admin.as_ref().is_none_or(|a| a.metrics);
        let mut families = if counting {
            crate::metrics_scrape::request_families(&crate::metrics_scrape::totals(&self.slots))
        } else {
            Vec::new()
        };
        families.extend(crate::metrics_scrape::upstream_families(
            &self.upstream_states(),
        ));
        let names: Vec<String> = snapshot
            .config
            .listeners
            .iter()
            .map(|l| l.name.clone())
            .collect();
        families.extend(crate::metrics_scrape::listener_families(
            &self.slots,
            &names,
        ));
        let l4: Vec<crate::metrics_edge::L4Kind> = snapshot
            .config
            .listeners
            .iter()
            .map(|l| match l.protocol {
                tollgate_config::ListenerProtocol::Tcp
                | tollgate_config::ListenerProtocol::TlsPassthrough => {
                    crate::metrics_edge::L4Kind::Stream
                }
                tollgate_config::ListenerProtocol::Udp => crate::metrics_edge::L4Kind::Udp,
                _ => crate::metrics_edge::L4Kind::Http,
            })
            .collect();
        families.extend(crate::metrics_edge::families(&self.slots, &names, &l4));
        families.extend(crate::metrics_consumers::families(
            &self.slots,
            &snapshot.config.consumer_metrics,
        ));
        families.extend(crate::metrics_scrape::trace_families(
            snapshot.tracer.as_deref(),
        ));
        families.extend(crate::metrics_scrape::store_families(
            snapshot.limits.redis().map(|s| &**s),
        ));
        families
    }

    /// The snapshot new requests use now (its configuration, router and
    /// cache stores), for the admin API.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Whether the running configuration has upstream `upstream` with a
    /// target `address`; the admin API's answer when not.
    fn known_target(&self, upstream: &str, address: &str) -> Result<(), String> {
        let snapshot = self.snapshot.load_full();
        let u = snapshot
            .config
            .upstreams
            .iter()
            .find(|u| u.name == upstream)
            .ok_or_else(|| format!("no upstream `{upstream}`"))?;
        if u.targets.iter().any(|t| t.address == address) {
            Ok(())
        } else {
            Err(format!("upstream `{upstream}` has no target `{address}`"))
        }
    }

    /// Drains (`true`) or enables again the target `address` of upstream
    /// `upstream`: a drained target takes no new request, relayed
    /// connection or UDP session; those in flight finish. Kept across
    /// reloads until enabled again.
    pub fn set_drained(&self, upstream: &str, address: &str, drained: bool) -> Result<(), String> {
        self.known_target(upstream, address)?;
        {
            let mut list = self.drained.lock().unwrap_or_else(|p| p.into_inner());
            let key = (upstream.to_string(), address.to_string());
            list.retain(|k| *k != key);
            if drained {
                list.push(key);
            }
        }
        self.apply_drains(&self.snapshot.load_full());
        Ok(())
    }

    /// The drained targets: (upstream name, target address).
    pub fn drained_targets(&self) -> Vec<(String, String)> {
        self.drained
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Writes the drained targets into `snapshot`'s per-upstream sets.
    fn apply_drains(&self, snapshot: &Snapshot) {
        let list = self.drained.lock().unwrap_or_else(|p| p.into_inner());
        for (u, upstream) in snapshot.config.upstreams.iter().enumerate() {
            let targets = upstream
                .targets
                .iter()
                .enumerate()
                .filter(|(_, t)| {
                    list.iter()
                        .any(|(n, a)| *n == upstream.name && *a == t.address)
                })
                .map(|(i, _)| i)
                .collect();
            snapshot.drained[u].set(targets);
        }
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

    /// Stops accepting now and starts the drain without waiting for it
    /// (after an upgrade, the new process accepts from the same sockets);
    /// [`RunningServer::shutdown`] then waits.
    pub fn stop_accepting(&self) {
        for ctx in &self.contexts {
            ctx.handed_over
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        let _ = self.shutdown.send(true);
    }

    /// Stops accepting, lets in-flight requests finish (up to the configured
    /// drain timeout) and waits for the workers to exit.
    pub fn shutdown(self) {
        // The kept duplicates would hold the ports open (connections would
        // queue with nobody to accept them) until the drain is over.
        drop(self.kept);
        let _ = self.shutdown.send(true);
        let (stop, helpers) = self.helpers.into_inner().unwrap_or_else(|p| p.into_inner());
        let _ = stop.send(true);
        for t in self.threads.into_iter().chain(helpers) {
            let _ = t.join();
        }
    }
}

/// The request fields `access_log.headers` names, copied for the access
/// line (values are shared bytes: no copy of their text).
pub(crate) fn logged_fields(
    config: &tollgate_config::Config,
    headers: &http::HeaderMap,
) -> Vec<(http::HeaderName, Option<http::HeaderValue>)> {
    config
        .access_log_headers
        .iter()
        .map(|n| (n.clone(), headers.get(n).cloned()))
        .collect()
}
