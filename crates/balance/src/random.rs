//! Weighted random: each pick independent, target i chosen with probability
//! `weight[i] / Σ available weights`.

use crate::hash::Rng;
use crate::{effective_weight, Available};

/// Picks available targets at random in proportion to their weights.
#[derive(Debug)]
pub struct WeightedRandom {
    weights: Vec<u64>,
    rng: Rng,
}

impl WeightedRandom {
    /// A picker over targets with these weights (0 counts as 1), with random
    /// draws fixed by `seed` (give each picker its own).
    pub fn new(weights: &[u32], seed: u64) -> Self {
        Self {
            weights: weights.iter().map(|&w| effective_weight(w)).collect(),
            rng: Rng::new(seed),
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

    /// A random available target; `None` when none is available.
    pub fn pick(&self, available: &Available) -> Option<usize> {
        let total = self
            .available_weights(available)
            .fold(0u64, |s, (_, w)| s.saturating_add(w));
        if total == 0 {
            return None;
        }
        let mut x = self.rng.below(total);
        let mut last = None;
        for (i, w) in self.available_weights(available) {
            if x < w {
                return Some(i);
            }
            x -= w;
            last = Some(i);
        }
        last // only reached if the total saturated
    }

    fn available_weights<'a>(
        &'a self,
        available: &'a Available,
    ) -> impl Iterator<Item = (usize, u64)> + 'a {
        self.weights
            .iter()
            .enumerate()
            .filter(|&(i, _)| available.contains(i))
            .map(|(i, &w)| (i, w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_follow_weights_3_1_1() {
        let p = WeightedRandom::new(&[3, 1, 1], 2024);
        let all = Available::all(3);
        let mut counts = [0u32; 3];
        for _ in 0..10_000 {
            counts[p.pick(&all).unwrap()] += 1;
        }
        let shares = counts.map(|c| f64::from(c) / 100.0);
        eprintln!("weighted random 3:1:1 shares (%): {shares:?}");
        for (s, want) in shares.iter().zip([60.0, 20.0, 20.0]) {
            assert!((s - want).abs() <= 3.0, "{shares:?}");
        }
    }

    #[test]
    fn same_seed_same_sequence() {
        let a = WeightedRandom::new(&[1, 2, 3], 5);
        let b = WeightedRandom::new(&[1, 2, 3], 5);
        let all = Available::all(3);
        for _ in 0..100 {
            assert_eq!(a.pick(&all), b.pick(&all));
        }
    }

    #[test]
    fn unavailable_targets_get_nothing() {
        let p = WeightedRandom::new(&[5, 1, 1], 3);
        let avail = Available::from_bools(&[false, true, true]);
        let mut counts = [0u32; 3];
        for _ in 0..2_000 {
            counts[p.pick(&avail).unwrap()] += 1;
        }
        assert_eq!(counts[0], 0);
        assert!(counts[1] > 800 && counts[2] > 800, "{counts:?}");
        assert_eq!(p.pick(&Available::none(3)), None);
        assert_eq!(WeightedRandom::new(&[], 3).pick(&Available::all(3)), None);
    }
}
