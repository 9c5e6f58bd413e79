//! Least request by power of two choices, with latency-aware scores (the
//! scheme of Linkerd's `PeakEwma` balancer and Envoy's `LEAST_REQUEST`).
//!
//! Each pick samples two distinct available targets uniformly at random and
//! takes the one with the lower score
//!
//! ```text
//! score[i] = ewma_latency[i] × (in_flight[i] + 1) / weight[i]
//! ```
//!
//! The `+ 1` (as in Linkerd) counts the request being placed: without it every
//! idle target scores 0 and latency would be ignored exactly when the pool is
//! quiet. With equal weights this is "in-flight × EWMA latency".
//!
//! The latency average decays with time, not with the number of samples: a
//! sample `rtt` arriving `elapsed` after the previous one updates
//!
//! ```text
//! w    = exp(-elapsed / decay)
//! ewma = w × ewma + (1 - w) × rtt
//! ```
//!
//! so after `decay` without news an old estimate keeps only 1/e of its say.
//! A target's first sample sets its average. A target without samples is
//! scored with the mean of the targets that have them (1 ns when none has,
//! which makes the choice plain least-request), and wins ties, so it is
//! measured soon without drawing a burst.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::hash::Rng;
use crate::{effective_weight, Available, InFlight, InFlightGuard};

/// The decay Linkerd and Finagle use by default.
pub const DEFAULT_DECAY: Duration = Duration::from_secs(10);

/// Picks the better of two random targets by in-flight × latency.
#[derive(Debug)]
pub struct PowerOfTwoChoices {
    weights: Vec<f64>,
    /// Shared with the [`crate::Balancer`] that owns the picker, so a
    /// picker rebuilt with new weights keeps the counts.
    in_flight: Arc<InFlight>,
    decay: Duration,
    rng: Rng,
    latency: Mutex<Vec<Option<Ewma>>>,
}

/// A target's latency estimate and when it was last updated.
#[derive(Debug, Clone, Copy)]
struct Ewma {
    nanos: f64,
    at: Instant,
}

impl PowerOfTwoChoices {
    /// A picker over targets with these weights (0 counts as 1), latency
    /// estimates that decay over `decay`, and random draws fixed by `seed`
    /// (give each picker its own).
    pub fn new(weights: &[u32], decay: Duration, seed: u64) -> Self {
        Self::sharing(weights, decay, seed, Arc::new(InFlight::new(weights.len())))
    }

    /// A picker that reads (and counts into) `in_flight`.
    pub(crate) fn sharing(
        weights: &[u32],
        decay: Duration,
        seed: u64,
        in_flight: Arc<InFlight>,
    ) -> Self {
        Self {
            // u32 -> f64 is exact.
            weights: weights
                .iter()
                .map(|&w| effective_weight(w) as f64)
                .collect(),
            in_flight,
            decay,
            rng: Rng::new(seed),
            latency: Mutex::new(vec![None; weights.len()]),
        }
    }

    /// How many targets the picker has.
    pub fn len(&self) -> usize {
        self.weights.len()
    }

    /// Whether the picker has no targets.
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }

    /// Index of the better of two random available targets; the only one
    /// when one is available, `None` when none is. Does not count the
    /// request: call [`Self::acquire`] or [`Self::guard`] when it starts.
    pub fn pick(&self, available: &Available) -> Option<usize> {
        let k = available.count_below(self.weights.len()) as u64;
        match k {
            0 => None,
            1 => available.nth(0),
            _ => {
                let a = self.rng.below(k);
                let mut b = self.rng.below(k - 1);
                if b >= a {
                    b += 1; // two distinct ranks
                }
                let a = available.nth(a as usize)?;
                let b = available.nth(b as usize)?;
                let latency = self.latency.lock().unwrap_or_else(|p| p.into_inner());
                let (sa, sb) = (self.score(&latency, a), self.score(&latency, b));
                // A tie with a target that has no samples yet (scored with
                // the mean) goes to that target, so it gets measured: else a
                // slow target could keep winning coin tosses against an
                // unknown fast one.
                let b_unknown = latency.get(b).is_some_and(Option::is_none);
                if sb < sa || (sb == sa && b_unknown) {
                    Some(b)
                } else {
                    Some(a)
                }
            }
        }
    }

    /// Records that a request to target `i` took `rtt`, observed now.
    pub fn record_latency(&self, i: usize, rtt: Duration) {
        self.record_latency_at(i, rtt, Instant::now());
    }

    /// Records that a request to target `i` took `rtt`, observed at `now`
    /// (a clock passed in, for tests and simulations). A `now` earlier than
    /// the previous sample counts as no time elapsed.
    pub fn record_latency_at(&self, i: usize, rtt: Duration, now: Instant) {
        let mut latency = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        let Some(slot) = latency.get_mut(i) else {
            return;
        };
        let sample = rtt.as_nanos() as f64;
        *slot = Some(match *slot {
            None => Ewma {
                nanos: sample,
                at: now,
            },
            Some(old) => {
                let elapsed = now.saturating_duration_since(old.at);
                let w = if self.decay.is_zero() {
                    0.0
                } else {
                    (-elapsed.as_secs_f64() / self.decay.as_secs_f64()).exp()
                };
                Ewma {
                    nanos: w * old.nanos + (1.0 - w) * sample,
                    at: old.at.max(now),
                }
            }
        });
    }

    /// Target `i`'s latency estimate, if it has samples.
    pub fn latency(&self, i: usize) -> Option<Duration> {
        let latency = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        let e = (*latency.get(i)?)?;
        // f64 -> u64 saturates; the estimate is never negative.
        Some(Duration::from_nanos(e.nanos as u64))
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

    /// The in-flight counts the picker reads.
    pub fn in_flight(&self) -> &InFlight {
        &self.in_flight
    }

    fn score(&self, latency: &[Option<Ewma>], i: usize) -> f64 {
        let cost = match latency.get(i).copied().flatten() {
            Some(e) => e.nanos,
            None => mean(latency),
        };
        let load = self.in_flight.get(i) as f64 + 1.0;
        let weight = self.weights.get(i).copied().unwrap_or(1.0);
        // Costs of at least 1 ns keep a 0 ns estimate from hiding the load.
        cost.max(1.0) * load / weight
    }
}

/// Mean of the targets that have estimates; 1 ns when none has. O(n), but
/// only reached while some target has no samples yet.
fn mean(latency: &[Option<Ewma>]) -> f64 {
    let (sum, n) = latency
        .iter()
        .flatten()
        .fold((0.0, 0u32), |(s, n), e| (s + e.nanos, n + 1));
    if n == 0 {
        1.0
    } else {
        sum / f64::from(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn two_distinct_targets_are_compared() {
        // With two targets both are always sampled, so the lower score wins.
        let p = PowerOfTwoChoices::new(&[1, 1], DEFAULT_DECAY, 1);
        let all = Available::all(2);
        p.acquire(0);
        for _ in 0..100 {
            assert_eq!(p.pick(&all), Some(1));
        }
    }

    #[test]
    fn a_target_without_samples_wins_a_tie() {
        // Target 0 measured, target 1 not: 1 is scored with the mean (0's
        // own latency), and the tie goes to it whichever order is sampled.
        for seed in 0..50 {
            let p = PowerOfTwoChoices::new(&[1, 1], DEFAULT_DECAY, seed);
            p.record_latency(0, 100 * MS);
            assert_eq!(p.pick(&Available::all(2)), Some(1), "seed {seed}");
        }
    }

    #[test]
    fn latency_times_load() {
        let p = PowerOfTwoChoices::new(&[1, 1], DEFAULT_DECAY, 1);
        let all = Available::all(2);
        p.record_latency(0, 10 * MS);
        p.record_latency(1, 100 * MS);
        assert_eq!(p.pick(&all), Some(0)); // 10×1 < 100×1
        for _ in 0..10 {
            p.acquire(0);
        }
        assert_eq!(p.pick(&all), Some(1)); // 10×11 > 100×1
    }

    #[test]
    fn ewma_decays_with_time() {
        let p = PowerOfTwoChoices::new(&[1], Duration::from_secs(10), 1);
        let t0 = Instant::now();
        p.record_latency_at(0, 100 * MS, t0);
        assert_eq!(p.latency(0), Some(100 * MS));
        // After one decay period the old value keeps weight 1/e.
        p.record_latency_at(0, Duration::ZERO, t0 + Duration::from_secs(10));
        let got = p.latency(0).unwrap().as_secs_f64() * 1000.0;
        let want = 100.0 / std::f64::consts::E;
        assert!((got - want).abs() < 0.01, "{got} vs {want}");
        // No time elapsed: the estimate does not move.
        p.record_latency_at(0, 500 * MS, t0 + Duration::from_secs(10));
        assert!((p.latency(0).unwrap().as_secs_f64() * 1000.0 - want).abs() < 0.01);
        // A long silence: the new sample all but replaces the estimate.
        p.record_latency_at(0, 7 * MS, t0 + Duration::from_secs(1000));
        assert_eq!(p.latency(0).unwrap().as_millis(), 7);
    }

    #[test]
    fn zero_decay_keeps_the_last_sample() {
        let p = PowerOfTwoChoices::new(&[1], Duration::ZERO, 1);
        p.record_latency(0, 5 * MS);
        p.record_latency(0, 9 * MS);
        assert_eq!(p.latency(0), Some(9 * MS));
    }

    #[test]
    fn unsampled_target_gets_the_mean_of_the_others() {
        let p = PowerOfTwoChoices::new(&[1, 1, 1], DEFAULT_DECAY, 1);
        p.record_latency(0, 10 * MS);
        p.record_latency(1, 30 * MS);
        let latency = p.latency.lock().unwrap();
        assert_eq!(p.score(&latency, 2), 20e6);
    }

    #[test]
    fn unavailable_and_empty() {
        let p = PowerOfTwoChoices::new(&[1, 1, 1], DEFAULT_DECAY, 1);
        assert_eq!(p.pick(&Available::none(3)), None);
        assert_eq!(p.pick(&Available::from_bools(&[false, true])), Some(1));
        let e = PowerOfTwoChoices::new(&[], DEFAULT_DECAY, 1);
        assert_eq!(e.pick(&Available::all(4)), None);
        let avail = Available::from_bools(&[true, false, true]);
        for _ in 0..200 {
            assert_ne!(p.pick(&avail), Some(1));
        }
        p.record_latency(99, MS); // out of range: ignored
        assert_eq!(p.latency(99), None);
    }

    /// Discrete-event simulation: one request every `gap`, each target
    /// answering in its own fixed latency; picks see the in-flight counts and
    /// the EWMAs built from completed requests. Returns each target's share.
    fn simulate(latencies: &[Duration], gap: Duration, requests: u32) -> Vec<f64> {
        let p = PowerOfTwoChoices::new(&vec![1; latencies.len()], Duration::from_secs(1), 99);
        let all = Available::all(latencies.len());
        let t0 = Instant::now();
        let mut pending: Vec<(Duration, usize, Duration)> = Vec::new(); // (done at, target, rtt)
        let mut counts = vec![0u32; latencies.len()];
        for n in 0..requests {
            let now = gap * n;
            pending.retain(|&(done, t, rtt)| {
                if done <= now {
                    p.release(t);
                    p.record_latency_at(t, rtt, t0 + done);
                    false
                } else {
                    true
                }
            });
            let t = p.pick(&all).unwrap();
            p.acquire(t);
            let rtt = latencies[t];
            pending.push((now + rtt, t, rtt));
            counts[t] += 1;
        }
        counts
            .iter()
            .map(|&c| f64::from(c) * 100.0 / f64::from(requests))
            .collect()
    }

    #[test]
    fn prefers_the_target_10x_faster() {
        let shares = simulate(&[10 * MS, 100 * MS], MS, 20_000);
        eprintln!("p2c 2 targets, 10 ms vs 100 ms, shares (%): {shares:?}");
        assert!(shares[0] > 85.0, "{shares:?}");
    }

    #[test]
    fn one_slow_target_among_four_is_avoided() {
        let shares = simulate(
            &[10 * MS, 10 * MS, 10 * MS, 100 * MS],
            Duration::from_micros(500),
            40_000,
        );
        eprintln!("p2c 4 targets, one 10× slower, shares (%): {shares:?}");
        // Equal shares would be 25 %; the slow target gets far less.
        assert!(shares[3] < 10.0, "{shares:?}");
        for s in &shares[..3] {
            assert!(*s > 28.0, "{shares:?}");
        }
    }
}
