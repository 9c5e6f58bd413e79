//! The verified-key cache of the consumer directory: an API key a client
//! sends again skips its SHA-256 (~1 µs on a CPU without SHA extensions,
//! on every request of a `key_auth` route).
//!
//! - Only keys whose digest the directory holds are stored, so the cache
//!   can never hold more than the configured keys: its table is sized for
//!   them when the directory is built and never grows or evicts. A flood of
//!   wrong keys stores nothing and costs what it cost before (a SHA-256).
//! - A slot is found by a SipHash of the presented key with a random key
//!   chosen when the directory is built (a client cannot aim at a slot);
//!   a hit is only a hit when the whole presented key equals the stored
//!   one, compared without an early exit, so two keys sharing a hash can
//!   never share a consumer.
//! - Slots are filled once and then only read (`OnceLock`): a hit takes no
//!   lock. A reload builds a new directory, so a key removed from the file
//!   is forgotten with the old one.
//! - The stored keys never leave the process: `Debug` prints counts only.

use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, OnceLock};

use crate::ct::same;
use crate::Consumer;

/// Most slots probed from a key's own (a bound on the work of a lookup).
const MAX_PROBES: usize = 8;

/// Keys longer than this are not cached (looked up by digest each time):
/// they are rare, and the comparison's cost grows with the length.
const MAX_CACHED_LEN: usize = 256;

/// A presented key known to be valid, and its consumer.
struct Verified {
    key: Box<[u8]>,
    consumer: Arc<Consumer>,
}

/// Presented API keys already verified against the directory's digests.
pub(crate) struct KeyCache {
    hasher: RandomState,
    slots: Box<[OnceLock<Verified>]>,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the keys.
        let filled = self.slots.iter().filter(|s| s.get().is_some()).count();
        f.debug_struct("KeyCache")
            .field("slots", &self.slots.len())
            .field("filled", &filled)
            .finish()
    }
}

impl Default for KeyCache {
    fn default() -> Self {
        Self::new(0)
    }
}

impl KeyCache {
    /// A cache for `keys` configured keys (twice as many slots, so probe
    /// sequences stay short; none when no key is configured).
    pub(crate) fn new(keys: usize) -> Self {
        let n = if keys == 0 {
            0
        } else {
            (keys * 2).next_power_of_two()
        };
        Self {
            hasher: RandomState::new(),
            slots: (0..n).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The slots `key` may be in, its own first.
    fn probe(&self, key: &[u8]) -> impl Iterator<Item = &OnceLock<Verified>> {
        let n = self.slots.len();
        let start = if n == 0 {
            0
        } else {
            // `n` is a power of two: the low bits pick the slot.
            (self.hasher.hash_one(key) as usize) & (n - 1)
        };
        (0..n.min(MAX_PROBES)).map(move |i| &self.slots[(start + i) & (n - 1)])
    }

    /// The consumer of `key` if it was verified before.
    pub(crate) fn get(&self, key: &[u8]) -> Option<&Arc<Consumer>> {
        if key.len() > MAX_CACHED_LEN {
            return None;
        }
        for slot in self.probe(key) {
            // Slots fill from a key's own on: an empty one ends the search.
            let v = slot.get()?;
            if same(&v.key, key) {
                return Some(&v.consumer);
            }
        }
        None
    }

    /// Remembers that `key` (verified by its digest) is `consumer`'s. A
    /// full probe sequence leaves it uncached (still valid, looked up by
    /// digest each time).
    pub(crate) fn insert(&self, key: &[u8], consumer: &Arc<Consumer>) {
        if key.len() > MAX_CACHED_LEN {
            return;
        }
        for slot in self.probe(key) {
            let mut fresh = Some(Verified {
                key: key.into(),
                consumer: consumer.clone(),
            });
            let stored = slot.get_or_init(|| fresh.take().expect("initialised once"));
            // Stored now, or by another worker that verified the same key.
            if fresh.is_none() || same(&stored.key, key) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consumer(name: &str) -> Arc<Consumer> {
        Arc::new(Consumer::new(tollgate_config::Consumer {
            name: name.into(),
            ..Default::default()
        }))
    }

    #[test]
    fn hits_need_the_whole_key_and_the_table_stays_bounded() {
        let cache = KeyCache::new(2);
        assert_eq!(cache.slots.len(), 4);
        let (a, b) = (consumer("a"), consumer("b"));
        assert!(cache.get(b"key-a").is_none());
        cache.insert(b"key-a", &a);
        cache.insert(b"key-a", &a);
        cache.insert(b"key-b", &b);
        assert_eq!(cache.get(b"key-a").unwrap().name(), "a");
        assert_eq!(cache.get(b"key-b").unwrap().name(), "b");
        // A prefix, an extension and a one-byte change are all misses.
        for wrong in [&b"key-"[..], b"key-aa", b"key-c", b""] {
            assert!(cache.get(wrong).is_none(), "{wrong:?}");
        }
        // More keys than slots: each lands or is left out, never overwrites.
        for i in 0..20 {
            cache.insert(format!("extra-{i}").as_bytes(), &b);
        }
        let filled = cache.slots.iter().filter(|s| s.get().is_some()).count();
        assert_eq!(filled, 4);
        assert_eq!(cache.get(b"key-a").unwrap().name(), "a");
        assert!(!format!("{cache:?}").contains("key-a"));
    }

    #[test]
    fn an_empty_or_long_key_is_never_cached() {
        let none = KeyCache::new(0);
        none.insert(b"k", &consumer("a"));
        assert!(none.get(b"k").is_none());
        let cache = KeyCache::new(1);
        let long = vec![b'k'; MAX_CACHED_LEN + 1];
        cache.insert(&long, &consumer("a"));
        assert!(cache.get(&long).is_none());
    }
}
