//! A shared HTTP cache (RFC 9111), independent of the data path: directive
//! parsing (`control`), freshness and reuse (`freshness`), what may be
//! stored (`storable`), keys and Vary (`key`), stored answers and 304
//! updates (`entry`), the byte-bounded store (`store`), request coalescing
//! (`flight`), conditional requests (`conditional`; ranges are
//! [`crate::range`]) and Cache-Status (`status`). The proxy's `cache`
//! policy drives these.

pub mod conditional;
pub mod control;
pub mod entry;
pub mod flight;
pub mod freshness;
pub mod key;
pub mod status;
pub mod storable;
pub mod store;

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName};
use tollgate_config::CachePolicy;

use entry::{Entry, Storing};
use flight::{Flights, Join};
use freshness::Heuristic;
use store::{Lookup, Store};

/// One cache: its settings, its store and the fetches in flight. Shared
/// by every worker and every route that uses the same `cache` definition.
#[derive(Debug)]
pub struct Cache {
    policy: Arc<CachePolicy>,
    /// `policy.targeted_cache_control`, shared with every `Storing`.
    targeted: Arc<[HeaderName]>,
    store: Store,
    flights: Flights,
}

impl Cache {
    /// An empty cache for `policy`.
    pub fn new(policy: Arc<CachePolicy>) -> Self {
        Self {
            targeted: policy.targeted_cache_control.clone().into(),
            store: Store::new(policy.max_size),
            flights: Flights::default(),
            policy,
        }
    }

    /// Its settings.
    pub fn policy(&self) -> &CachePolicy {
        &self.policy
    }

    /// How answers become entries, for a route whose request id field is `id_header`.
    pub fn storing(&self, id_header: &HeaderName) -> Storing {
        Storing {
            heuristic: Heuristic {
                percent: self.policy.heuristic_percent,
                max: self.policy.heuristic_max,
            },
            id_header: id_header.clone(),
            targeted: self.targeted.clone(),
        }
    }

    /// The stored answer for primary key `key` and a request with `headers`.
    pub fn lookup(&self, key: &[u8], headers: &HeaderMap, scratch: &mut Vec<u8>) -> Lookup {
        self.store.lookup(key, headers, scratch)
    }

    /// Stores an entry (see [`Store::insert`]).
    pub fn insert(
        &self,
        key: Box<[u8]>,
        vary: Vec<HeaderName>,
        secondary: Vec<Option<Bytes>>,
        entry: Arc<Entry>,
    ) {
        self.store.insert(key, vary, secondary, entry);
    }

    /// Joins or starts the origin fetch of `key`.
    pub fn join(&self, key: &[u8]) -> Join {
        self.flights.join(key)
    }

    /// Removes everything stored under one primary key (every variant);
    /// whether there was anything. Build keys with [`key::primary_key`].
    pub fn purge_key(&self, key: &[u8]) -> bool {
        self.store.remove(key)
    }

    /// Removes every entry whose primary key starts with `prefix` (e.g.
    /// `https://example.com/images/`, see [`key::url_prefix`]); how many.
    pub fn purge_prefix(&self, prefix: &[u8]) -> usize {
        self.store.remove_prefix(prefix)
    }

    /// Primary keys stored.
    pub fn len(&self) -> u64 {
        self.store.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    /// Bytes the store accounts for.
    pub fn size(&self) -> u64 {
        self.store.weight()
    }
}
