//! `concurrency_limit`: requests in flight at once per key. A [`Permit`]
//! counts one request until it is dropped; the proxy holds it until the
//! answer's body ends (or the request fails). Keys live only while a
//! request holds them, so memory is bounded by the requests in flight.
//! Sharded like the rate table: one short lock per acquire or release.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard};

use tollgate_config::ConcurrencyLimit;

const SHARDS: usize = 64;

/// One shard: keys and their in-flight counts.
type Shard = Mutex<HashMap<Box<str>, u64>>;

/// In-flight counts of one `concurrency_limit` policy, by key.
#[derive(Debug)]
pub struct InFlight {
    policy: Arc<ConcurrencyLimit>,
    shards: Box<[Shard]>,
    hasher: RandomState,
}

/// One request counted in flight under a key, until dropped.
#[derive(Debug)]
pub struct Permit {
    table: Arc<InFlight>,
    key: Box<str>,
}

impl InFlight {
    /// An empty table for `policy`.
    pub fn new(policy: Arc<ConcurrencyLimit>) -> Self {
        Self {
            policy,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
        }
    }

    /// The policy it enforces.
    pub fn policy(&self) -> &Arc<ConcurrencyLimit> {
        &self.policy
    }

    /// A permit for one more request under `key`, or `None` when `max`
    /// are already in flight.
    pub fn acquire(self: &Arc<Self>, key: &str) -> Option<Permit> {
        let mut shard = self.shard(key);
        let count = shard.entry(key.into()).or_insert(0);
        if *count >= self.policy.max {
            return None;
        }
        *count += 1;
        Some(Permit {
            table: Arc::clone(self),
            key: key.into(),
        })
    }

    /// Requests in flight under `key` now.
    pub fn count(&self, key: &str) -> u64 {
        self.shard(key).get(key).copied().unwrap_or(0)
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, HashMap<Box<str>, u64>> {
        let i = (self.hasher.hash_one(key) % SHARDS as u64) as usize;
        // A poisoned shard's counts are still whole numbers: use them.
        self.shards[i]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut shard = self.table.shard(&self.key);
        if let Some(count) = shard.get_mut(&*self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                shard.remove(&*self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_config::LimitKey;

    fn table(max: u64) -> Arc<InFlight> {
        Arc::new(InFlight::new(Arc::new(ConcurrencyLimit {
            name: "c".into(),
            max,
            key: LimitKey::ClientIp,
        })))
    }

    #[test]
    fn permits_count_until_dropped_and_keys_are_separate() {
        let t = table(2);
        let a = t.acquire("a").unwrap();
        let b = t.acquire("a").unwrap();
        assert!(t.acquire("a").is_none());
        assert!(t.acquire("other").is_some());
        drop(a);
        assert_eq!(t.count("a"), 1);
        let c = t.acquire("a").unwrap();
        drop((b, c));
        // No key is kept once nothing is in flight.
        assert_eq!(
            t.shards
                .iter()
                .map(|s| s.lock().unwrap().len())
                .sum::<usize>(),
            0
        );
    }

    #[test]
    fn exact_with_many_threads() {
        let t = table(5);
        let held = Arc::new(Mutex::new(Vec::new()));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (t, held) = (Arc::clone(&t), Arc::clone(&held));
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        if let Some(p) = t.acquire("k") {
                            held.lock().unwrap().push(p);
                        }
                    }
                })
            })
            .collect();
        for th in threads {
            th.join().unwrap();
        }
        assert_eq!(held.lock().unwrap().len(), 5);
        assert_eq!(t.count("k"), 5);
        held.lock().unwrap().clear();
        assert_eq!(t.count("k"), 0);
    }
}
