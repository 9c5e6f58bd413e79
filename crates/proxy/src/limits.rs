//! The limiting policies' part of the runtime snapshot: one limiter per
//! `rate_limit`, `quota` or `concurrency_limit` definition, shared by every worker
//! and every route that holds the same definition. On a reload, a
//! definition equal to one of the replaced snapshot keeps that limiter,
//! counts and all. One Redis store (connections, breaker) serves every
//! `store: redis` limit of the process; a reload with an equal `redis:`
//! block keeps it.

use std::sync::Arc;

use tollgate_config::{
    Algorithm, Calendar, Config, LimitKey, LimitPolicy, LimitStore, OnStoreError, Policy, StoreMode,
};
use tollgate_gateway::ratelimit::concurrency::InFlight;
use tollgate_gateway::ratelimit::quota::QuotaLimiter;
use tollgate_gateway::ratelimit::redis::RedisStore;
use tollgate_gateway::ratelimit::RateLimiter;

mod fields;

pub(crate) use fields::FieldText;

/// The runtime of one limiting step.
#[derive(Debug, Clone)]
pub(crate) enum LimitRt {
    /// A `rate_limit` step's table, and its answers' fields made at load.
    Rate(Arc<RateLimiter>, Arc<FieldText>),
    /// A `concurrency_limit` step's in-flight counts.
    InFlight(Arc<InFlight>),
    /// A `quota` step's calendar counts, and its answers' label.
    Quota(Arc<QuotaLimiter>, Arc<FieldText>),
}

impl LimitRt {
    /// Whether this runtime decides at `store` (a limiter of a replaced
    /// Redis store is not carried over).
    fn uses(&self, store: Option<&Arc<RedisStore>>) -> bool {
        let mine = match self {
            LimitRt::Rate(l, _) => l.store(),
            LimitRt::Quota(q, _) => q.store(),
            LimitRt::InFlight(_) => None,
        };
        match (mine, store) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (Some(_), None) => false,
            (None, _) => true,
        }
    }

    /// Whether this runtime enforces `def` (the same `Arc`, or equal
    /// settings when `equal`).
    fn serves(&self, def: &LimitPolicy, equal: bool) -> bool {
        match (self, def) {
            (LimitRt::Rate(l, _), LimitPolicy::RateLimit(d)) => {
                Arc::ptr_eq(l.policy(), d) || (equal && **l.policy() == **d)
            }
            (LimitRt::InFlight(t), LimitPolicy::Concurrency(d)) => {
                Arc::ptr_eq(t.policy(), d) || (equal && **t.policy() == **d)
            }
            (LimitRt::Quota(q, _), LimitPolicy::Quota(d)) => {
                Arc::ptr_eq(q.policy(), d) || (equal && **q.policy() == **d)
            }
            _ => false,
        }
    }
}

/// `[route][step]`: the runtime of each limiting step.
#[derive(Debug, Default)]
pub(crate) struct LimitState {
    steps: Vec<Vec<Option<LimitRt>>>,
    redis: Option<Arc<RedisStore>>,
}

impl LimitState {
    /// Builds a runtime per definition, taking over `old`'s runtime of an
    /// equal definition.
    pub(crate) fn build(config: &Config, old: Option<&LimitState>) -> Self {
        let redis = redis_store(config, old);
        let mut made: Vec<LimitRt> = Vec::new();
        let previous: Vec<&LimitRt> = old
            .map(|o| o.steps.iter().flatten().flatten().collect())
            .unwrap_or_default();
        let steps = config
            .routes
            .iter()
            .map(|route| {
                route
                    .policies
                    .iter()
                    .map(|p| match p {
                        Policy::Limit(def) => runtime(def, &mut made, &previous, redis.as_ref()),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        Self { steps, redis }
    }

    /// The shared store of the `store: redis` limits, if any.
    pub(crate) fn redis(&self) -> Option<&Arc<RedisStore>> {
        self.redis.as_ref()
    }

    /// The runtime of step `step` of route `route`.
    pub(crate) fn step(&self, route: usize, step: usize) -> Option<&LimitRt> {
        self.steps.get(route)?.get(step)?.as_ref()
    }
}

/// The runtime of `def`: one already made for the same `Arc`, else one of
/// the old snapshot with equal settings, else a new one.
fn runtime(
    def: &LimitPolicy,
    made: &mut Vec<LimitRt>,
    previous: &[&LimitRt],
    redis: Option<&Arc<RedisStore>>,
) -> Option<LimitRt> {
    if let Some(rt) = made.iter().find(|rt| rt.serves(def, false)) {
        return Some(rt.clone());
    }
    let store = || redis.cloned();
    let kept = previous
        .iter()
        .find(|rt| rt.serves(def, true) && rt.uses(redis));
    let rt = match kept {
        Some(old) => (*old).clone(),
        None => match def {
            LimitPolicy::RateLimit(d) => LimitRt::Rate(
                Arc::new(RateLimiter::with_store(Arc::clone(d), store())),
                Arc::new(FieldText::for_rate(d)),
            ),
            LimitPolicy::Concurrency(d) => {
                LimitRt::InFlight(Arc::new(InFlight::new(Arc::clone(d))))
            }
            LimitPolicy::Quota(d) => LimitRt::Quota(
                Arc::new(QuotaLimiter::with_store(Arc::clone(d), store())),
                Arc::new(FieldText::for_quota(d)),
            ),
        },
    };
    made.push(rt.clone());
    Some(rt)
}

/// The Redis store of `config`: the old snapshot's when its settings are
/// equal, else a new one (none without `redis:`). A store that cannot
/// start its thread is logged and left out: its limits then decide as
/// `on_store_error: local` would.
fn redis_store(config: &Config, old: Option<&LimitState>) -> Option<Arc<RedisStore>> {
    let wanted = config.redis.as_ref()?;
    if let Some(kept) = old
        .and_then(|o| o.redis.as_ref())
        .filter(|s| s.config() == wanted)
    {
        return Some(Arc::clone(kept));
    }
    match RedisStore::new(wanted.clone()) {
        Ok(store) => Some(store),
        Err(e) => {
            tracing::error!(error = %e, "cannot start the redis store's thread");
            None
        }
    }
}

/// One line for `explain`: the limits, their key and where counts live.
pub(crate) fn describe(policy: &LimitPolicy) -> String {
    let key = describe_key(policy.key());
    match policy {
        LimitPolicy::RateLimit(r) => {
            let rates: Vec<String> = r.limits.iter().map(rate).collect();
            let algorithm = match r.algorithm {
                Algorithm::Gcra => "gcra",
                Algorithm::SlidingWindow => "sliding_window",
            };
            let mut line = format!(
                "rate_limit {}: {} burst {}, {algorithm}, key {key}",
                r.name,
                rates.join(" + "),
                r.burst
            );
            for (group, rates) in &r.plans {
                let rates: Vec<String> = rates.iter().map(rate).collect();
                line.push_str(&format!(", plan {group}: {}", rates.join(" + ")));
            }
            for (name, rates) in &r.consumers {
                let rates: Vec<String> = rates.iter().map(rate).collect();
                line.push_str(&format!(", consumer {name}: {}", rates.join(" + ")));
            }
            line + ", store " + &describe_store(r.store)
        }
        LimitPolicy::Quota(q) => {
            let per = match q.per {
                Calendar::Day => "day",
                Calendar::Month => "month",
            };
            let (sign, off) = if q.utc_offset < 0 {
                ('-', -q.utc_offset)
            } else {
                ('+', q.utc_offset)
            };
            format!(
                "quota {}: {}/{per} (UTC{sign}{:02}:{:02}), key {key}, store {}",
                q.name,
                q.count,
                off / 3600,
                off % 3600 / 60,
                describe_store(q.store)
            )
        }
        LimitPolicy::Concurrency(c) => {
            format!(
                "concurrency_limit {}: {} in flight, key {key}",
                c.name, c.max
            )
        }
    }
}

fn describe_store(store: LimitStore) -> String {
    let LimitStore::Redis(s) = store else {
        return "local (exact per process)".into();
    };
    let mode = match s.mode {
        StoreMode::Exact => "exact".to_string(),
        StoreMode::Approximate { sync } => format!("approximate, sync {}ms", sync.as_millis()),
    };
    let on_error = match s.on_error {
        OnStoreError::Allow => "allow".to_string(),
        OnStoreError::Deny => "deny".to_string(),
        OnStoreError::Local => format!("local (limit / {} nodes)", s.nodes),
    };
    format!("redis ({mode}, on_store_error {on_error})")
}

fn rate(r: &tollgate_config::Rate) -> String {
    format!("{}/{}s", r.count, r.period.as_secs_f64())
}

fn describe_key(key: &LimitKey) -> String {
    match key {
        LimitKey::Consumer { .. } => "consumer (else client IP)".into(),
        LimitKey::ClientIp => "client IP".into(),
        LimitKey::Header(h) => format!("header {h} (else client IP)"),
        LimitKey::Route => "route".into(),
        LimitKey::JwtClaim(c) => format!("jwt claim {c} (else client IP)"),
        LimitKey::Template(t) => format!("template {} (else client IP)", t.as_written()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_each_limit_kind() {
        let config = tollgate_config::parse_str(
            "listeners: [{name: web, address: 127.0.0.1:0}]\nroutes:\n  - name: r\n    respond: {status: 200}\n    policies:\n      - rate_limit: {limits: [10/s, 500/h], burst: 2, key: {header: X-Tenant}}\n      - quota: {limit: 100/month, time_zone: \"-05:30\", key: client_ip}\n      - concurrency_limit: {max: 3, key: route}\n",
            "t.yaml",
        )
        .unwrap();
        let lines: Vec<String> = config.routes[0]
            .policies
            .iter()
            .map(|p| match p {
                Policy::Limit(l) => describe(l),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(
            lines,
            [
                "rate_limit rate_limit: 10/1s + 500/3600s burst 2, gcra, key header x-tenant (else client IP), store local (exact per process)",
                "quota quota: 100/month (UTC-05:30), key client IP, store local (exact per process)",
                "concurrency_limit concurrency_limit: 3 in flight, key route",
            ]
        );
    }

    #[test]
    fn describes_a_redis_store() {
        let config = tollgate_config::parse_str(
            "listeners: [{name: web, address: 127.0.0.1:0}]\nredis: {url: redis://127.0.0.1:6379}\nroutes:\n  - name: r\n    respond: {status: 200}\n    policies:\n      - rate_limit: {limits: [10/s], key: route, store: redis, nodes: 3}\n      - quota: {limit: 5/day, key: route, store: redis, on_store_error: deny}\n",
            "t.yaml",
        )
        .unwrap();
        let lines: Vec<String> = config.routes[0]
            .policies
            .iter()
            .map(|p| match p {
                Policy::Limit(l) => describe(l),
                _ => unreachable!(),
            })
            .collect();
        assert!(
            lines[0].ends_with("store redis (exact, on_store_error local (limit / 3 nodes))"),
            "{lines:?}"
        );
        assert!(
            lines[1].ends_with("store redis (exact, on_store_error deny)"),
            "{lines:?}"
        );
    }
}
