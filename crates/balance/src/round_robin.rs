//! Smooth weighted round robin: weights 5,1,1 give a a b a c a a, interleaved
//! rather than in bursts (the scheme nginx uses).

use std::sync::Mutex;

/// Picks targets in smooth weighted round-robin order.
#[derive(Debug)]
pub struct SmoothRoundRobin {
    weights: Vec<i64>,
    total: i64,
    current: Mutex<Vec<i64>>,
}

impl SmoothRoundRobin {
    /// A picker over targets with these weights (each at least 1).
    pub fn new(weights: &[u32]) -> Self {
        let weights: Vec<i64> = weights.iter().map(|&w| i64::from(w.max(1))).collect();
        let total = weights.iter().sum();
        let current = Mutex::new(vec![0; weights.len()]);
        Self {
            weights,
            total,
            current,
        }
    }

    /// Index of the next target; `None` only for an empty pool.
    pub fn pick(&self) -> Option<usize> {
        match self.weights.len() {
            0 => None,
            1 => Some(0),
            _ => {
                let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
                for (c, w) in current.iter_mut().zip(&self.weights) {
                    *c += w;
                }
                let mut best = 0;
                for i in 1..current.len() {
                    if current[i] > current[best] {
                        best = i;
                    }
                }
                current[best] -= self.total;
                Some(best)
            }
        }
    }
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
    }
}
