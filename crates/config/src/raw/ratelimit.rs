//! The limiting policies as written: `rate_limit`, `quota` and
//! `concurrency_limit`, with their two written forms that serde cannot
//! derive: a key (`consumer` or `{header: X-Tenant}`) and rates (`100/s`
//! or `[100/s, 5000/h]`).

use std::fmt;

use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::{List, NamedMap, Sp, Text};

/// `rate_limit:` in a policy list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRateLimit {
    pub(crate) limits: Option<Sp<RawRates>>,
    pub(crate) burst: Text,
    pub(crate) key: Option<Sp<RawLimitKey>>,
    pub(crate) algorithm: Text,
    pub(crate) plans: Option<Sp<NamedMap<RawRates>>>,
    pub(crate) consumers: Option<Sp<NamedMap<RawRates>>>,
    pub(crate) store: Text,
    pub(crate) mode: Text,
    pub(crate) sync: Text,
    pub(crate) on_store_error: Text,
    pub(crate) nodes: Text,
    pub(crate) headers: Text,
    pub(crate) max_keys: Text,
}

/// `quota:` in a policy list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawQuota {
    pub(crate) limit: Text,
    pub(crate) time_zone: Text,
    pub(crate) key: Option<Sp<RawLimitKey>>,
    pub(crate) store: Text,
    pub(crate) mode: Text,
    pub(crate) sync: Text,
    pub(crate) on_store_error: Text,
    pub(crate) nodes: Text,
    pub(crate) headers: Text,
    pub(crate) max_keys: Text,
}

/// `concurrency_limit:` in a policy list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConcurrencyLimit {
    pub(crate) max: Text,
    pub(crate) key: Option<Sp<RawLimitKey>>,
}

/// One rate or a list of them, as written.
#[derive(Debug)]
pub(crate) struct RawRates(pub(crate) Vec<String>);

impl<'de> Deserialize<'de> for RawRates {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RatesVisitor;

        impl<'de> Visitor<'de> for RatesVisitor {
            type Value = RawRates;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a rate such as `100/s`, or a list of rates")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawRates, E> {
                Ok(RawRates(vec![v.to_string()]))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawRates, E> {
                Ok(RawRates(vec![v.to_string()]))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawRates, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(RawRates(out))
            }
        }

        d.deserialize_any(RatesVisitor)
    }
}

/// A limit's key as written: a word (`consumer`, `client_ip`, `route`) or
/// a template, or a one-entry map (`{header: NAME}`, `{jwt_claim: NAME}`).
#[derive(Debug)]
pub(crate) enum RawLimitKey {
    /// A scalar: a keyword or a template.
    Word(String),
    /// A map's entries, checked by validation.
    Map(Vec<(String, String)>),
}

impl<'de> Deserialize<'de> for RawLimitKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = RawLimitKey;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`consumer`, `client_ip`, `route`, a template, `{header: NAME}` or `{jwt_claim: NAME}`")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawLimitKey, E> {
                Ok(RawLimitKey::Word(v.to_string()))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawLimitKey, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, String>()? {
                    entries.push(entry);
                }
                Ok(RawLimitKey::Map(entries))
            }
        }

        d.deserialize_any(KeyVisitor)
    }
}

/// `redis:` (top level): the shared store of `store: redis` limits.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRedis {
    pub(crate) url: Text,
    pub(crate) urls: List<String>,
    pub(crate) sentinel: Option<Sp<RawSentinel>>,
    pub(crate) tls: Text,
    pub(crate) username: Text,
    pub(crate) password: Text,
    pub(crate) database: Text,
    pub(crate) pool: Text,
    pub(crate) timeout: Text,
}

/// `redis.sentinel:`: the master's name; `urls` then lists the sentinels.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSentinel {
    pub(crate) master: Text,
}
