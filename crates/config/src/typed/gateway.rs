//! Typed API gateway settings: the consumer list, the identity headers sent
//! upstream, and the authentication and authorization policies.
//!
//! Secrets are held as digests (API keys) or as the hashes the file gave
//! (passwords); `Debug` never prints them.

use std::fmt;

use http::HeaderName;

/// Everything the gateway needs from the file outside route policies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gateway {
    /// Every consumer, in file order (names unique, credentials unique).
    pub consumers: Vec<Consumer>,
    /// The headers that carry a consumer's identity upstream.
    pub identity_headers: IdentityHeaders,
}

/// Who is calling: a name, groups, metadata and credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consumer {
    /// Unique name (`$consumer`, `X-Consumer-Name`, access log).
    pub name: String,
    /// Groups, for `acl` (in file order, no repeats).
    pub groups: Vec<String>,
    /// Free-form string pairs, in file order.
    pub metadata: Vec<(String, String)>,
    /// SHA-256 digests of the consumer's API keys.
    pub api_keys: Vec<KeyDigest>,
    /// Basic-auth users.
    pub basic_auth: Vec<BasicUser>,
    /// Which JWT issuer and claim value identify this consumer.
    pub jwt: Vec<JwtMapping>,
    /// Which verified client-certificate names identify this consumer.
    pub mtls: Vec<MtlsMapping>,
}

/// SHA-256 of an API key: keys are looked up by digest, never compared
/// one by one, and the file may hold only the digest (`sha256:<hex>`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyDigest(pub [u8; 32]);

impl KeyDigest {
    /// The digest of a key as presented.
    pub fn of(key: &[u8]) -> Self {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        KeyDigest(out)
    }
}

impl fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyDigest(..)")
    }
}

/// A basic-auth user with a password hash as htpasswd or argon2 wrote it.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicUser {
    /// The user name (unique across consumers).
    pub username: String,
    /// The password hash, in its PHC / modular crypt form.
    pub hash: PasswordHash,
}

impl fmt::Debug for BasicUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicUser")
            .field("username", &self.username)
            .field("scheme", &self.hash.scheme)
            .finish()
    }
}

/// A password hash and its scheme.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash {
    /// Which function verifies it.
    pub scheme: HashScheme,
    /// The hash as written (`$2y$...`, `$argon2id$...`).
    pub text: String,
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PasswordHash({:?}, ..)", self.scheme)
    }
}

/// Password hash functions accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashScheme {
    /// bcrypt (`$2a$`, `$2b$`, `$2y$`), as `htpasswd -B` writes.
    Bcrypt,
    /// argon2id (`$argon2id$`), as the `argon2` tool writes.
    Argon2id,
}

/// A JWT issuer and claim value naming a consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtMapping {
    /// The `iss` the token must carry.
    pub issuer: String,
    /// The claim compared (default `sub`).
    pub claim: String,
    /// The value that claim must have.
    pub value: String,
}

/// A verified client-certificate name naming a consumer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MtlsMapping {
    /// The certificate's subject, as tollgate writes it (RFC 4514).
    Subject(String),
    /// One of the certificate's subject alternative names.
    San(String),
}

/// The headers a consumer's identity goes upstream in. Any copy the client
/// sent (also spelt with `_` or another case) is removed from every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityHeaders {
    /// The consumer's name (default `X-Consumer-Name`).
    pub name: HeaderName,
    /// The consumer's groups, comma-separated (default `X-Consumer-Groups`).
    pub groups: HeaderName,
    /// Metadata keys forwarded, each in its own header.
    pub metadata: Vec<(String, HeaderName)>,
}

impl Default for IdentityHeaders {
    fn default() -> Self {
        Self {
            name: HeaderName::from_static("x-consumer-name"),
            groups: HeaderName::from_static("x-consumer-groups"),
            metadata: Vec::new(),
        }
    }
}

impl IdentityHeaders {
    /// Every header name tollgate writes a consumer's identity in.
    pub fn names(&self) -> impl Iterator<Item = &HeaderName> {
        [&self.name, &self.groups]
            .into_iter()
            .chain(self.metadata.iter().map(|(_, h)| h))
    }
}

/// The `key_auth` policy: an API key identifies the consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAuth {
    /// Where the key is looked for, in order; every one is removed before
    /// the request is forwarded.
    pub sources: Vec<KeySource>,
    /// The consumer a request without a key becomes (`None`: 401).
    pub anonymous: Option<String>,
}

/// The `basic_auth` policy (RFC 7617): a user name and password identify
/// the consumer. Successful verifications are remembered (bounded, for a
/// while) so bcrypt/argon2 run once per credential, not per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicAuth {
    /// The realm named in the challenge (default `tollgate`).
    pub realm: String,
    /// The consumer a request without credentials becomes (`None`: 401).
    pub anonymous: Option<String>,
    /// Verified credentials remembered (default 10000; 0 = off).
    pub cache_size: u64,
    /// How long a verification is remembered (default 5 min).
    pub cache_ttl: std::time::Duration,
}

/// The `mtls_auth` policy: the listener's verified client certificate
/// (its subject or one of its alternative names) names the consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtlsAuth {
    /// The consumer a request without a verified certificate becomes.
    pub anonymous: Option<String>,
}

/// A place a credential may be sent in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A request header.
    Header(HeaderName),
    /// A query parameter.
    Query(String),
    /// A cookie.
    Cookie(String),
}

/// The `acl` policy: which consumers may pass (403 for the others).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Acl {
    /// When not empty, only consumers matching it pass.
    pub allow: AclRule,
    /// Consumers matching it are refused, even if allowed.
    pub deny: AclRule,
}

/// Consumer groups and names an `acl` side lists.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AclRule {
    /// Group names.
    pub groups: Vec<String>,
    /// Consumer names.
    pub consumers: Vec<String>,
}

impl AclRule {
    /// True when nothing is listed.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.consumers.is_empty()
    }
}

/// A gateway policy in a route's chain: authentication turns a request
/// into a consumer, authorization decides what that consumer may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayPolicy {
    /// API keys.
    KeyAuth(KeyAuth),
    /// User names and password hashes. The `Arc` is the policy's
    /// identity: routes sharing one share its verification cache.
    BasicAuth(std::sync::Arc<BasicAuth>),
    /// Verified client certificates (mTLS listeners).
    MtlsAuth(MtlsAuth),
    /// Allow / deny by consumer group or name.
    Acl(Acl),
    /// Signed tokens. The `Arc` is the policy's identity: routes sharing
    /// one (a named policy, `defaults.policies`) share its key set and
    /// verified-token cache.
    Jwt(std::sync::Arc<super::JwtPolicy>),
    /// Claims and scopes the token must carry.
    Require(super::Require),
    /// Tokens checked by an introspection endpoint (RFC 7662). The `Arc`
    /// is the policy's identity: routes sharing one share its cache.
    Introspection(std::sync::Arc<super::Introspection>),
    /// An external auth service decides.
    ForwardAuth(super::ForwardAuth),
    /// Several methods; the first whose credential is present decides.
    Any(super::AnyAuth),
}

impl GatewayPolicy {
    /// The name the policy has in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            GatewayPolicy::KeyAuth(_) => "key_auth",
            GatewayPolicy::BasicAuth(_) => "basic_auth",
            GatewayPolicy::MtlsAuth(_) => "mtls_auth",
            GatewayPolicy::Acl(_) => "acl",
            GatewayPolicy::Jwt(_) => "jwt",
            GatewayPolicy::Require(_) => "require",
            GatewayPolicy::Introspection(_) => "oauth2_introspection",
            GatewayPolicy::ForwardAuth(_) => "forward_auth",
            GatewayPolicy::Any(_) => "auth",
        }
    }

    /// True for policies that identify the consumer.
    pub fn identifies(&self) -> bool {
        match self {
            GatewayPolicy::KeyAuth(_)
            | GatewayPolicy::BasicAuth(_)
            | GatewayPolicy::MtlsAuth(_)
            | GatewayPolicy::Jwt(_)
            | GatewayPolicy::Introspection(_)
            | GatewayPolicy::Any(_) => true,
            // Only when the service names the consumer.
            GatewayPolicy::ForwardAuth(f) => f.consumer_header.is_some(),
            GatewayPolicy::Acl(_) | GatewayPolicy::Require(_) => false,
        }
    }

    /// True for policies that need an identity from an earlier policy.
    pub fn needs_identity(&self) -> bool {
        matches!(self, GatewayPolicy::Acl(_) | GatewayPolicy::Require(_))
    }
}
