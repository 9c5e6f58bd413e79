//! What the load balancer knows about each upstream and target right now:
//! health, ejection, requests in flight, recent latency, the last health
//! check, and the breaker. Read by [`crate::RunningServer::upstream_states`]
//! for the admin API and tools.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tollgate_balance::BreakerState;

use crate::snapshot::{Snapshot, Worker};

/// One upstream's state.
#[derive(Debug, Clone)]
pub struct UpstreamState {
    /// The upstream's name.
    pub name: String,
    /// The error-rate breaker, when configured.
    pub breaker: Option<BreakerState>,
    /// Every target, in config order.
    pub targets: Vec<TargetState>,
}

/// One target's state.
#[derive(Debug, Clone)]
pub struct TargetState {
    /// `host:port` as configured.
    pub address: String,
    /// What the address resolves to now (DNS names are re-resolved on
    /// `dns_refresh`; connections to addresses that left are drained).
    pub resolved: Vec<std::net::SocketAddr>,
    /// Whether a request may be sent to it now (healthy and not ejected).
    pub available: bool,
    /// The active checks' verdict (true without active checks).
    pub healthy: bool,
    /// Time left of a passive ejection, if ejected.
    pub ejected_for: Option<Duration>,
    /// Requests in flight (all workers).
    pub in_flight: u64,
    /// Moving average of the time to a response head, averaged over the
    /// workers that sent it requests.
    pub latency: Option<Duration>,
    /// The last active check: success, failure reason, how long ago.
    pub last_check: Option<(bool, String, Duration)>,
}

/// The state of every upstream of `snapshot`, with latencies from those of
/// `workers` that serve it (while a reload swaps generations, a worker may
/// already serve the next one, whose upstream indices differ).
pub(crate) fn upstream_states(snapshot: &Snapshot, workers: &[Arc<Worker>]) -> Vec<UpstreamState> {
    let now = Instant::now();
    let workers: Vec<&Worker> = workers
        .iter()
        .filter(|w| std::ptr::eq(&*w.snapshot, snapshot))
        .map(|w| &**w)
        .collect();
    snapshot
        .config
        .upstreams
        .iter()
        .enumerate()
        .map(|(u, upstream)| {
            let health = snapshot.health[u].as_deref();
            let available = health.and_then(|h| h.current());
            let targets = upstream
                .targets
                .iter()
                .enumerate()
                .map(|(t, target)| {
                    let view = health.and_then(|h| h.view(t));
                    let latencies: Vec<Duration> = workers
                        .iter()
                        .filter_map(|w| w.pools.get(u)?.get(t)?.latency())
                        .collect();
                    let latency = (!latencies.is_empty())
                        .then(|| latencies.iter().sum::<Duration>() / latencies.len() as u32);
                    TargetState {
                        address: target.address.clone(),
                        resolved: snapshot.addrs[u][t].current().to_vec(),
                        available: match (health, &available) {
                            (None, _) => true,
                            (Some(_), Some(set)) => set.contains(t),
                            (Some(_), None) => false,
                        },
                        healthy: view.as_ref().is_none_or(|v| v.healthy),
                        ejected_for: view.as_ref().and_then(|v| v.ejected_for),
                        in_flight: snapshot.balancers[u].in_flight().get(t),
                        latency,
                        last_check: view.and_then(|v| v.last_check),
                    }
                })
                .collect();
            UpstreamState {
                name: upstream.name.clone(),
                breaker: snapshot.resilience[u]
                    .breaker
                    .as_ref()
                    .map(|b| b.state(now)),
                targets,
            }
        })
        .collect()
}
