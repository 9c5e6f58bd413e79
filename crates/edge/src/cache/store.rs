//! The memory store: primary key → the variants stored under it, bounded in
//! bytes (moka with a weigher: an entry weighs its body, fields and keys).

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName};
use moka::ops::compute::Op;

use super::entry::Entry;
use super::key::secondary_matches;

/// Most variants kept under one primary key; the oldest goes first.
const MAX_VARIANTS: usize = 16;

/// What is stored under one primary key: the Vary fields of its answers
/// and one entry per secondary key.
#[derive(Debug)]
pub struct Slot {
    /// The request fields that select a variant (empty: one variant).
    pub vary: Vec<HeaderName>,
    /// The variants, newest last.
    pub variants: Vec<(Vec<Option<Bytes>>, Arc<Entry>)>,
    weight: u32,
}

impl Slot {
    fn new(vary: Vec<HeaderName>, variants: Vec<(Vec<Option<Bytes>>, Arc<Entry>)>) -> Self {
        let weight: usize = variants
            .iter()
            .map(|(k, e)| e.weight() + k.iter().flatten().map(Bytes::len).sum::<usize>())
            .sum();
        Self {
            vary,
            variants,
            weight: u32::try_from(weight).unwrap_or(u32::MAX),
        }
    }
}

/// The result of a lookup.
#[derive(Debug)]
pub enum Lookup {
    /// A stored answer for this request.
    Found(Arc<Entry>),
    /// Answers are stored for the URL, none for this request's Vary fields.
    VaryMiss,
    /// Nothing stored for the URL.
    Miss,
}

/// The weight of a slot under its key: bytes, saturating at the weigher's limit.
// The weigher's signature is moka's.
#[allow(clippy::borrowed_box)]
fn weigh(key: &Box<[u8]>, slot: &Arc<Slot>) -> u32 {
    slot.weight
        .saturating_add(u32::try_from(key.len()).unwrap_or(u32::MAX))
}

/// A byte-bounded map of primary keys to slots.
pub struct Store {
    map: moka::sync::Cache<Box<[u8]>, Arc<Slot>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("entries", &self.map.entry_count())
            .field("bytes", &self.map.weighted_size())
            .finish()
    }
}

impl Store {
    /// A store holding at most `max_bytes`.
    pub fn new(max_bytes: u64) -> Self {
        let map = moka::sync::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(weigh)
            .build();
        Self { map }
    }

    /// The stored answer for `key` whose Vary fields match `headers`.
    /// `scratch` is a reusable buffer.
    pub fn lookup(&self, key: &[u8], headers: &HeaderMap, scratch: &mut Vec<u8>) -> Lookup {
        let Some(slot) = self.map.get(key) else {
            return Lookup::Miss;
        };
        if slot.vary.is_empty() {
            return match slot.variants.last() {
                Some((_, e)) => Lookup::Found(e.clone()),
                None => Lookup::Miss,
            };
        }
        // Newest first: a newer variant for the same fields wins.
        slot.variants
            .iter()
            .rev()
            .find(|(secondary, _)| secondary_matches(headers, &slot.vary, secondary, scratch))
            .map_or(Lookup::VaryMiss, |(_, e)| Lookup::Found(e.clone()))
    }

    /// Stores `entry` under `key` for the secondary key `secondary` of the
    /// Vary fields `vary`. Other variants stay when the Vary fields are the
    /// same; a different Vary replaces them all.
    pub fn insert(
        &self,
        key: Box<[u8]>,
        vary: Vec<HeaderName>,
        secondary: Vec<Option<Bytes>>,
        entry: Arc<Entry>,
    ) {
        self.map.entry(key).and_compute_with(|current| {
            let mut variants = Vec::new();
            if let Some(current) = current {
                let slot = current.into_value();
                if slot.vary == vary {
                    variants.extend(
                        slot.variants
                            .iter()
                            .filter(|(k, _)| *k != secondary)
                            .cloned(),
                    );
                }
            }
            if variants.len() >= MAX_VARIANTS {
                variants.remove(0);
            }
            variants.push((secondary, entry));
            Op::Put(Arc::new(Slot::new(vary, variants)))
        });
    }

    /// Removes every variant stored under `key`; whether there was any.
    pub fn remove(&self, key: &[u8]) -> bool {
        self.map.remove(key).is_some()
    }

    /// Removes every key starting with `prefix`; how many. Walks the whole
    /// store: purges are rare, lookups are not, so nothing is indexed for them.
    pub fn remove_prefix(&self, prefix: &[u8]) -> usize {
        let keys: Vec<Arc<Box<[u8]>>> = self
            .map
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k)
            .collect();
        keys.iter()
            .filter(|k| self.map.remove(&***k).is_some())
            .count()
    }

    /// Entries (primary keys) stored.
    pub fn len(&self) -> u64 {
        self.map.run_pending_tasks();
        self.map.entry_count()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes accounted for.
    pub fn weight(&self) -> u64 {
        self.map.run_pending_tasks();
        self.map.weighted_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::control::ResponseDirectives;
    use crate::cache::entry::Storing;
    use crate::cache::freshness::Heuristic;
    use crate::cache::key::secondary_key;
    use http::{HeaderValue, StatusCode};
    use std::time::{Duration, SystemTime};

    fn entry(body: &'static str) -> Arc<Entry> {
        let storing = Storing {
            heuristic: Heuristic {
                percent: 10,
                max: Duration::from_secs(60),
            },
            id_header: HeaderName::from_static("x-request-id"),
            targeted: std::sync::Arc::from([]),
        };
        let now = SystemTime::now();
        Arc::new(
            Entry::new(
                StatusCode::OK,
                &HeaderMap::new(),
                &ResponseDirectives::default(),
                now,
                now,
                &storing,
            )
            .with_body(Bytes::from_static(body.as_bytes())),
        )
    }

    fn body(l: Lookup) -> String {
        match l {
            Lookup::Found(e) => String::from_utf8(e.body.to_vec()).unwrap(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn variants_by_vary_fields() {
        let store = Store::new(1 << 20);
        let ae = HeaderName::from_static("accept-encoding");
        let mut gzip = HeaderMap::new();
        gzip.insert(&ae, HeaderValue::from_static("gzip"));
        let plain = HeaderMap::new();
        let mut scratch = Vec::new();
        let key: Box<[u8]> = b"http://a/x".as_slice().into();
        store.insert(
            key.clone(),
            vec![ae.clone()],
            secondary_key(&gzip, std::slice::from_ref(&ae)),
            entry("gz"),
        );
        assert_eq!(body(store.lookup(b"http://a/x", &gzip, &mut scratch)), "gz");
        assert_eq!(
            body(store.lookup(b"http://a/x", &plain, &mut scratch)),
            "VaryMiss"
        );
        store.insert(
            key.clone(),
            vec![ae.clone()],
            secondary_key(&plain, std::slice::from_ref(&ae)),
            entry("id"),
        );
        assert_eq!(body(store.lookup(b"http://a/x", &gzip, &mut scratch)), "gz");
        assert_eq!(
            body(store.lookup(b"http://a/x", &plain, &mut scratch)),
            "id"
        );
        // A different Vary replaces every variant.
        store.insert(key.clone(), Vec::new(), Vec::new(), entry("one"));
        assert_eq!(
            body(store.lookup(b"http://a/x", &gzip, &mut scratch)),
            "one"
        );
        assert_eq!(
            body(store.lookup(b"http://a/y", &gzip, &mut scratch)),
            "Miss"
        );
    }

    #[test]
    fn remove_by_key_and_prefix() {
        let store = Store::new(1 << 20);
        for k in [
            "http://a/img/1",
            "http://a/img/2?x",
            "http://a/imgs",
            "http://b/img/1",
        ] {
            store.insert(k.as_bytes().into(), Vec::new(), Vec::new(), entry("x"));
        }
        assert_eq!(store.remove_prefix(b"http://a/img/"), 2);
        assert!(store.remove(b"http://a/imgs"));
        assert!(!store.remove(b"http://a/imgs"));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn bounded_in_bytes() {
        let store = Store::new(64 * 1024);
        let big: &'static str = Box::leak("x".repeat(10_000).into_boxed_str());
        for i in 0..50 {
            store.insert(
                format!("http://a/{i}").into_bytes().into(),
                Vec::new(),
                Vec::new(),
                entry(big),
            );
        }
        assert!(store.weight() <= 64 * 1024, "{}", store.weight());
        assert!(store.len() < 50);
    }
}
