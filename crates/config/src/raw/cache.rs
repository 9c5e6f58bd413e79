//! The `cache` policy as written.

use serde::Deserialize;

use super::{List, Sp, Text};

/// `cache:` in a policy list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCache {
    pub(crate) max_size: Text,
    pub(crate) max_object_size: Text,
    pub(crate) key: Option<Sp<RawCacheKey>>,
    pub(crate) heuristic: Option<Sp<RawHeuristic>>,
    pub(crate) store_set_cookie: Text,
    pub(crate) lock_timeout: Text,
    pub(crate) targeted_cache_control: List<String>,
    pub(crate) purge: Option<Sp<RawPurge>>,
}

/// `cache.key:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCacheKey {
    pub(crate) query: Option<Sp<RawQueryKey>>,
    pub(crate) headers: List<String>,
    pub(crate) cookies: List<String>,
}

/// `cache.key.query: all | none | {include: [..]} | {exclude: [..]}`
#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawQueryKey {
    All,
    None,
    Include(Sp<Vec<Sp<String>>>),
    Exclude(Sp<Vec<Sp<String>>>),
}

/// `cache.heuristic:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHeuristic {
    pub(crate) fraction: Text,
    pub(crate) max: Text,
}

/// `cache.purge:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPurge {
    pub(crate) method: Text,
    pub(crate) allow: List<String>,
}
