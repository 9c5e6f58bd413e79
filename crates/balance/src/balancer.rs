//! One type over every algorithm, as a pool's configuration selects it.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::hash::hash64;
use crate::{
    Available, ConsistentHash, InFlight, InFlightGuard, IpHash, PowerOfTwoChoices,
    SmoothRoundRobin, WeightedLeastConnections, WeightedRandom,
};

/// Which algorithm a pool uses, with its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Algorithm {
    /// Smooth weighted round robin.
    RoundRobin,
    /// Fewest requests in flight relative to weight.
    WeightedLeastConnections,
    /// The better of two random targets by in-flight × latency.
    PowerOfTwoChoices {
        /// How fast latency estimates forget (time-based EWMA).
        decay: Duration,
        /// Seed of the picker's random draws.
        seed: u64,
    },
    /// Random in proportion to weight.
    WeightedRandom {
        /// Seed of the picker's random draws.
        seed: u64,
    },
    /// The same target per client network (IPv4 /24, IPv6 address).
    IpHash,
    /// The same target per request key, moving few keys when targets change.
    ConsistentHash,
}

/// A target as the balancer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// Stable identity (e.g. `"host:port"`); places the target on the
    /// consistent-hash ring.
    pub id: &'a str,
    /// Relative share of the traffic; 0 counts as 1.
    pub weight: u32,
}

impl<'a> Target<'a> {
    /// A target with this id and weight.
    pub fn new(id: &'a str, weight: u32) -> Self {
        Self { id, weight }
    }
}

/// What a pick may depend on besides the balancer's own state.
#[derive(Debug, Clone, Copy)]
pub struct PickContext<'a> {
    /// The client's address, for [`Algorithm::IpHash`].
    pub client_ip: Option<IpAddr>,
    /// The [`hash64`](crate::hash64) of the request's key, for
    /// [`Algorithm::ConsistentHash`]; `None` without a key (or with an
    /// empty one).
    pub key_hash: Option<u64>,
    /// The targets that may be chosen.
    pub available: &'a Available,
}

impl<'a> PickContext<'a> {
    /// A context with only an availability set.
    pub fn new(available: &'a Available) -> Self {
        Self {
            client_ip: None,
            key_hash: None,
            available,
        }
    }

    /// The same context with a client address.
    pub fn with_client_ip(self, ip: IpAddr) -> Self {
        Self {
            client_ip: Some(ip),
            ..self
        }
    }

    /// The same context with a hash key (an empty key counts as none).
    pub fn with_hash_key(self, key: &[u8]) -> Self {
        Self {
            key_hash: (!key.is_empty()).then(|| hash64(key)),
            ..self
        }
    }

    /// The same context with a key already hashed by [`hash64`](crate::hash64),
    /// for callers that must let go of the key before they pick.
    pub fn with_key_hash(self, hash: u64) -> Self {
        Self {
            key_hash: Some(hash),
            ..self
        }
    }
}

/// A pool's balancer: picks targets and keeps the in-flight and latency
/// bookkeeping the algorithm needs.
///
/// The in-flight API works for every algorithm (the counts are useful for
/// metrics), but only weighted least connections and power of two choices
/// read them; only power of two choices reads latencies.
///
/// ```
/// use std::time::Duration;
/// use tollgate_balance::{Algorithm, Available, Balancer, PickContext, Target};
///
/// let targets = [Target::new("10.0.0.1:80", 3), Target::new("10.0.0.2:80", 1)];
/// let balancer = Balancer::new(&Algorithm::WeightedLeastConnections, &targets);
/// let mut available = Available::all(targets.len());
/// available.set(0, false); // e.g. failed its health check
///
/// let guard = balancer.pick_guarded(&PickContext::new(&available)).unwrap();
/// assert_eq!(guard.index(), 1);
/// balancer.record_latency(guard.index(), Duration::from_millis(12));
/// drop(guard); // the request finished
///
/// assert_eq!(balancer.pick(&PickContext::new(&Available::none(2))), None);
/// ```
#[derive(Debug)]
pub struct Balancer {
    algorithm: Algorithm,
    /// The targets' ids, to build the picker again with other weights.
    ids: Vec<String>,
    /// The weights the balancer was built with (the configured ones).
    configured: Vec<u32>,
    kind: Kind,
    /// Whether `reweighted` holds a picker; read first so a pool without
    /// an operator's weights pays one relaxed load, not a lock.
    overridden: AtomicBool,
    /// The weights an operator set at run time and the picker built with them.
    reweighted: Mutex<Option<(Vec<u32>, Arc<Kind>)>>,
    /// Requests in flight per target, shared by every picker built here so
    /// that new weights do not lose the counts.
    in_flight: Arc<InFlight>,
}

#[derive(Debug)]
enum Kind {
    RoundRobin(SmoothRoundRobin),
    WeightedLeast(WeightedLeastConnections),
    P2c(PowerOfTwoChoices),
    Random(WeightedRandom),
    /// With round robin for requests that have no client address (nginx
    /// does the same for Unix-socket clients).
    IpHash(IpHash, SmoothRoundRobin),
    /// With round robin for requests that have no key (as nginx's `hash`
    /// does for an empty key).
    Consistent(ConsistentHash, SmoothRoundRobin),
}

impl Kind {
    /// The picker of `algorithm` over targets `ids` with `weights`.
    fn build(
        algorithm: &Algorithm,
        ids: &[String],
        weights: &[u32],
        in_flight: &Arc<InFlight>,
    ) -> Self {
        match *algorithm {
            Algorithm::RoundRobin => Kind::RoundRobin(SmoothRoundRobin::new(weights)),
            Algorithm::WeightedLeastConnections => Kind::WeightedLeast(
                WeightedLeastConnections::sharing(weights, in_flight.clone()),
            ),
            Algorithm::PowerOfTwoChoices { decay, seed } => Kind::P2c(PowerOfTwoChoices::sharing(
                weights,
                decay,
                seed,
                in_flight.clone(),
            )),
            Algorithm::WeightedRandom { seed } => Kind::Random(WeightedRandom::new(weights, seed)),
            Algorithm::IpHash => Kind::IpHash(IpHash::new(weights), SmoothRoundRobin::new(weights)),
            Algorithm::ConsistentHash => {
                let ring: Vec<(&str, u32)> = ids
                    .iter()
                    .zip(weights)
                    .map(|(id, &w)| (id.as_str(), w))
                    .collect();
                Kind::Consistent(ConsistentHash::new(&ring), SmoothRoundRobin::new(weights))
            }
        }
    }

    fn pick(&self, ctx: &PickContext<'_>) -> Option<usize> {
        let available = ctx.available;
        match self {
            Kind::RoundRobin(p) => p.pick_available(available),
            Kind::WeightedLeast(p) => p.pick(available),
            Kind::P2c(p) => p.pick(available),
            Kind::Random(p) => p.pick(available),
            Kind::IpHash(p, rr) => match ctx.client_ip {
                Some(ip) => p.pick(ip, available),
                None => rr.pick_available(available),
            },
            Kind::Consistent(p, rr) => match ctx.key_hash {
                Some(hash) => p.pick_hashed(hash, available),
                None => rr.pick_available(available),
            },
        }
    }
}

impl Balancer {
    /// A balancer running `algorithm` over `targets`, in their order.
    pub fn new(algorithm: &Algorithm, targets: &[Target<'_>]) -> Self {
        let configured: Vec<u32> = targets.iter().map(|t| t.weight).collect();
        let ids: Vec<String> = targets.iter().map(|t| t.id.to_string()).collect();
        let in_flight = Arc::new(InFlight::new(targets.len()));
        Self {
            kind: Kind::build(algorithm, &ids, &configured, &in_flight),
            algorithm: algorithm.clone(),
            ids,
            configured,
            overridden: AtomicBool::new(false),
            reweighted: Mutex::new(None),
            in_flight,
        }
    }

    /// Picks with `weights` (one per target, in order) from now on instead
    /// of the configured ones, or with the configured ones again (`None`,
    /// or a list of the wrong length). The picker's own bookkeeping (round
    /// robin scores, latency estimates) starts afresh; in-flight counts
    /// are kept. Setting the weights already in use changes nothing.
    pub fn set_weights(&self, weights: Option<&[u32]>) {
        let weights = weights.filter(|w| w.len() == self.configured.len());
        let mut slot = self.reweighted.lock().unwrap_or_else(|p| p.into_inner());
        if weights == slot.as_ref().map(|(w, _)| w.as_slice()) {
            return;
        }
        *slot = weights.map(|w| {
            let kind = Kind::build(&self.algorithm, &self.ids, w, &self.in_flight);
            (w.to_vec(), Arc::new(kind))
        });
        self.overridden.store(slot.is_some(), Ordering::Release);
    }

    /// The weights set by [`Self::set_weights`], if any.
    pub fn overrides(&self) -> Option<Vec<u32>> {
        let slot = self.reweighted.lock().unwrap_or_else(|p| p.into_inner());
        slot.as_ref().map(|(w, _)| w.clone())
    }

    /// The weights picks use now, one per target (0 counts as 1).
    pub fn weights(&self) -> Vec<u32> {
        self.overrides().unwrap_or_else(|| self.configured.clone())
    }

    /// The picker in use: the one with the operator's weights when set.
    fn active(&self) -> Option<Arc<Kind>> {
        if !self.overridden.load(Ordering::Acquire) {
            return None;
        }
        self.reweighted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|(_, kind)| kind.clone())
    }

    /// The index of the target for this request; `None` when no target is
    /// available. Does not count the request: call [`Self::acquire`] or
    /// [`Self::guard`] when it starts.
    pub fn pick(&self, ctx: &PickContext<'_>) -> Option<usize> {
        match self.active() {
            Some(kind) => kind.pick(ctx),
            None => self.kind.pick(ctx),
        }
    }

    /// Picks a target and counts the request as started until the guard
    /// drops.
    pub fn pick_guarded(&self, ctx: &PickContext<'_>) -> Option<InFlightGuard<'_>> {
        self.pick(ctx).map(|i| self.guard(i))
    }

    /// A request to target `i` started.
    pub fn acquire(&self, i: usize) {
        self.in_flight.acquire(i);
    }

    /// A request to target `i` finished.
    pub fn release(&self, i: usize) {
        self.in_flight.release(i);
    }

    /// Starts a request to target `i`, finished when the guard drops.
    pub fn guard(&self, i: usize) -> InFlightGuard<'_> {
        self.in_flight.guard(i)
    }

    /// Requests in flight per target.
    pub fn in_flight(&self) -> &InFlight {
        &self.in_flight
    }

    /// Records how long a request to target `i` took, observed now (used by
    /// power of two choices, ignored by the others).
    pub fn record_latency(&self, i: usize, rtt: Duration) {
        self.record_latency_at(i, rtt, Instant::now());
    }

    /// Records how long a request to target `i` took, observed at `now`.
    pub fn record_latency_at(&self, i: usize, rtt: Duration, now: Instant) {
        let active = self.active();
        if let Kind::P2c(p) = active.as_deref().unwrap_or(&self.kind) {
            p.record_latency_at(i, rtt, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::hash::Rng;

    fn algorithms() -> Vec<Algorithm> {
        vec![
            Algorithm::RoundRobin,
            Algorithm::WeightedLeastConnections,
            Algorithm::PowerOfTwoChoices {
                decay: Duration::from_secs(10),
                seed: 1,
            },
            Algorithm::WeightedRandom { seed: 1 },
            Algorithm::IpHash,
            Algorithm::ConsistentHash,
        ]
    }

    fn contexts<'a>(available: &'a Available, ip: IpAddr, key: &'a [u8]) -> [PickContext<'a>; 4] {
        let bare = PickContext::new(available);
        [
            bare,
            bare.with_client_ip(ip),
            bare.with_hash_key(key),
            bare.with_client_ip(ip).with_hash_key(key),
        ]
    }

    #[test]
    fn empty_or_unavailable_gives_none() {
        let targets = [Target::new("a", 1), Target::new("b", 2)];
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        for algorithm in algorithms() {
            let empty = Balancer::new(&algorithm, &[]);
            let full = Balancer::new(&algorithm, &targets);
            for avail in [Available::none(2), Available::all(0), Available::none(100)] {
                for ctx in contexts(&avail, ip, b"k") {
                    assert_eq!(full.pick(&ctx), None, "{algorithm:?}");
                    assert_eq!(empty.pick(&ctx), None, "{algorithm:?}");
                }
            }
            let all = Available::all(2);
            for ctx in contexts(&all, ip, b"k") {
                assert_eq!(empty.pick(&ctx), None, "{algorithm:?}");
            }
        }
    }

    #[test]
    fn hash_algorithms_fall_back_to_round_robin_without_input() {
        let targets = [Target::new("a", 1), Target::new("b", 1)];
        let all = Available::all(2);
        for algorithm in [Algorithm::IpHash, Algorithm::ConsistentHash] {
            let b = Balancer::new(&algorithm, &targets);
            let order: Vec<_> = (0..4).map(|_| b.pick(&PickContext::new(&all))).collect();
            assert_eq!(order, [Some(0), Some(1), Some(0), Some(1)]);
        }
        let b = Balancer::new(&Algorithm::ConsistentHash, &targets);
        let ctx = PickContext::new(&all).with_hash_key(b"");
        assert_ne!(b.pick(&ctx), b.pick(&ctx));
    }

    #[test]
    fn a_key_hashed_beforehand_picks_like_the_key() {
        let targets: Vec<Target<'_>> = ["a", "b", "c", "d"]
            .iter()
            .map(|id| Target::new(id, 1))
            .collect();
        let b = Balancer::new(&Algorithm::ConsistentHash, &targets);
        let all = Available::all(4);
        for i in 0..100u32 {
            let key = i.to_le_bytes();
            assert_eq!(
                b.pick(&PickContext::new(&all).with_hash_key(&key)),
                b.pick(&PickContext::new(&all).with_key_hash(hash64(&key)))
            );
        }
    }

    #[test]
    fn bookkeeping_reaches_the_algorithm() {
        let targets = [Target::new("a", 1), Target::new("b", 1)];
        let all = Available::all(2);
        let ctx = PickContext::new(&all);
        let b = Balancer::new(&Algorithm::WeightedLeastConnections, &targets);
        let g = b.pick_guarded(&ctx).unwrap();
        assert_eq!(g.index(), 0);
        assert_eq!(b.in_flight().get(0), 1);
        assert_eq!(b.pick(&ctx), Some(1));
        drop(g);
        assert_eq!(b.in_flight().get(0), 0);

        let b = Balancer::new(
            &Algorithm::PowerOfTwoChoices {
                decay: Duration::from_secs(1),
                seed: 3,
            },
            &targets,
        );
        b.record_latency(0, Duration::from_millis(50));
        b.record_latency(1, Duration::from_millis(5));
        assert_eq!(b.pick(&ctx), Some(1));

        // Algorithms that ignore the counts still keep them.
        let b = Balancer::new(&Algorithm::RoundRobin, &targets);
        b.acquire(1);
        assert_eq!(b.in_flight().get(1), 1);
        b.release(1);
        b.release(1);
        assert_eq!(b.in_flight().get(1), 0);
        b.record_latency(0, Duration::MAX); // ignored
    }

    #[test]
    fn weights_set_at_run_time_steer_picks_until_cleared() {
        let targets = [Target::new("a", 1), Target::new("b", 1)];
        let all = Available::all(2);
        let ctx = PickContext::new(&all);
        for algorithm in algorithms() {
            let b = Balancer::new(&algorithm, &targets);
            let g = b.guard(1);
            b.set_weights(Some(&[1, 999]));
            assert_eq!(b.weights(), [1, 999], "{algorithm:?}");
            assert_eq!(b.in_flight().get(1), 1, "{algorithm:?}: counts kept");
            drop(g);
            let to_b = (0..1000).filter(|_| b.pick(&ctx) == Some(1)).count();
            // P2c samples two of two targets, so weight decides its every pick.
            assert!(to_b > 900, "{algorithm:?}: {to_b}");
            b.set_weights(None);
            assert_eq!(b.overrides(), None);
            let to_b = (0..1000).filter(|_| b.pick(&ctx) == Some(1)).count();
            assert!((300..=700).contains(&to_b), "{algorithm:?}: {to_b}");
            b.set_weights(Some(&[1])); // wrong length: the configured weights
            assert_eq!(b.weights(), [1, 1]);
        }
    }

    /// Arbitrary pools (weights including 0 and u32::MAX), availability sets
    /// shorter or longer than the pool, arbitrary bookkeeping calls: every
    /// pick is an available index of the pool, or `None` exactly when none is.
    #[test]
    fn never_panics_and_only_picks_available_targets() {
        let rng = Rng::new(0xdead_beef);
        let ids: Vec<String> = (0..40).map(|i| format!("t{i}")).collect();
        let t0 = Instant::now();
        for _ in 0..300 {
            let n = rng.below(12) as usize;
            let targets: Vec<Target<'_>> = ids
                .iter()
                .take(n)
                .map(|id| {
                    let weight = match rng.below(5) {
                        0 => 0,
                        1 => u32::MAX,
                        _ => rng.below(10) as u32,
                    };
                    Target::new(id, weight)
                })
                .collect();
            let avail_len = rng.below(n as u64 + 3) as usize;
            let avail: Available = (0..avail_len).map(|_| rng.below(3) != 0).collect();
            let expect_some = (0..n).any(|i| avail.contains(i));
            for algorithm in algorithms() {
                let b = Balancer::new(&algorithm, &targets);
                for round in 0..20u64 {
                    let ip = IpAddr::V4(Ipv4Addr::from(rng.next_u64() as u32));
                    let key = rng.next_u64().to_le_bytes();
                    for ctx in contexts(&avail, ip, &key) {
                        let got = b.pick(&ctx);
                        assert_eq!(
                            got.is_some(),
                            expect_some,
                            "{algorithm:?} {targets:?} {avail:?}"
                        );
                        if let Some(i) = got {
                            assert!(i < n && avail.contains(i), "{algorithm:?}: {i}");
                        }
                    }
                    let i = rng.below(n as u64 + 2) as usize;
                    match rng.below(4) {
                        0 => b.acquire(i),
                        1 => b.release(i),
                        2 => b.record_latency_at(
                            i,
                            Duration::from_nanos(rng.next_u64()),
                            t0 + Duration::from_millis(round),
                        ),
                        _ => b.record_latency(i, Duration::MAX),
                    }
                }
            }
        }
    }
}
