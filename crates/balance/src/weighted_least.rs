//! Weighted least connections: the target with the fewest requests in flight
//! relative to its weight.
//!
//! Score of target i: `(in_flight[i] + 1) / weight[i]`; the lowest score wins.
//! The `+ 1` counts the request being placed, so an idle weight-3 target is
//! preferred over an idle weight-1 one. Scores are compared exactly by cross
//! multiplication in `u128`, with no division or floating point. Targets with
//! equal scores share the work by smooth weighted round robin (as nginx's
//! `least_conn` does), so an idle pool is not always answered by its first
//! target.

use std::sync::{Arc, Mutex};

use crate::round_robin::{smooth_step, weight_i64};
use crate::{Available, InFlight, InFlightGuard};

/// Picks the target with the lowest `(in_flight + 1) / weight`.
#[derive(Debug)]
pub struct WeightedLeastConnections {
    weights: Vec<i64>,
    /// Shared with the [`crate::Balancer`] that owns the picker, so a
    /// picker rebuilt with new weights keeps the counts.
    in_flight: Arc<InFlight>,
    /// Smooth round-robin scores used only to break ties.
    current: Mutex<Vec<i64>>,
}

impl WeightedLeastConnections {
    /// A picker over targets with these weights (0 counts as 1).
    pub fn new(weights: &[u32]) -> Self {
        Self::sharing(weights, Arc::new(InFlight::new(weights.len())))
    }

    /// A picker that reads (and counts into) `in_flight`.
    pub(crate) fn sharing(weights: &[u32], in_flight: Arc<InFlight>) -> Self {
        Self {
            weights: weights.iter().map(|&w| weight_i64(w)).collect(),
            in_flight,
            current: Mutex::new(vec![0; weights.len()]),
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

    /// Index of the least loaded available target; `None` when none is
    /// available. Does not count the request: call [`Self::acquire`] or
    /// [`Self::guard`] when it starts.
    pub fn pick(&self, available: &Available) -> Option<usize> {
        // Lowest score among available targets, as (load, weight).
        let mut min: Option<(u64, i64)> = None;
        let mut first_min = None;
        for (i, &w) in self.weights.iter().enumerate() {
            if !available.contains(i) {
                continue;
            }
            let load = self.load(i);
            if min.is_none_or(|m| less(load, w, m)) {
                min = Some((load, w));
                first_min = Some(i);
            }
        }
        let min = min?;
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        // Loads are re-read: another thread may have moved them meanwhile.
        // If that leaves no tied candidate, the first minimum found still is a
        // good answer.
        smooth_step(&mut current, &self.weights, |i| {
            available.contains(i)
                && self
                    .weights
                    .get(i)
                    .is_some_and(|&w| same(self.load(i), w, min))
        })
        .or(first_min)
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

    fn load(&self, i: usize) -> u64 {
        self.in_flight.get(i).saturating_add(1)
    }
}

/// Whether `load_a / w_a < load_b / w_b`, exactly.
fn less(load_a: u64, w_a: i64, (load_b, w_b): (u64, i64)) -> bool {
    let w_a = u128::from(w_a.unsigned_abs());
    let w_b = u128::from(w_b.unsigned_abs());
    u128::from(load_a) * w_b < u128::from(load_b) * w_a
}

/// Whether `load_a / w_a == load_b / w_b`, exactly.
fn same(load_a: u64, w_a: i64, (load_b, w_b): (u64, i64)) -> bool {
    !less(load_a, w_a, (load_b, w_b)) && !less(load_b, w_b, (load_a, w_a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Rng;

    #[test]
    fn picks_least_loaded() {
        let p = WeightedLeastConnections::new(&[1, 1, 1]);
        let all = Available::all(3);
        p.acquire(0);
        p.acquire(0);
        p.acquire(1);
        assert_eq!(p.pick(&all), Some(2));
        p.acquire(2);
        p.acquire(2);
        assert_eq!(p.pick(&all), Some(1));
    }

    #[test]
    fn weight_scales_the_load() {
        // (4+1)/3 < (2+1)/1: the weight-3 target still wins with more in flight.
        let p = WeightedLeastConnections::new(&[3, 1]);
        for _ in 0..4 {
            p.acquire(0);
        }
        p.acquire(1);
        p.acquire(1);
        assert_eq!(p.pick(&Available::all(2)), Some(0));
    }

    #[test]
    fn ties_rotate_instead_of_always_the_first() {
        let p = WeightedLeastConnections::new(&[1, 1, 1]);
        let all = Available::all(3);
        let order: Vec<usize> = (0..6).map(|_| p.pick(&all).unwrap()).collect();
        assert_eq!(order, vec![0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn ties_are_only_among_the_least_loaded() {
        let p = WeightedLeastConnections::new(&[1, 1, 1]);
        let all = Available::all(3);
        p.acquire(1);
        let order: Vec<usize> = (0..4).map(|_| p.pick(&all).unwrap()).collect();
        assert_eq!(order, vec![0, 2, 0, 2]);
    }

    #[test]
    fn unavailable_targets_are_skipped() {
        let p = WeightedLeastConnections::new(&[1, 1, 1]);
        p.acquire(1);
        p.acquire(2);
        let avail = Available::from_bools(&[false, true, true]);
        assert_eq!(p.pick(&avail).map(|i| i == 1 || i == 2), Some(true));
        assert_eq!(p.pick(&Available::none(3)), None);
        assert_eq!(
            WeightedLeastConnections::new(&[]).pick(&Available::all(2)),
            None
        );
    }

    #[test]
    fn guard_counts_and_releases() {
        let p = WeightedLeastConnections::new(&[1, 1]);
        {
            let _g = p.guard(0);
            assert_eq!(p.in_flight().get(0), 1);
            assert_eq!(p.pick(&Available::all(2)), Some(1));
        }
        assert_eq!(p.in_flight().get(0), 0);
    }

    /// A constant 200 requests in flight; each step one request, chosen at
    /// random, finishes (exponential service times) and a new one is placed.
    #[test]
    fn shares_follow_weights_3_1_1_under_load() {
        let p = WeightedLeastConnections::new(&[3, 1, 1]);
        let all = Available::all(3);
        let rng = Rng::new(0x5eed);
        let mut running: Vec<usize> = Vec::new();
        for _ in 0..200 {
            let t = p.pick(&all).unwrap();
            p.acquire(t);
            running.push(t);
        }
        let mut counts = [0u32; 3];
        let picks = 30_000;
        for _ in 0..picks {
            let done = rng.below(running.len() as u64) as usize;
            let t = running.swap_remove(done);
            p.release(t);
            let t = p.pick(&all).unwrap();
            p.acquire(t);
            running.push(t);
            counts[t] += 1;
        }
        let shares = counts.map(|c| f64::from(c) * 100.0 / f64::from(picks));
        eprintln!("weighted least connections 3:1:1 shares (%): {shares:?}");
        for (s, want) in shares.iter().zip([60.0, 20.0, 20.0]) {
            assert!((s - want).abs() <= 2.0, "{shares:?}");
        }
    }
}
