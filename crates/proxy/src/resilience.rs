//! Per-upstream protection state shared by every worker: the retry budget,
//! the concurrency cap, the error-rate breaker, and the sticky-cookie ids
//! of the targets. Built once per snapshot from the upstream's config.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tollgate_balance::{
    hash64, BreakerSettings, CircuitBreaker, ConcurrencyLimit, ConcurrencyPermit, RetryBudget, Rng,
};
use tollgate_config::Upstream;
use tollgate_core::{ErrorKind, ProxyError};

use crate::upstream::ConnectionLimit;

/// What guards one upstream.
#[derive(Debug)]
pub(crate) struct Resilience {
    /// Present when the upstream has `retries`.
    pub(crate) budget: Option<RetryBudget>,
    /// `circuit_breaker.max_requests`.
    pub(crate) max_requests: Option<Arc<ConcurrencyLimit>>,
    /// `circuit_breaker.max_connections` and `max_pending`, shared by the
    /// pools of every target and worker.
    pub(crate) connections: Option<Arc<ConnectionLimit>>,
    /// `circuit_breaker.error_rate`.
    pub(crate) breaker: Option<CircuitBreaker>,
    /// Per target, the value a sticky cookie carries (empty without `sticky`).
    pub(crate) sticky_ids: Vec<String>,
}

impl Resilience {
    /// The state for `u`.
    pub(crate) fn new(u: &Upstream) -> Self {
        let cb = &u.circuit_breaker;
        Self {
            budget: u
                .retries
                .as_ref()
                .map(|r| RetryBudget::new(r.budget_percent, r.min_per_second)),
            max_requests: cb
                .max_requests
                .map(|max| Arc::new(ConcurrencyLimit::new(max))),
            connections: cb
                .max_connections
                .map(|max| Arc::new(ConnectionLimit::new(max, cb.max_pending))),
            breaker: cb.error_rate.as_ref().map(|e| {
                CircuitBreaker::new(BreakerSettings {
                    error_percent: u32::from(e.threshold_percent),
                    min_requests: e.min_requests,
                    window: e.window,
                    open_for: e.open_for,
                    probes: e.probes,
                })
            }),
            sticky_ids: if u.sticky.is_some() {
                u.targets.iter().map(|t| sticky_id(&t.address)).collect()
            } else {
                Vec::new()
            },
        }
    }
}

/// A stable id for a target address: the cookie names the server, not its
/// position in the file, so reordering targets keeps sessions.
fn sticky_id(address: &str) -> String {
    format!("{:016x}", hash64(address.as_bytes()))
}

impl Resilience {
    /// A slot of `circuit_breaker.max_requests` (`None` without the cap),
    /// or 503 when the upstream is at its cap. The response body's
    /// in-flight ticket takes the permit over, so the slot is held until
    /// the body is over.
    pub(crate) fn request_slot(&self) -> Result<Option<ConcurrencyPermit>, ProxyError> {
        match &self.max_requests {
            None => Ok(None),
            Some(l) => l.try_acquire_owned().map(Some).ok_or_else(|| {
                ProxyError::upstream(
                    ErrorKind::Unavailable,
                    "upstream is at its concurrent request limit",
                )
            }),
        }
    }
}

/// Whole seconds since the first call: the retry budget's clock.
pub(crate) fn now_secs() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs()
}

/// A number in `[0, 1)` for backoff jitter and slow start, from a
/// per-thread generator (no cache line shared between workers).
pub(crate) fn random_unit() -> f64 {
    thread_local! {
        static RNG: Rng = Rng::new(seed());
    }
    RNG.with(Rng::unit)
}

/// A seed different per call and per run: the clock, and a counter so
/// threads started in the same instant still differ.
pub(crate) fn seed() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    (now.as_secs() ^ u64::from(now.subsec_nanos()).rotate_left(32)) ^ hash64(&n.to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sticky_ids_are_stable_and_distinct() {
        assert_eq!(sticky_id("10.0.0.1:80"), sticky_id("10.0.0.1:80"));
        assert_ne!(sticky_id("10.0.0.1:80"), sticky_id("10.0.0.2:80"));
        assert_eq!(sticky_id("a").len(), 16);
    }

    #[test]
    fn random_unit_is_in_range() {
        for _ in 0..1000 {
            let r = random_unit();
            assert!((0.0..1.0).contains(&r));
        }
    }
}
