//! The limiting policies' part of the runtime snapshot: one limiter per
//! `rate_limit` definition, shared by every worker and every route that
//! holds the same definition. On a reload, a definition equal to one of
//! the replaced snapshot keeps that limiter, counters and all.

use std::sync::Arc;

use tollgate_config::{Config, LimitPolicy, Policy};
use tollgate_gateway::ratelimit::RateLimiter;

/// `[route][step]`: the limiter of each `rate_limit` step.
#[derive(Debug, Default)]
pub(crate) struct LimitState {
    steps: Vec<Vec<Option<Arc<RateLimiter>>>>,
}

impl LimitState {
    /// Builds a limiter per definition, taking over `old`'s limiter of an
    /// equal definition.
    pub(crate) fn build(config: &Config, old: Option<&LimitState>) -> Self {
        let mut made: Vec<Arc<RateLimiter>> = Vec::new();
        let previous: Vec<&Arc<RateLimiter>> = old
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
                        Policy::Limit(LimitPolicy::RateLimit(def)) => {
                            Some(limiter(def, &mut made, &previous))
                        }
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        Self { steps }
    }

    /// The limiter of step `step` of route `route`.
    pub(crate) fn rate(&self, route: usize, step: usize) -> Option<&Arc<RateLimiter>> {
        self.steps.get(route)?.get(step)?.as_ref()
    }
}

/// The limiter of `def`: one already made for the same `Arc`, else one of
/// the old snapshot with equal settings, else a new one.
fn limiter(
    def: &Arc<tollgate_config::RateLimit>,
    made: &mut Vec<Arc<RateLimiter>>,
    previous: &[&Arc<RateLimiter>],
) -> Arc<RateLimiter> {
    if let Some(l) = made.iter().find(|l| Arc::ptr_eq(l.policy(), def)) {
        return l.clone();
    }
    let l = match previous.iter().find(|l| **l.policy() == **def) {
        Some(old) => Arc::clone(old),
        None => Arc::new(RateLimiter::new(Arc::clone(def))),
    };
    made.push(l.clone());
    l
}
