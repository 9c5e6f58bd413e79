//! The runtime snapshot: configuration compiled into the router and
//! balancers, immutable once built. Workers add their own connection pools.

use std::sync::Arc;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tollgate_balance::{Algorithm, Available, Balancer, Target, DEFAULT_DECAY};
use tollgate_config::{Balance, Config, Policy, UpstreamProtocol};
use tollgate_core::RequestIdGenerator;
use tollgate_edge::cache::Cache;
use tollgate_ops::{AccessLog, AccessLogBuffer};

use crate::date::DateCache;
use crate::health::UpstreamHealth;
use crate::router::Router;
use crate::upstream::{H2Session, TargetPool};

/// Everything the data path reads, built once from a [`Config`].
#[derive(Debug)]
pub struct Snapshot {
    /// The configuration it was built from.
    pub config: Config,
    /// Route selection.
    pub router: Router,
    /// One balancer per upstream, in config order. Shared by every worker,
    /// so in-flight counts and latency estimates are process-wide.
    pub(crate) balancers: Vec<Balancer>,
    /// Which targets of each upstream may be picked when it has no
    /// `health` section (all of them); built once so a pick allocates nothing.
    pub(crate) available: Vec<Available>,
    /// Health state of each upstream with a `health` section (`None`
    /// without): shared by every worker and the health checker thread.
    pub(crate) health: Vec<Option<Arc<UpstreamHealth>>>,
    /// `[route][step]`: the cache store of each `cache` step. One store per
    /// definition: steps holding the same `Arc<CachePolicy>` (a named
    /// policy, `defaults.policies`) share it.
    caches: Vec<Vec<Option<Arc<Cache>>>>,
}

impl Snapshot {
    /// Compiles `config`.
    pub fn build(config: Config) -> Self {
        let names: Vec<String> = config.listeners.iter().map(|l| l.name.clone()).collect();
        let router = Router::new(&config.routes, &names);
        // Seeds of the random pickers: distinct per upstream, different
        // from run to run.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let time_seed = now.as_secs() ^ u64::from(now.subsec_nanos()).rotate_left(32);
        let balancers = config
            .upstreams
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let seed = time_seed ^ (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                let algorithm = algorithm(&u.balance, seed);
                let targets: Vec<Target<'_>> = u
                    .targets
                    .iter()
                    .map(|t| Target::new(&t.address, t.weight))
                    .collect();
                Balancer::new(&algorithm, &targets)
            })
            .collect();
        let available = config
            .upstreams
            .iter()
            .map(|u| Available::all(u.targets.len()))
            .collect();
        let health = config
            .upstreams
            .iter()
            .map(|u| UpstreamHealth::new(u).map(Arc::new))
            .collect();
        let caches = build_caches(&config);
        Self {
            config,
            router,
            balancers,
            available,
            health,
            caches,
        }
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
        }
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
    pub(crate) h2: Vec<Vec<H2Session>>,
    pub(crate) ids: Arc<RequestIdGenerator>,
    pub(crate) log: AccessLogBuffer,
    /// `Date` values for answers that lack one.
    pub(crate) date: DateCache,
}

impl Worker {
    /// A fresh request id as a header value.
    pub(crate) fn new_request_id(&self) -> http::HeaderValue {
        let id = bytes::Bytes::from(self.ids.next_id().into_bytes());
        http::HeaderValue::from_maybe_shared(id).unwrap_or(http::HeaderValue::from_static(""))
    }

    /// A worker over `snapshot` with empty pools.
    pub(crate) fn new(
        snapshot: Arc<Snapshot>,
        ids: Arc<RequestIdGenerator>,
        log: Arc<AccessLog>,
    ) -> Self {
        let pools = snapshot
            .config
            .upstreams
            .iter()
            .map(|u| {
                u.targets
                    .iter()
                    .map(|t| {
                        Arc::new(TargetPool::new(
                            t.address.clone(),
                            u.pool_max_idle,
                            u.pool_idle_timeout,
                            u.connect_timeout,
                        ))
                    })
                    .collect()
            })
            .collect();
        let h2 = snapshot
            .config
            .upstreams
            .iter()
            .map(|u| match u.protocol {
                UpstreamProtocol::H2c => u.targets.iter().map(|_| H2Session::default()).collect(),
                UpstreamProtocol::Http1 => Vec::new(),
            })
            .collect();
        Self {
            snapshot,
            pools,
            h2,
            ids,
            log: AccessLogBuffer::new(log),
            date: DateCache::new(),
        }
    }
}
