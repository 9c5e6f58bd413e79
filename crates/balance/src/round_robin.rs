//! Smooth weighted round robin: weights 5,1,1 give a a b a c a a, interleaved
//! rather than in bursts (the scheme nginx uses).
//!
//! Each pick adds every candidate's weight to its running score, takes the
//! highest score and subtracts the candidates' total weight from it. Only
//! available targets are candidates, so the order stays smooth among them and
//! an unavailable target keeps its score until it returns.

use std::sync::Mutex;

use crate::{effective_weight, Available};

/// Picks targets in smooth weighted round-robin order.
#[derive(Debug)]
pub struct SmoothRoundRobin {
    weights: Vec<i64>,
    current: Mutex<Vec<i64>>,
}

impl SmoothRoundRobin {
    /// A picker over targets with these weights (0 counts as 1).
    pub fn new(weights: &[u32]) -> Self {
        Self {
            weights: weights.iter().map(|&w| weight_i64(w)).collect(),
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

    /// Index of the next target, all targets available; `None` only for an
    /// empty pool.
    pub fn pick(&self) -> Option<usize> {
        match self.weights.len() {
            0 => None,
            1 => Some(0),
            _ => {
                let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
                smooth_step(&mut current, &self.weights, |_| true)
            }
        }
    }

    /// Index of the next available target; `None` when none is available.
    pub fn pick_available(&self, available: &Available) -> Option<usize> {
        match self.weights.len() {
            0 => None,
            1 => available.contains(0).then_some(0),
            _ => {
                let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
                smooth_step(&mut current, &self.weights, |i| available.contains(i))
            }
        }
    }
}

/// A weight as the signed value smooth round robin works with.
pub(crate) fn weight_i64(w: u32) -> i64 {
    // u32 always fits in i64; the fallback is never taken.
    i64::try_from(effective_weight(w)).unwrap_or(i64::MAX)
}

/// One smooth round-robin step among the targets for which `candidate` holds;
/// the first of equal scores wins. `None` when there is no candidate.
pub(crate) fn smooth_step(
    current: &mut [i64],
    weights: &[i64],
    mut candidate: impl FnMut(usize) -> bool,
) -> Option<usize> {
    let mut total: i64 = 0;
    let mut best: Option<(usize, i64)> = None;
    for (i, (c, &w)) in current.iter_mut().zip(weights).enumerate() {
        if !candidate(i) {
            continue;
        }
        *c = c.saturating_add(w);
        total = total.saturating_add(w);
        if best.is_none_or(|(_, b)| *c > b) {
            best = Some((i, *c));
        }
    }
    let (i, _) = best?;
    if let Some(c) = current.get_mut(i) {
        *c = c.saturating_sub(total);
    }
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_interleaved() {
        let rr = SmoothRoundRobin::new(&[5, 1, 1]);
        let order: Vec<usize> = (0..7).map(|_| rr.pick().unwrap()).collect();
        assert_eq!(order, vec![0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn equal_weights_rotate() {
        let rr = SmoothRoundRobin::new(&[1, 1, 1]);
        let order: Vec<usize> = (0..6).map(|_| rr.pick().unwrap()).collect();
        assert_eq!(order, vec![0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn empty_pool_has_no_pick() {
        assert_eq!(SmoothRoundRobin::new(&[]).pick(), None);
        assert_eq!(
            SmoothRoundRobin::new(&[]).pick_available(&Available::all(3)),
            None
        );
    }

    #[test]
    fn zero_weight_counts_as_one() {
        let rr = SmoothRoundRobin::new(&[0, 1]);
        let order: Vec<usize> = (0..4).map(|_| rr.pick().unwrap()).collect();
        assert_eq!(order, vec![0, 1, 0, 1]);
    }

    #[test]
    fn unavailable_targets_are_skipped_and_order_stays_smooth() {
        let rr = SmoothRoundRobin::new(&[5, 1, 1, 1]);
        let avail = Available::from_bools(&[true, false, true, true]);
        let order: Vec<usize> = (0..8).map(|_| rr.pick_available(&avail).unwrap()).collect();
        // 5:1:1 among targets 0, 2, 3, interleaved like the unfiltered case.
        assert_eq!(order, vec![0, 0, 2, 0, 3, 0, 0, 0]);
    }

    #[test]
    fn none_available_gives_none() {
        let rr = SmoothRoundRobin::new(&[1, 2]);
        assert_eq!(rr.pick_available(&Available::none(2)), None);
        assert_eq!(rr.pick_available(&Available::all(0)), None);
        let single = SmoothRoundRobin::new(&[3]);
        assert_eq!(single.pick_available(&Available::none(1)), None);
        assert_eq!(single.pick_available(&Available::all(1)), Some(0));
    }

    #[test]
    fn shares_follow_weights_3_1_1() {
        let rr = SmoothRoundRobin::new(&[3, 1, 1]);
        let mut counts = [0u32; 3];
        for _ in 0..10_000 {
            counts[rr.pick().unwrap()] += 1;
        }
        let shares = counts.map(|c| f64::from(c) / 100.0);
        eprintln!("round robin 3:1:1 shares (%): {shares:?}");
        for (s, want) in shares.iter().zip([60.0, 20.0, 20.0]) {
            assert!((s - want).abs() <= 2.0, "{shares:?}");
        }
    }
}
