//! The API-shaping parts as written: the `validate` policy, a route's
//! `match.version`, `deprecation` / `sunset`, and the `aggregate` target.

use serde::Deserialize;

use super::{List, OrderedMap, Sp, Text};

/// `validate:` in a policy list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawValidate {
    /// An inline JSON Schema (any YAML value).
    pub(crate) schema: Option<Sp<serde_json::Value>>,
    pub(crate) schema_file: Text,
    pub(crate) openapi: Text,
    pub(crate) unknown_operation: Text,
    pub(crate) errors: Text,
    pub(crate) max_body: Text,
    pub(crate) answers: Option<Sp<RawAnswerCheck>>,
}

/// `validate.answers:` (answer bodies checked in report mode).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAnswerCheck {
    pub(crate) schema: Option<Sp<serde_json::Value>>,
    pub(crate) schema_file: Text,
    pub(crate) mode: Text,
}

/// `match.version:` of a route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVersion {
    pub(crate) value: Text,
    pub(crate) from: Text,
    pub(crate) name: Text,
    pub(crate) default: Text,
}

/// `deprecation:` or `sunset:` of a route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLifecycleDate {
    pub(crate) at: Text,
    pub(crate) link: Text,
}

/// `aggregate:` of a route (its target).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAggregate {
    pub(crate) calls: List<RawCall>,
    pub(crate) merge: Text,
    pub(crate) max_concurrency: Text,
    pub(crate) max_body: Text,
}

/// One of `aggregate.calls`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCall {
    pub(crate) name: Text,
    pub(crate) upstream: Text,
    pub(crate) method: Text,
    pub(crate) path: Text,
    pub(crate) headers: Option<Sp<OrderedMap>>,
    pub(crate) timeout: Text,
    pub(crate) required: Text,
    pub(crate) after: Text,
}
