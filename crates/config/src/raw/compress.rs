//! The `compress` policy as written.

use serde::Deserialize;

use super::{List, Sp, Text};

/// `compress:` in a policy list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCompress {
    pub(crate) algorithms: List<String>,
    pub(crate) min_length: Text,
    pub(crate) types: List<String>,
    pub(crate) levels: Option<Sp<RawLevels>>,
}

/// `compress.levels:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLevels {
    pub(crate) gzip: Text,
    pub(crate) br: Text,
    pub(crate) zstd: Text,
}
