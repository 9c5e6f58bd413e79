//! The API gateway's parts of the file as written: `consumers:`,
//! `identity_headers:` and the authentication and authorization policies.

use serde::Deserialize;

use super::{List, OrderedMap, Sp, Text};

/// One of `consumers:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConsumer {
    pub(crate) name: Text,
    pub(crate) groups: List<String>,
    pub(crate) metadata: Option<Sp<OrderedMap>>,
    pub(crate) api_keys: List<String>,
    pub(crate) basic_auth: List<RawBasicUser>,
    pub(crate) jwt: List<RawJwtMapping>,
    pub(crate) mtls: List<RawMtlsMapping>,
}

/// One of a consumer's `basic_auth:` users.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBasicUser {
    pub(crate) username: Text,
    pub(crate) password_hash: Text,
}

/// One of a consumer's `jwt:` mappings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawJwtMapping {
    pub(crate) issuer: Text,
    pub(crate) claim: Text,
    pub(crate) value: Text,
}

/// One of a consumer's `mtls:` mappings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMtlsMapping {
    pub(crate) subject: Text,
    pub(crate) san: Text,
}

/// `identity_headers:` at the top level.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIdentityHeaders {
    pub(crate) name: Text,
    pub(crate) groups: Text,
    pub(crate) metadata: Option<Sp<OrderedMap>>,
}

/// `key_auth:` in a policy list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawKeyAuth {
    pub(crate) sources: List<RawKeySource>,
    pub(crate) anonymous: Text,
}

/// One place a key may be sent in: exactly one of the three.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawKeySource {
    pub(crate) header: Text,
    pub(crate) query: Text,
    pub(crate) cookie: Text,
}

/// `acl:` in a policy list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAcl {
    pub(crate) allow: Option<Sp<RawAclRule>>,
    pub(crate) deny: Option<Sp<RawAclRule>>,
}

/// `acl.allow` / `acl.deny`: consumer groups and names.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAclRule {
    pub(crate) groups: List<String>,
    pub(crate) consumers: List<String>,
}
