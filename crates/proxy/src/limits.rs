//! The limiting policies' part of the runtime snapshot: one limiter per
//! `rate_limit`, `quota` or `concurrency_limit` definition, shared by every worker
//! and every route that holds the same definition. On a reload, a
//! definition equal to one of the replaced snapshot keeps that limiter,
//! counts and all.

use std::sync::Arc;

use tollgate_config::{Config, LimitPolicy, Policy};
use tollgate_gateway::ratelimit::concurrency::InFlight;
use tollgate_gateway::ratelimit::quota::QuotaLimiter;
use tollgate_gateway::ratelimit::RateLimiter;

/// The runtime of one limiting step.
#[derive(Debug, Clone)]
pub(crate) enum LimitRt {
    /// A `rate_limit` step's table.
    Rate(Arc<RateLimiter>),
    /// A `concurrency_limit` step's in-flight counts.
    InFlight(Arc<InFlight>),
    /// A `quota` step's calendar counts.
    Quota(Arc<QuotaLimiter>),
}

impl LimitRt {
    /// Whether this runtime enforces `def` (the same `Arc`, or equal
    /// settings when `equal`).
    fn serves(&self, def: &LimitPolicy, equal: bool) -> bool {
        match (self, def) {
            (LimitRt::Rate(l), LimitPolicy::RateLimit(d)) => {
                Arc::ptr_eq(l.policy(), d) || (equal && **l.policy() == **d)
            }
            (LimitRt::InFlight(t), LimitPolicy::Concurrency(d)) => {
                Arc::ptr_eq(t.policy(), d) || (equal && **t.policy() == **d)
            }
            (LimitRt::Quota(q), LimitPolicy::Quota(d)) => {
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
}

impl LimitState {
    /// Builds a runtime per definition, taking over `old`'s runtime of an
    /// equal definition.
    pub(crate) fn build(config: &Config, old: Option<&LimitState>) -> Self {
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
                        Policy::Limit(def) => runtime(def, &mut made, &previous),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        Self { steps }
    }

    /// The runtime of step `step` of route `route`.
    pub(crate) fn step(&self, route: usize, step: usize) -> Option<&LimitRt> {
        self.steps.get(route)?.get(step)?.as_ref()
    }
}

/// The runtime of `def`: one already made for the same `Arc`, else one of
/// the old snapshot with equal settings, else a new one.
fn runtime(def: &LimitPolicy, made: &mut Vec<LimitRt>, previous: &[&LimitRt]) -> Option<LimitRt> {
    if let Some(rt) = made.iter().find(|rt| rt.serves(def, false)) {
        return Some(rt.clone());
    }
    let rt = match previous.iter().find(|rt| rt.serves(def, true)) {
        Some(old) => (*old).clone(),
        None => match def {
            LimitPolicy::RateLimit(d) => LimitRt::Rate(Arc::new(RateLimiter::new(Arc::clone(d)))),
            LimitPolicy::Concurrency(d) => {
                LimitRt::InFlight(Arc::new(InFlight::new(Arc::clone(d))))
            }
            LimitPolicy::Quota(d) => LimitRt::Quota(Arc::new(QuotaLimiter::new(Arc::clone(d)))),
        },
    };
    made.push(rt.clone());
    Some(rt)
}
