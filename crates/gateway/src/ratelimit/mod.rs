//! Rate limits (`rate_limit`): which limits apply to a request (plans by
//! consumer group, per-consumer overrides), and the decision against the
//! local store, shared by every worker of the process.
//!
//! - A request must pass every limit of its set; a refused request
//!   charges none of them.
//! - Limits of a key: the consumer's own override, else the first plan
//!   naming one of its groups, else the policy's `limits`.
//! - GCRA (default) admits `count + burst` at once from idle, then one
//!   every `period / count`; the sliding window admits `count + burst` in
//!   any window whose previous part is spread evenly (see `algorithm`).
//! - Exact within the process: one shard lock per decision.
//! - `store: redis` decides with one script at the shared store
//!   ([`redis`], `mode: exact`), or from this node's view of the shared
//!   counts, synced in batches ([`approx`], `mode: approximate`); store
//!   failures follow `on_store_error`.

mod algorithm;
pub mod approx;
pub mod breaker;
pub mod concurrency;
pub mod quota;
pub mod redis;
mod table;

use std::time::{Duration, Instant};

use std::sync::Arc;

use tollgate_config::{
    Algorithm, Consumer, LimitStore, OnStoreError, Rate, RateLimit, SharedStore, StoreMode,
};

use self::approx::Approx;

use self::redis::{key_name, RedisStore, Scripts};

pub use algorithm::{gcra, window, Cell, Check, Limit};
pub use table::Table;

/// What the limiter said about one request, with what the answer's
/// fields report: the tightest limit (least remaining, or the refusing
/// one with the longest wait).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// The request may go on.
    pub allowed: bool,
    /// The reported limit's count and burst (`q`).
    pub quota: u64,
    /// The reported limit's period in whole seconds (`w`).
    pub window: u64,
    /// Requests left under the reported limit (`r`).
    pub remaining: u64,
    /// Until the reported limit resets, or the wait when refused.
    pub reset: Duration,
}

impl Verdict {
    /// Whole seconds, rounded up (never shorter than the true wait).
    pub fn reset_secs(&self) -> u64 {
        let r = self.reset;
        r.as_secs() + u64::from(r.subsec_nanos() > 0)
    }
}

/// A `rate_limit` policy at run time: its settings, its table (the
/// store, or the fallback of `on_store_error: local`) and its shared
/// store, if any.
#[derive(Debug)]
pub struct RateLimiter {
    policy: Arc<RateLimit>,
    table: Table<Cell>,
    epoch: Instant,
    shared: Option<Shared>,
    /// The local views of `mode: approximate` (synced by the store's task).
    approx: Option<Arc<Approx>>,
}

/// The shared store of a limiter and its scripts.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Arc<RedisStore>,
    pub(crate) scripts: Scripts,
}

impl Shared {
    /// The shared store a policy written with `store` decides at: `None`
    /// for `store: local`, or when no Redis store was made (the policy
    /// then decides locally, as `on_store_error: local` would).
    pub(crate) fn for_store(store: &LimitStore, redis: Option<Arc<RedisStore>>) -> Option<Self> {
        match store {
            LimitStore::Redis(_) => redis.map(|store| Self {
                store,
                scripts: Scripts::default(),
            }),
            LimitStore::Local => None,
        }
    }
}

impl RateLimiter {
    /// An empty limiter for `policy`, local only.
    pub fn new(policy: Arc<RateLimit>) -> Self {
        Self::with_store(policy, None)
    }

    /// An empty limiter for `policy`, deciding at `store` when the policy
    /// says `store: redis` (a `None` store then decides locally, as
    /// `on_store_error: local` would).
    pub fn with_store(policy: Arc<RateLimit>, store: Option<Arc<RedisStore>>) -> Self {
        let shared = Shared::for_store(&policy.store, store);
        let approx = match (&shared, policy.store) {
            (
                Some(shared),
                LimitStore::Redis(SharedStore {
                    mode: StoreMode::Approximate { sync },
                    ..
                }),
            ) => {
                let views = Arc::new(Approx::new(&policy.name, sync, policy.max_keys));
                shared.store.sync(&views);
                Some(views)
            }
            _ => None,
        };
        Self {
            table: Table::new(policy.max_keys),
            policy,
            epoch: Instant::now(),
            shared,
            approx,
        }
    }

    /// The shared store it decides at, if any.
    pub fn store(&self) -> Option<&Arc<RedisStore>> {
        self.shared.as_ref().map(|s| &s.store)
    }

    /// Decides a request counted under `key` for `consumer`: at the
    /// shared store when the policy has one (within its timeout, else by
    /// `on_store_error`), else in this process.
    pub async fn decide(&self, key: &str, consumer: Option<&Consumer>) -> Verdict {
        let (Some(shared), LimitStore::Redis(how)) = (&self.shared, self.policy.store) else {
            return self.check(key, consumer);
        };
        let rates = limits_for(&self.policy, consumer);
        if let Some(views) = &self.approx {
            // Never waits for Redis: the local view, or `on_store_error`
            // while the breaker keeps the store out.
            if shared.store.available() {
                return views.decide(key, rates, self.policy.burst);
            }
            return self.fallback(key, rates, how.on_error, how.nodes);
        }
        let limits = self.limits(consumer);
        let (script, tag) = match self.policy.algorithm {
            Algorithm::Gcra => (&shared.scripts.gcra, "g"),
            Algorithm::SlidingWindow => (&shared.scripts.window, "w"),
        };
        let keys: Vec<String> = limits
            .iter()
            .map(|l| {
                let suffix = format!("{tag}:{}+{}/{}", l.count, l.burst, l.period);
                key_name("rl", &self.policy.name, key, &suffix)
            })
            .collect();
        let args = script_args(self.policy.algorithm, &limits);
        let reply = shared.store.eval(script, &keys, &args).await;
        match reply
            .ok()
            .and_then(|r| redis::reply::decode_checks(&r, limits.len()).ok())
        {
            Some(checks) => report(&limits, &checks),
            None => self.fallback(key, rates, how.on_error, how.nodes),
        }
    }

    /// The limits that apply to `consumer`, as the limiter sees them.
    fn limits(&self, consumer: Option<&Consumer>) -> Vec<Limit> {
        limits_for(&self.policy, consumer)
            .iter()
            .map(|r| limit(r, self.policy.burst))
            .collect()
    }

    /// The verdict of `on_store_error` when the shared store did not
    /// answer or was not asked.
    fn fallback(&self, key: &str, rates: &[Rate], on_error: OnStoreError, nodes: u64) -> Verdict {
        match on_error {
            OnStoreError::Local => self.check_rates(key, rates, Some(nodes), self.now()),
            other => {
                let first = rates.first().map(|r| limit(r, self.policy.burst));
                blanket(first, other == OnStoreError::Allow)
            }
        }
    }

    /// Nanoseconds on the limiter's clock (one read per decision).
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The policy it enforces.
    pub fn policy(&self) -> &std::sync::Arc<RateLimit> {
        &self.policy
    }

    /// Keys held in the table (and the approximate views).
    pub fn keys(&self) -> usize {
        self.table.len() + self.approx.as_ref().map_or(0, |a| a.len())
    }

    /// Decides a request counted under `key` for `consumer`, now.
    pub fn check(&self, key: &str, consumer: Option<&Consumer>) -> Verdict {
        self.check_at(key, consumer, self.now())
    }

    /// [`RateLimiter::check`] at `now` nanoseconds on the limiter's clock.
    pub fn check_at(&self, key: &str, consumer: Option<&Consumer>, now: u64) -> Verdict {
        self.check_rates(key, limits_for(&self.policy, consumer), None, now)
    }

    /// Decides against `rates` (each one's share of `nodes` processes when
    /// given) in this process's table. Nothing is collected: the limits
    /// are checked once to decide, and again to charge an admitted
    /// request in place, so a known key costs no allocation.
    fn check_rates(&self, key: &str, rates: &[Rate], nodes: Option<u64>, now: u64) -> Verdict {
        let (algorithm, burst) = (self.policy.algorithm, self.policy.burst);
        let limit_of = |r: &Rate| {
            let l = limit(r, burst);
            nodes.map_or(l, |n| divided(l, n))
        };
        let check = |l: Limit, cell: Cell| match cell {
            Cell::Gcra(tat) => gcra(l, tat, now),
            cell => window(l, cell, now),
        };
        let fresh = || rates.iter().map(|_| fresh_cell(algorithm)).collect();
        self.table.decide(key, now, rates.len(), fresh, |cells| {
            let mut pick = Pick::default();
            for (r, cell) in rates.iter().zip(cells.iter()) {
                let l = limit_of(r);
                pick.add(l, check(l, *cell));
            }
            let verdict = pick.verdict();
            if !verdict.allowed {
                return (verdict, None);
            }
            let mut idle_at = 0;
            for (r, cell) in rates.iter().zip(cells.iter_mut()) {
                let done = check(limit_of(r), *cell);
                *cell = done.next;
                idle_at = idle_at.max(done.idle_at);
            }
            (verdict, Some(idle_at))
        })
    }
}

/// A key's state under one limit before its first request.
fn fresh_cell(algorithm: Algorithm) -> Cell {
    match algorithm {
        Algorithm::Gcra => Cell::Gcra(0),
        Algorithm::SlidingWindow => Cell::Window {
            start: 0,
            prev: 0,
            cur: 0,
        },
    }
}

/// The limits that apply to `consumer`: its override, its first plan, or
/// the policy's own.
pub fn limits_for<'p>(policy: &'p RateLimit, consumer: Option<&Consumer>) -> &'p [Rate] {
    let Some(c) = consumer else {
        return &policy.limits;
    };
    if let Some((_, rates)) = policy.consumers.iter().find(|(n, _)| *n == c.name) {
        return rates;
    }
    let plan = policy
        .plans
        .iter()
        .find(|(group, _)| c.groups.iter().any(|g| g == group));
    plan.map_or(&policy.limits, |(_, rates)| rates)
}

fn limit(rate: &Rate, burst: u64) -> Limit {
    Limit {
        count: rate.count,
        period: u64::try_from(rate.period.as_nanos())
            .unwrap_or(u64::MAX)
            .max(1),
        burst,
    }
}

/// One limit's share of `nodes` processes (at least one request).
fn divided(l: Limit, nodes: u64) -> Limit {
    Limit {
        count: (l.count / nodes.max(1)).max(1),
        period: l.period,
        burst: l.burst / nodes.max(1),
    }
}

/// The scripts' arguments, in microseconds: GCRA's emission interval and
/// span, or the window's period and capacity.
fn script_args(algorithm: Algorithm, limits: &[Limit]) -> Vec<i64> {
    let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    limits
        .iter()
        .flat_map(|l| {
            let period = l.period.div_ceil(1_000).max(1);
            match algorithm {
                Algorithm::Gcra => {
                    let t = period.div_ceil(l.count.max(1)).max(1);
                    [int(t), int(t.saturating_mul(l.capacity()))]
                }
                Algorithm::SlidingWindow => [int(period), int(l.capacity())],
            }
        })
        .collect()
}

/// The verdict of `on_store_error: allow` (`allowed`) or `deny`: the
/// first limit reported, nothing counted; a refusal waits one second.
fn blanket(first: Option<Limit>, allowed: bool) -> Verdict {
    let l = first.unwrap_or(Limit {
        count: 1,
        period: 1_000_000_000,
        burst: 0,
    });
    Verdict {
        allowed,
        quota: l.capacity(),
        window: (l.period / 1_000_000_000).max(1),
        remaining: if allowed {
            l.capacity().saturating_sub(1)
        } else {
            0
        },
        reset: if allowed {
            Duration::ZERO
        } else {
            Duration::from_secs(1)
        },
    }
}

/// The limit an answer reports, picked as the checks come: refused by the
/// one with the longest wait (the last of equals), else admitted with the
/// least remaining (the first of equals).
#[derive(Default)]
struct Pick {
    refused: Option<(Limit, Check)>,
    tightest: Option<(Limit, Check)>,
}

impl Pick {
    fn add(&mut self, l: Limit, c: Check) {
        match c.wait {
            Some(w) => {
                if self.refused.is_none_or(|(_, r)| r.wait <= Some(w)) {
                    self.refused = Some((l, c));
                }
            }
            None => {
                if self.tightest.is_none_or(|(_, t)| c.remaining < t.remaining) {
                    self.tightest = Some((l, c));
                }
            }
        }
    }

    fn verdict(&self) -> Verdict {
        let (allowed, (l, c)) = match (self.refused, self.tightest) {
            (Some(r), _) => (false, r),
            (None, Some(t)) => (true, t),
            (None, None) => return blanket(None, true),
        };
        Verdict {
            allowed,
            quota: l.capacity(),
            window: (l.period / 1_000_000_000).max(1),
            remaining: c.remaining,
            reset: Duration::from_nanos(c.reset),
        }
    }
}

/// The verdict the answer reports for `checks` of `limits` (see [`Pick`]).
fn report(limits: &[Limit], checks: &[Check]) -> Verdict {
    let mut pick = Pick::default();
    for (l, c) in limits.iter().zip(checks) {
        pick.add(*l, *c);
    }
    pick.verdict()
}

#[cfg(test)]
mod tests;
