//! The load balancer role: which target of a pool gets the next request.
//!
//! Every algorithm here is pure bookkeeping: no I/O, no tasks, no clock
//! except where a caller asks for one ([`PowerOfTwoChoices::record_latency`]).
//! Each picker takes the set of targets that are [`Available`] right now, so
//! health checks and outlier ejection (in the proxy) decide which, and returns
//! `None` when none is. Pickers are `Sync`: one instance can serve every
//! worker. A weight of 0 counts as 1 everywhere (as the existing round robin
//! always did); taking a target out of rotation is what availability is for.
//!
//! See the crate's README.md for formulas, complexity and when to use which.

mod available;
mod balancer;
mod breaker;
mod consistent;
mod hash;
mod inflight;
mod ip_hash;
mod p2c;
mod random;
mod retry;
mod round_robin;
mod weighted_least;

pub use available::Available;
pub use balancer::{Algorithm, Balancer, PickContext, Target};
pub use breaker::{
    Admission, BreakerSettings, BreakerState, CircuitBreaker, ConcurrencyLimit, ConcurrencyPermit,
};
pub use consistent::{ConsistentHash, MAX_POINTS, POINTS_PER_WEIGHT};
pub use hash::{hash64, Rng};
pub use inflight::{InFlight, InFlightGuard};
pub use ip_hash::IpHash;
pub use p2c::{PowerOfTwoChoices, DEFAULT_DECAY};
pub use random::WeightedRandom;
pub use retry::{backoff, RetryBudget};
pub use round_robin::SmoothRoundRobin;
pub use weighted_least::WeightedLeastConnections;

/// A configured weight as the pickers use it: 0 counts as 1.
pub(crate) fn effective_weight(w: u32) -> u64 {
    u64::from(w.max(1))
}
