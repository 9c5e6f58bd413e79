//! The local store: one table per policy and process, shared by every
//! worker. Keys are spread over [`SHARDS`] shards, each a short
//! `std::sync::Mutex` around a map: a decision takes one shard lock for a
//! few comparisons and never across an await. Memory is bounded: a full
//! shard first drops its idle keys (state back to that of an unseen key,
//! so dropping them changes no decision), and only then the key idle
//! soonest.
//!
//! Keys are hashed with foldhash (seeded per map from the OS), several
//! times cheaper than SipHash on short keys. It is not a keyed PRF, but a
//! flood of colliding keys is bounded all the same: a shard holds at most
//! `max_keys / SHARDS` keys, so the longest probe is that many.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard};

use foldhash::fast::FixedState;

/// Shards per table: enough that workers rarely meet on one lock.
pub(super) const SHARDS: usize = 64;

/// A key's cells (one per limit) and when all of them are idle.
#[derive(Debug)]
struct Entry<C> {
    cells: Vec<C>,
    idle_at: u64,
}

/// One shard: keys and their entries.
type Shard<C> = Mutex<HashMap<Box<str>, Entry<C>, FixedState>>;

/// Counters of one policy, by key; `C` is one limit's state of a key.
#[derive(Debug)]
pub struct Table<C> {
    shards: Box<[Shard<C>]>,
    per_shard: usize,
    hasher: FixedState,
}

impl<C> Table<C> {
    /// A table holding about `max_keys` keys at most.
    pub fn new(max_keys: usize) -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::with_hasher(seeded())))
                .collect(),
            per_shard: max_keys.div_ceil(SHARDS).max(1),
            hasher: seeded(),
        }
    }

    /// Runs `decide` on `key`'s `n` cells (fresh ones from `fresh` for a
    /// new key, or when the number of limits changed) under its shard's
    /// lock. `decide` updates the cells in place only when it admits, and
    /// then returns when the key is idle again: a known key costs no
    /// allocation, and a refused new key is not stored.
    pub fn decide<R>(
        &self,
        key: &str,
        now: u64,
        n: usize,
        fresh: impl Fn() -> Vec<C>,
        decide: impl FnOnce(&mut [C]) -> (R, Option<u64>),
    ) -> R {
        let mut shard = self.shard(key);
        if let Some(entry) = shard.get_mut(key) {
            if entry.cells.len() != n {
                entry.cells = fresh();
            }
            let (out, idle_at) = decide(&mut entry.cells);
            if let Some(idle_at) = idle_at {
                entry.idle_at = idle_at;
            }
            return out;
        }
        let mut cells = fresh();
        let (out, idle_at) = decide(&mut cells);
        if let Some(idle_at) = idle_at {
            if shard.len() >= self.per_shard {
                evict(&mut shard, now, self.per_shard);
            }
            shard.insert(key.into(), Entry { cells, idle_at });
        }
        out
    }

    /// Keys held now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, HashMap<Box<str>, Entry<C>, FixedState>> {
        // The top bits: the maps inside use the low ones.
        let i = (self.hasher.hash_one(key) >> 58) as usize % SHARDS;
        lock(&self.shards[i])
    }
}

/// A foldhash state with a seed from the OS (std's `RandomState` keys
/// are random per process), so keys cannot be chosen to collide.
pub(super) fn seeded() -> FixedState {
    FixedState::with_seed(std::collections::hash_map::RandomState::new().hash_one(0u64))
}

/// A poisoned shard still holds valid counters (every update is one
/// assignment), so it is used as it is.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Makes room in a full shard: idle keys go first, else the one idle soonest.
fn evict<C>(shard: &mut HashMap<Box<str>, Entry<C>, FixedState>, now: u64, max: usize) {
    shard.retain(|_, e| e.idle_at > now);
    if shard.len() < max {
        return;
    }
    let soonest = shard
        .iter()
        .min_by_key(|(_, e)| e.idle_at)
        .map(|(k, _)| k.clone());
    if let Some(k) = soonest {
        shard.remove(&k);
    }
}
