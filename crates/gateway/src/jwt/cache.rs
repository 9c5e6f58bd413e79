//! The verified-token cache: a token a client sends again skips the
//! signature check. It sits on every request of a `jwt` route, so a hit
//! must cost little (well under a microsecond):
//!
//! - The lookup key is a SipHash, with a random key chosen when the cache
//!   is built, of the token's last bytes (the end of its signature: for a
//!   valid token, random-looking bytes a client cannot choose). Hashing the
//!   whole ~700 B token with SHA-256 cost ~1 µs a request.
//! - A hit is only a hit when the whole token equals the stored one
//!   (compared without an early exit), so two tokens sharing a hash can
//!   never share an entry's claims; such tokens simply replace each other.
//! - Entries live in shards behind plain mutexes (a worker holds one for a
//!   map lookup), each bounded; when one is full its oldest entry goes
//!   (first in, first out: no per-hit bookkeeping, and 50,000 distinct
//!   tokens in turn cost one removal per insertion, nothing more).
//! - An entry is kept at most an hour ([`MAX_AGE`]); its token's own `exp`
//!   and `nbf` are checked by the caller on every hit.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::{Arc, Mutex};

use super::Verified;
use crate::ct::same;

/// Longest an entry is kept, whatever its token's `exp`.
pub const MAX_AGE: u64 = 3600;

/// How many token bytes, from the end, the lookup key hashes.
const HASHED_TAIL: usize = 48;

/// Most shards (each worker thread locks one per lookup).
const MAX_SHARDS: usize = 16;

/// A bounded map from token to its verification.
pub struct TokenCache {
    keys: RandomState,
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("shards", &self.shards.len())
            .field("per_shard", &self.per_shard)
            .finish()
    }
}

#[derive(Default)]
struct Shard {
    map: HashMap<u64, Entry, BuildHasherDefault<Spread>>,
    /// Insertion order: (key, sequence number of the entry inserted).
    order: VecDeque<(u64, u64)>,
    next_seq: u64,
}

struct Entry {
    token: Box<str>,
    verified: Arc<Verified>,
    /// Unix seconds when stored.
    stored: u64,
    seq: u64,
}

impl TokenCache {
    /// A cache of at most `capacity` tokens (at least one).
    pub fn new(capacity: u64) -> Self {
        let capacity = usize::try_from(capacity).unwrap_or(usize::MAX).max(1);
        let shards = capacity.min(MAX_SHARDS);
        Self {
            keys: RandomState::new(),
            shards: (0..shards).map(|_| Mutex::default()).collect(),
            // Never more than asked for in all (`shards` <= `capacity`).
            per_shard: capacity / shards,
        }
    }

    fn key(&self, token: &str) -> u64 {
        let b = token.as_bytes();
        self.keys
            .hash_one(&b[b.len().saturating_sub(HASHED_TAIL)..])
    }

    fn shard(&self, key: u64) -> &Mutex<Shard> {
        // The high bits pick the shard; the map uses all of them.
        let i = ((key >> 32) as usize) % self.shards.len();
        &self.shards[i]
    }

    /// The verification stored for `token`, if not older than [`MAX_AGE`]
    /// at `now` (Unix seconds).
    pub fn get(&self, token: &str, now: u64) -> Option<Arc<Verified>> {
        let key = self.key(token);
        let mut shard = lock(self.shard(key));
        let e = shard.map.get(&key)?;
        if !same(e.token.as_bytes(), token.as_bytes()) {
            return None;
        }
        if now.saturating_sub(e.stored) >= MAX_AGE {
            shard.map.remove(&key);
            return None;
        }
        Some(e.verified.clone())
    }

    /// Forgets `token` (its entry no longer serves).
    pub fn remove(&self, token: &str) {
        let key = self.key(token);
        let mut shard = lock(self.shard(key));
        if shard
            .map
            .get(&key)
            .is_some_and(|e| same(e.token.as_bytes(), token.as_bytes()))
        {
            shard.map.remove(&key);
        }
    }

    /// Stores `verified` for `token` at `now`; a full shard drops its
    /// oldest entry first.
    pub fn insert(&self, token: &str, verified: Arc<Verified>, now: u64) {
        let key = self.key(token);
        let mut guard = lock(self.shard(key));
        let shard = &mut *guard;
        if !shard.map.contains_key(&key) {
            while shard.map.len() >= self.per_shard {
                let Some((old, seq)) = shard.order.pop_front() else {
                    break;
                };
                if shard.map.get(&old).is_some_and(|e| e.seq == seq) {
                    shard.map.remove(&old);
                }
            }
        }
        let seq = shard.next_seq;
        shard.next_seq += 1;
        shard.map.insert(
            key,
            Entry {
                token: token.into(),
                verified,
                stored: now,
                seq,
            },
        );
        shard.order.push_back((key, seq));
        // Replaced and removed entries leave stale places in the order;
        // drop them before they outnumber the live ones.
        if shard.order.len() > 2 * self.per_shard + 16 {
            let map = &shard.map;
            shard
                .order
                .retain(|(k, s)| map.get(k).is_some_and(|e| e.seq == *s));
        }
    }

    /// How many tokens are stored.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).map.len()).sum()
    }

    /// Whether no token is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn lock(m: &Mutex<Shard>) -> std::sync::MutexGuard<'_, Shard> {
    // A panic while holding the lock leaves a consistent map (every
    // change is one call); keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The map's hasher: its keys already are keyed hashes, so they are
/// used as they are (no second hash per lookup).
#[derive(Default)]
struct Spread(u64);

impl Hasher for Spread {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed; anything else still spreads.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
