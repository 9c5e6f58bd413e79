//! Target weights set by an operator through the admin API. Like drains,
//! they are kept by upstream name and target address and written into the
//! balancers of every new snapshot, so they survive reloads until cleared;
//! a target a reload removed keeps its entry and gets it back if it returns.

use super::RunningServer;
use crate::Snapshot;

/// One override: upstream name, target address, weight.
pub(super) type WeightOverride = (String, String, u32);

impl RunningServer {
    /// Gives the target `address` of upstream `upstream` the weight
    /// `weight` (`Some`, 1 to 1000 as in the file) or its configured one
    /// again (`None`), without a reload.
    pub fn set_weight(
        &self,
        upstream: &str,
        address: &str,
        weight: Option<u32>,
    ) -> Result<(), String> {
        if let Some(w) = weight.filter(|w| !(1..=1000).contains(w)) {
            return Err(format!("weight {w} is out of range: give 1 to 1000"));
        }
        self.known_target(upstream, address)?;
        {
            let mut list = self.weights.lock().unwrap_or_else(|p| p.into_inner());
            list.retain(|(n, a, _)| !(n == upstream && a == address));
            if let Some(w) = weight {
                list.push((upstream.to_string(), address.to_string(), w));
            }
        }
        self.apply_weights(&self.snapshot.load_full());
        Ok(())
    }

    /// The weights set through [`Self::set_weight`] and not cleared:
    /// (upstream name, target address, weight).
    pub fn weight_overrides(&self) -> Vec<(String, String, u32)> {
        self.weights
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Writes the overrides into `snapshot`'s balancers: an upstream with
    /// none picks with its configured weights.
    pub(super) fn apply_weights(&self, snapshot: &Snapshot) {
        let list = self.weights.lock().unwrap_or_else(|p| p.into_inner());
        for (u, upstream) in snapshot.config.upstreams.iter().enumerate() {
            let mut any = false;
            let weights: Vec<u32> = upstream
                .targets
                .iter()
                .map(|t| {
                    let set = list
                        .iter()
                        .find(|(n, a, _)| *n == upstream.name && *a == t.address);
                    any |= set.is_some();
                    set.map_or(t.weight, |(_, _, w)| *w)
                })
                .collect();
            if let Some(b) = snapshot.balancers.get(u) {
                b.set_weights(any.then_some(weights.as_slice()));
            }
        }
    }
}
