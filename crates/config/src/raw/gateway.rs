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
    pub(crate) sources: List<RawCredentialSource>,
    pub(crate) anonymous: Text,
}

/// One place a credential (an API key, a token) may be sent in: exactly
/// one of the three.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCredentialSource {
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

/// `jwt:` in a policy list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawJwt {
    pub(crate) issuers: List<RawIssuer>,
    pub(crate) source: Option<Sp<RawCredentialSource>>,
    pub(crate) leeway: Text,
    pub(crate) max_token_size: Text,
    pub(crate) require_exp: Text,
    pub(crate) typ: Text,
    pub(crate) claims_to_headers: Option<Sp<OrderedMap>>,
    pub(crate) cache_size: Text,
    pub(crate) anonymous: Text,
}

/// One of `jwt.issuers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIssuer {
    pub(crate) issuer: Text,
    pub(crate) audiences: List<String>,
    pub(crate) keys: List<RawJwtKey>,
    pub(crate) jwks_endpoint: Option<Sp<RawJwksEndpoint>>,
    pub(crate) consumer: Text,
}

/// An issuer's `jwks_endpoint`: a key set fetched through an upstream.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawJwksEndpoint {
    pub(crate) upstream: Text,
    pub(crate) path: Text,
    pub(crate) host: Text,
    pub(crate) min_ttl: Text,
    pub(crate) max_ttl: Text,
    pub(crate) refetch_interval: Text,
    pub(crate) timeout: Text,
}

/// One of an issuer's `keys`: exactly one of `pem`, `jwk`, `jwks` (files)
/// or `secret` (HS algorithms).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawJwtKey {
    pub(crate) pem: Text,
    pub(crate) jwk: Text,
    pub(crate) jwks: Text,
    pub(crate) secret: Text,
    pub(crate) kid: Text,
    pub(crate) algorithm: Text,
}

/// `require:` in a policy list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRequire {
    pub(crate) claims: Option<Sp<super::NamedMap<RawValueRule>>>,
    pub(crate) scopes: Option<Sp<RawValueRule>>,
}

/// Values a claim (or the scope) must hold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawValueRule {
    pub(crate) all_of: List<String>,
    pub(crate) any_of: List<String>,
}

/// `basic_auth:` in a policy list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBasicAuth {
    pub(crate) realm: Text,
    pub(crate) anonymous: Text,
    pub(crate) cache_size: Text,
    pub(crate) cache_ttl: Text,
}

/// `mtls_auth:` in a policy list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMtlsAuth {
    pub(crate) anonymous: Text,
}

/// Where a policy asks a service of its own (`oauth2_introspection`,
/// `forward_auth`): an upstream of `upstreams:` and a path on it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServiceEndpoint {
    pub(crate) upstream: Text,
    pub(crate) path: Text,
    pub(crate) host: Text,
    pub(crate) timeout: Text,
}

/// `oauth2_introspection:` in a policy list (RFC 7662).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIntrospection {
    pub(crate) endpoint: Option<Sp<RawServiceEndpoint>>,
    pub(crate) client_id: Text,
    pub(crate) client_secret: Text,
    pub(crate) source: Option<Sp<RawCredentialSource>>,
    pub(crate) scopes: List<String>,
    pub(crate) audiences: List<String>,
    pub(crate) issuer: Text,
    pub(crate) consumer_claims: List<String>,
    pub(crate) consumer: Text,
    pub(crate) cache_ttl: Text,
    pub(crate) negative_cache_ttl: Text,
    pub(crate) cache_size: Text,
    pub(crate) anonymous: Text,
}

/// `forward_auth:` in a policy list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawForwardAuth {
    pub(crate) endpoint: Option<Sp<RawServiceEndpoint>>,
    pub(crate) request_headers: List<String>,
    pub(crate) response_headers: List<String>,
    pub(crate) consumer_header: Text,
    pub(crate) fail_open: Text,
    pub(crate) max_body: Text,
}

/// `auth:` in a policy list: several methods, the first that identifies
/// wins.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuthChoice {
    pub(crate) any: List<super::RawPolicy>,
    pub(crate) anonymous: Text,
}
