//! Targets the operator drained through the admin API: no new request,
//! relayed connection or UDP session picks them; what is in flight
//! finishes. One set per upstream in the `Snapshot`; the running server
//! keeps the drains by upstream name and target address and writes them
//! into every new snapshot, so they survive reloads until cleared.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use tollgate_balance::Available;

/// The drained targets of one upstream (indices); empty costs one atomic
/// load per pick.
#[derive(Debug, Default)]
pub(crate) struct Drained {
    targets: ArcSwapOption<Vec<usize>>,
}

impl Drained {
    /// Replaces the drained targets.
    pub(crate) fn set(&self, targets: Vec<usize>) {
        self.targets
            .store((!targets.is_empty()).then(|| Arc::new(targets)));
    }

    /// `available` without the drained targets, or `None` when nothing is
    /// drained (the caller keeps its set, nothing is copied).
    pub(crate) fn exclude(&self, available: &Available) -> Option<Available> {
        let guard = self.targets.load();
        let drained = guard.as_ref()?;
        let mut set = available.clone();
        for &t in drained.iter() {
            set.set(t, false);
        }
        Some(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drained_targets_leave_the_set_until_cleared() {
        let d = Drained::default();
        let all = Available::all(3);
        assert_eq!(d.exclude(&all), None);
        d.set(vec![1]);
        let set = d.exclude(&all).unwrap();
        assert!(set.contains(0) && !set.contains(1) && set.contains(2));
        d.set(Vec::new());
        assert_eq!(d.exclude(&all), None);
    }
}
