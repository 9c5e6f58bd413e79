//! The runtime snapshot: configuration compiled into the router and
//! balancers, immutable once built. Workers add their own connection pools.

use std::sync::Arc;

use http::HeaderName;
use tollgate_balance::{Algorithm, Available, Balancer, ConcurrencyPermit, Target, DEFAULT_DECAY};
use tollgate_config::{Balance, Config, ConfigError, Policy, UpstreamProtocol};
use tollgate_core::RequestIdGenerator;
use tollgate_edge::cache::Cache;
use tollgate_edge::client_limits::ClientLimiter;
use tollgate_ops::{AccessLog, AccessLogBuffer};

use crate::date::DateCache;
use crate::gateway::GatewayState;
use crate::health::UpstreamHealth;
use crate::limits::LimitState;
use crate::resilience::{seed, Resilience};
use crate::router::Router;
use crate::upstream::tls::{self, TargetTls};
use crate::upstream::{H2Session, TargetAddrs, TargetPool};

/// Everything the data path reads, built once from a [`Config`].
#[derive(Debug)]
pub struct Snapshot {
    /// The configuration it was built from.
    pub config: Config,
    /// Route selection.
    pub router: Router,
    /// One balancer per upstream, in config order. Shared by every worker,
    /// so in-flight counts and latency estimates are process-wide.
    pub(crate) balancers: Vec<Arc<Balancer>>,
    /// Which targets of each upstream may be picked when it has no
    /// `health` section (all of them); built once so a pick allocates nothing.
    pub(crate) available: Vec<Available>,
    /// Health state of each upstream with a `health` section (`None`
    /// without): shared by every worker and the health checker thread.
    pub(crate) health: Vec<Option<Arc<UpstreamHealth>>>,
    /// Retry budget, concurrency cap, breaker and sticky ids per upstream.
    pub(crate) resilience: Vec<Arc<Resilience>>,
    /// `[upstream][target]` resolved addresses, shared by every worker's pools.
    pub(crate) addrs: Vec<Vec<Arc<TargetAddrs>>>,
    /// Per listener, its per-client caps (`None` without `per_client`):
    /// shared by every worker, so the caps hold for the whole process.
    pub(crate) client_limits: Vec<Option<Arc<ClientLimiter>>>,
    /// Per upstream with `tls`, per target: how to reach it over TLS.
    pub(crate) tls: Vec<Option<Vec<TargetTls>>>,
    /// Client certificate headers of every listener: removed from every
    /// request so no client can forge them.
    pub(crate) client_cert_headers: Vec<HeaderName>,
    /// Per upstream, its index in the snapshot this one replaced when its
    /// definition did not change (its state was carried over).
    pub(crate) carried: Vec<Option<usize>>,
    /// `[route][step]`: the cache store of each `cache` step. One store per
    /// definition: steps holding the same `Arc<CachePolicy>` (a named
    /// policy, `defaults.policies`) share it.
    caches: Vec<Vec<Option<Arc<Cache>>>>,
    /// Per upstream, the targets drained through the admin API (written
    /// by `RunningServer`, which keeps them across reloads).
    pub(crate) drained: Vec<crate::drain::Drained>,
    /// Consumers, identity headers, JWT keys and caches. Built with the
    /// snapshot, so a reload swaps them with everything else: a request
    /// sees one directory whole.
    pub(crate) gateway: GatewayState,
    /// The `rate_limit` limiters; an unchanged definition keeps its
    /// counters across a reload.
    pub(crate) limits: LimitState,
    /// Span export when `tracing:` is on: the sampler and the queue to
    /// the exporter thread; a reload with the same `tracing:` keeps it.
    pub(crate) tracer: Option<Arc<tollgate_ops::trace::Tracer>>,
}

impl Snapshot {
    /// Compiles `config`; reads the files its upstreams' TLS settings name
    /// (CA bundles, client certificates), whose problems are the errors.
    pub fn build(config: Config) -> Result<Self, Vec<ConfigError>> {
        Self::compile(config, None)
    }

    /// Compiles `config` to replace `old` (a reload): an upstream whose
    /// definition is unchanged (same name, same settings) keeps its
    /// balancer and in-flight counts, health state, retry budget and
    /// breaker, resolved addresses and TLS settings, and (in
    /// [`Worker::after`]) its connection pools. Listeners cannot change on
    /// a reload, so their per-client tables are kept too.
    pub fn build_after(config: Config, old: &Snapshot) -> Result<Self, Vec<ConfigError>> {
        Self::compile(config, Some(old))
    }

    fn compile(config: Config, old: Option<&Snapshot>) -> Result<Self, Vec<ConfigError>> {
        // Read for every upstream, kept or not, so a reload reports a TLS
        // file that went missing even under an unchanged definition.
        let mut tls = tls::build(&config)?;
        let names: Vec<String> = config.listeners.iter().map(|l| l.name.clone()).collect();
        let router = Router::new(&config.routes, &names);
        let carried: Vec<Option<usize>> = match old {
            None => vec![None; config.upstreams.len()],
            // Equal settings (where TLS files were written does not count:
            // `Origin` compares equal) carry the state over.
            Some(old) => config
                .upstreams
                .iter()
                .map(|u| old.config.upstreams.iter().position(|d| d == u))
                .collect(),
        };
        // Only new or changed upstreams' names are looked up (all at once).
        let fresh_names: Vec<&str> = config
            .upstreams
            .iter()
            .zip(&carried)
            .filter(|(_, c)| c.is_none())
            .flat_map(|(u, _)| u.targets.iter().map(|t| t.address.as_str()))
            .collect();
        let mut resolved = TargetAddrs::resolve_all(&fresh_names).into_iter();

        let n = config.upstreams.len();
        let mut balancers = Vec::with_capacity(n);
        let mut available = Vec::with_capacity(n);
        let mut health = Vec::with_capacity(n);
        let mut resilience = Vec::with_capacity(n);
        let mut addrs = Vec::with_capacity(n);
        for (i, u) in config.upstreams.iter().enumerate() {
            if let (Some(old), Some(j)) = (old, carried[i]) {
                balancers.push(old.balancers[j].clone());
                available.push(old.available[j].clone());
                health.push(old.health[j].clone());
                resilience.push(old.resilience[j].clone());
                addrs.push(old.addrs[j].clone());
                tls[i] = old.tls[j].clone();
                continue;
            }
            // Seeds of the random pickers: distinct per upstream, different
            // from run to run.
            let algorithm = algorithm(&u.balance, seed());
            let targets: Vec<Target<'_>> = u
                .targets
                .iter()
                .map(|t| Target::new(&t.address, t.weight))
                .collect();
            balancers.push(Arc::new(Balancer::new(&algorithm, &targets)));
            available.push(Available::all(u.targets.len()));
            let target_addrs: Vec<Arc<TargetAddrs>> = resolved
                .by_ref()
                .take(u.targets.len())
                .map(Arc::new)
                .collect();
            let active = u.health.as_ref().is_some_and(|h| h.active.is_some());
            let probe_tls = tls[i].as_deref().filter(|_| active).map(tls::for_probes);
            health.push(UpstreamHealth::new(u, &target_addrs, probe_tls).map(Arc::new));
            resilience.push(Arc::new(Resilience::new(u)));
            addrs.push(target_addrs);
        }
        let client_limits = match old {
            Some(old) => old.client_limits.clone(),
            None => config
                .listeners
                .iter()
                .map(|l| {
                    l.per_client
                        .as_ref()
                        .map(|c| Arc::new(ClientLimiter::new(c)))
                })
                .collect(),
        };
        let mut client_cert_headers = Vec::new();
        for auth in config
            .listeners
            .iter()
            .filter_map(|l| l.tls.as_ref()?.client_auth.as_ref())
        {
            for name in [&auth.subject_header, &auth.san_header] {
                if !client_cert_headers.contains(name) {
                    client_cert_headers.push(name.clone());
                }
            }
        }
        let caches = build_caches(&config);
        let drained = config
            .upstreams
            .iter()
            .map(|_| Default::default())
            .collect();
        let gateway = GatewayState::build(&config)?;
        let limits = LimitState::build(&config, old.map(|o| &o.limits));
        let tracer = tracer(&config, old)?;
        Ok(Self {
            config,
            router,
            balancers,
            available,
            health,
            resilience,
            addrs,
            client_limits,
            tls,
            client_cert_headers,
            carried,
            caches,
            drained,
            gateway,
            limits,
            tracer,
        })
    }

    /// The cache store of step `step` of route `route`, if it is a `cache` step.
    pub(crate) fn cache(&self, route: usize, step: usize) -> Option<&Arc<Cache>> {
        self.caches.get(route)?.get(step)?.as_ref()
    }

    /// Every cache store, once each (for purges from outside the data path).
    pub fn caches(&self) -> Vec<Arc<Cache>> {
        let mut out: Vec<Arc<Cache>> = Vec::new();
        for c in self.caches.iter().flatten().flatten() {
            if !out.iter().any(|o| Arc::ptr_eq(o, c)) {
                out.push(c.clone());
            }
        }
        out
    }
}

/// The exporter for `tracing:`: the old snapshot's when the section did
/// not change, else a new one (the old thread ends with its last handle).
fn tracer(
    config: &Config,
    old: Option<&Snapshot>,
) -> Result<Option<Arc<tollgate_ops::trace::Tracer>>, Vec<ConfigError>> {
    let Some(cfg) = &config.tracing else {
        return Ok(None);
    };
    let previous = old.and_then(|o| o.tracer.as_ref());
    if let Some(p) = previous.filter(|p| p.config() == cfg) {
        return Ok(Some(p.clone()));
    }
    tollgate_ops::trace::Tracer::start(cfg, previous.map(|p| &**p))
        .map(Some)
        .map_err(|e| {
            vec![ConfigError::new(
                "",
                None,
                "tracing",
                format!("cannot start the span exporter thread: {e}"),
            )]
        })
}

/// One store per distinct cache definition, placed at every step using it.
fn build_caches(config: &Config) -> Vec<Vec<Option<Arc<Cache>>>> {
    let mut made: Vec<Arc<Cache>> = Vec::new();
    config
        .routes
        .iter()
        .map(|r| {
            r.policies
                .iter()
                .map(|p| match p {
                    Policy::Cache(def) => {
                        let existing = made
                            .iter()
                            .find(|c| std::ptr::eq(c.policy(), Arc::as_ptr(def)))
                            .cloned();
                        Some(existing.unwrap_or_else(|| {
                            let c = Arc::new(Cache::new(def.clone()));
                            made.push(c.clone());
                            c
                        }))
                    }
                    _ => None,
                })
                .collect()
        })
        .collect()
}

/// The balancer algorithm for a configured `balance`.
fn algorithm(balance: &Balance, seed: u64) -> Algorithm {
    match balance {
        Balance::RoundRobin => Algorithm::RoundRobin,
        Balance::LeastConnections => Algorithm::WeightedLeastConnections,
        Balance::LeastRequest => Algorithm::PowerOfTwoChoices {
            decay: DEFAULT_DECAY,
            seed,
        },
        Balance::Random => Algorithm::WeightedRandom { seed },
        Balance::IpHash => Algorithm::IpHash,
        Balance::ConsistentHash(_) => Algorithm::ConsistentHash,
    }
}

/// One request counted in flight on a target of an upstream, from the pick
/// until the response body has been streamed or dropped; releases on drop.
/// Owned (it holds the snapshot), so it can travel inside a response body.
#[derive(Debug)]
pub struct InFlightTicket {
    snapshot: Arc<Snapshot>,
    upstream: usize,
    target: usize,
    /// The request's `circuit_breaker.max_requests` slot, once the answer
    /// is on its way: given back with the ticket.
    slot: Option<ConcurrencyPermit>,
}

impl InFlightTicket {
    /// Counts a request to `target` of `upstream` as started.
    pub(crate) fn acquire(snapshot: &Arc<Snapshot>, upstream: usize, target: usize) -> Self {
        if let Some(b) = snapshot.balancers.get(upstream) {
            b.acquire(target);
        }
        Self {
            snapshot: snapshot.clone(),
            upstream,
            target,
            slot: None,
        }
    }

    /// Keeps the request's concurrency slot until the response body is over.
    pub(crate) fn hold(&mut self, slot: Option<ConcurrencyPermit>) {
        self.slot = slot;
    }
}

impl Drop for InFlightTicket {
    fn drop(&mut self) {
        if let Some(b) = self.snapshot.balancers.get(self.upstream) {
            b.release(self.target);
        }
    }
}

/// What one worker thread owns: its pools, its log buffer, and the snapshot.
#[derive(Debug)]
pub(crate) struct Worker {
    pub(crate) snapshot: Arc<Snapshot>,
    /// `[upstream][target]` HTTP/1.1 pools.
    pub(crate) pools: Vec<Vec<Arc<TargetPool>>>,
    /// `[upstream][target]` HTTP/2 sessions (empty for HTTP/1.1 upstreams).
    pub(crate) h2: Vec<Vec<Arc<H2Session>>>,
    pub(crate) ids: Arc<RequestIdGenerator>,
    /// Shared by the worker's generations, so a reload loses no line.
    pub(crate) log: Arc<AccessLogBuffer>,
    /// `Date` values for answers that lack one.
    pub(crate) date: DateCache,
    /// Set when a reload replaced this worker.
    retired: std::sync::atomic::AtomicBool,
    /// This generation's request counters (read by the scrape).
    pub(crate) metrics: crate::metrics::WorkerMetrics,
}

impl Worker {
    /// A fresh request id as a header value.
    pub(crate) fn new_request_id(&self) -> http::HeaderValue {
        let mut id = http::HeaderValue::from_bytes(&self.ids.next_id_bytes())
            .unwrap_or(http::HeaderValue::from_static(""));
        // Unique per request: HPACK would add each one to the connection's
        // dynamic table, evicting entries that do repeat and comparing the
        // new id with every id still there (~7 k instructions an HTTP/2
        // answer). Marked sensitive, it is sent as a never-indexed literal.
        id.set_sensitive(true);
        id
    }

    /// The worker that replaces `self` after a reload to `snapshot`: pools
    /// and HTTP/2 sessions of carried-over upstreams are kept (their
    /// connections stay warm), others start empty; the log buffer is the same.
    pub(crate) fn after(&self, snapshot: Arc<Snapshot>) -> Self {
        let carried = self.metrics.carried().clone();
        let mut next = Self::with_log(
            snapshot.clone(),
            self.ids.clone(),
            self.log.clone(),
            carried,
        );
        for (u, j) in snapshot.carried.iter().enumerate() {
            let Some(j) = *j else { continue };
            if let Some(pools) = self.pools.get(j) {
                next.pools[u] = pools.clone();
            }
            if let Some(h2) = self.h2.get(j) {
                next.h2[u] = h2.clone();
            }
        }
        next
    }

    /// Marks this worker as replaced: its keep-alive connections close
    /// after their current request.
    pub(crate) fn retire(&self) {
        self.retired
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether a reload replaced this worker.
    pub(crate) fn is_retired(&self) -> bool {
        self.retired.load(std::sync::atomic::Ordering::Acquire)
    }

    /// A worker over `snapshot` with empty pools.
    pub(crate) fn new(
        snapshot: Arc<Snapshot>,
        ids: Arc<RequestIdGenerator>,
        log: Arc<AccessLog>,
    ) -> Self {
        let carried = crate::metrics::Carried::new(snapshot.config.listeners.len());
        Self::with_log(snapshot, ids, Arc::new(AccessLogBuffer::new(log)), carried)
    }

    fn with_log(
        snapshot: Arc<Snapshot>,
        ids: Arc<RequestIdGenerator>,
        log: Arc<AccessLogBuffer>,
        carried: crate::metrics::Carried,
    ) -> Self {
        let metrics = crate::metrics::WorkerMetrics::new(&snapshot.config, carried);
        let pools = snapshot
            .config
            .upstreams
            .iter()
            .zip(&snapshot.addrs)
            .zip(&snapshot.tls)
            .zip(&snapshot.resilience)
            .map(|(((u, addrs), tls), guards)| {
                let limit = &guards.connections;
                u.targets
                    .iter()
                    .zip(addrs)
                    .enumerate()
                    .map(|(i, (t, addrs))| {
                        TargetPool::new(
                            t.address.clone(),
                            addrs.clone(),
                            u.pool_max_idle,
                            u.pool_idle_timeout,
                            u.connect_timeout,
                            tls.as_ref().and_then(|tls| tls.get(i).cloned()),
                        )
                        .shared(limit.clone())
                    })
                    .collect()
            })
            .collect();
        let h2 = snapshot
            .config
            .upstreams
            .iter()
            .map(|u| match u.protocol {
                UpstreamProtocol::H2c | UpstreamProtocol::H2 => {
                    u.targets.iter().map(|_| Arc::default()).collect()
                }
                UpstreamProtocol::Http1 => Vec::new(),
            })
            .collect();
        Self {
            snapshot,
            pools,
            h2,
            ids,
            log,
            date: DateCache::new(),
            retired: std::sync::atomic::AtomicBool::new(false),
            metrics,
        }
    }
}
