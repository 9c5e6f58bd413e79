//! The consumer directory: every consumer of the configuration, indexed by
//! each kind of credential so a request's credential is found by one hash
//! lookup, never by trying consumers one by one. Built once per snapshot;
//! a reload builds a new one, so a request sees one directory whole.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use http::HeaderValue;
use subtle::ConstantTimeEq;
use tollgate_config::{Gateway, KeyDigest, MtlsMapping, PasswordHash};

use crate::key_cache::KeyCache;

/// A consumer as the data path uses it: its configuration and the header
/// values that carry its identity upstream, rendered once.
#[derive(Debug)]
pub struct Consumer {
    /// The consumer as configured.
    pub config: tollgate_config::Consumer,
    /// The name as a header value (`None` if not a valid one).
    pub name_value: Option<HeaderValue>,
    /// The groups, comma-separated, as a header value (`None` when none).
    pub groups_value: Option<HeaderValue>,
}

impl Consumer {
    pub(crate) fn new(config: tollgate_config::Consumer) -> Self {
        let groups = config.groups.join(",");
        Self {
            name_value: HeaderValue::from_str(&config.name).ok(),
            groups_value: (!groups.is_empty())
                .then(|| HeaderValue::from_str(&groups).ok())
                .flatten(),
            config,
        }
    }

    /// The consumer's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Whether the consumer is in `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.config.groups.iter().any(|g| g == group)
    }

    /// A metadata value.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.config
            .metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Every consumer, indexed by name and by credential.
#[derive(Debug, Default)]
pub struct Directory {
    by_name: HashMap<String, Arc<Consumer>>,
    by_key: HashMap<KeyDigest, Arc<Consumer>, BuildHasherDefault<DigestHasher>>,
    /// Presented keys already found by their digest (no SHA-256 again).
    verified_keys: KeyCache,
    /// Basic-auth user names, with their password hashes.
    by_user: HashMap<String, (Arc<Consumer>, PasswordHash)>,
    /// Client-certificate subjects and alternative names.
    by_mtls: HashMap<MtlsMapping, Arc<Consumer>>,
    /// (issuer, claim, value) of the consumers' `jwt` mappings.
    by_jwt: HashMap<(String, String, String), Arc<Consumer>>,
    /// Per issuer, the claims its mappings compare, in file order.
    jwt_claims: HashMap<String, Vec<String>>,
}

/// The API-key index's hasher: its keys are SHA-256 digests already, so
/// their leading bytes are the hash (no second hash on every request).
/// Only configured keys are stored; a presented key adds nothing, so a
/// key chosen to land in a busy bucket costs at most the configured
/// keys' probe sequence.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // A digest arrives as its length, then its 32 bytes.
        let mut word = [0u8; 8];
        let n = bytes.len().min(8);
        word[..n].copy_from_slice(&bytes[..n]);
        self.0 = self.0.rotate_left(17) ^ u64::from_ne_bytes(word);
    }
}

impl Directory {
    /// Indexes the configured consumers (validation made names and
    /// credentials unique).
    pub fn build(gateway: &Gateway) -> Self {
        let mut dir = Directory::default();
        for c in &gateway.consumers {
            let consumer = Arc::new(Consumer::new(c.clone()));
            for key in &c.api_keys {
                dir.by_key.insert(*key, consumer.clone());
            }
            for u in &c.basic_auth {
                dir.by_user
                    .insert(u.username.clone(), (consumer.clone(), u.hash.clone()));
            }
            for m in &c.mtls {
                dir.by_mtls.insert(m.clone(), consumer.clone());
            }
            for m in &c.jwt {
                let claims = dir.jwt_claims.entry(m.issuer.clone()).or_default();
                if !claims.contains(&m.claim) {
                    claims.push(m.claim.clone());
                }
                let key = (m.issuer.clone(), m.claim.clone(), m.value.clone());
                dir.by_jwt.insert(key, consumer.clone());
            }
            dir.by_name.insert(c.name.clone(), consumer);
        }
        dir.verified_keys = KeyCache::new(dir.by_key.len());
        dir
    }

    /// The consumer named `name`.
    pub fn by_name(&self, name: &str) -> Option<&Arc<Consumer>> {
        self.by_name.get(name)
    }

    /// The consumer an API key belongs to. A key verified before is found
    /// in the verified-key cache (the whole key compared in constant time);
    /// any other is hashed, so an unknown key and a wrong one cost the
    /// same, and the digest found is compared again in constant time.
    pub fn by_api_key(&self, key: &[u8]) -> Option<&Arc<Consumer>> {
        if let Some(c) = self.verified_keys.get(key) {
            return Some(c);
        }
        let digest = KeyDigest::of(key);
        let (stored, consumer) = self.by_key.get_key_value(&digest)?;
        let found = bool::from(stored.0.ct_eq(&digest.0)).then_some(consumer)?;
        self.verified_keys.insert(key, found);
        Some(found)
    }

    /// The consumer a Basic user name belongs to, with its password hash.
    pub fn by_user(&self, user: &str) -> Option<(&Arc<Consumer>, &PasswordHash)> {
        self.by_user.get(user).map(|(c, h)| (c, h))
    }

    /// The consumer a verified token of `issuer` maps to: the first of the
    /// issuer's mapped claims (`claim` reads a string claim) whose value a
    /// consumer names.
    pub fn by_jwt<'c>(
        &self,
        issuer: &str,
        claim: impl Fn(&str) -> Option<&'c str>,
    ) -> Option<&Arc<Consumer>> {
        let claims = self.jwt_claims.get(issuer)?;
        claims.iter().find_map(|name| {
            let value = claim(name)?;
            self.by_jwt
                .get(&(issuer.to_string(), name.clone(), value.to_string()))
        })
    }

    /// The consumer a verified certificate names: by its subject first,
    /// then by its alternative names in order.
    pub fn by_certificate<'n>(
        &self,
        subject: &str,
        alt_names: impl IntoIterator<Item = &'n str>,
    ) -> Option<&Arc<Consumer>> {
        if let Some(c) = self.by_mtls.get(&MtlsMapping::Subject(subject.to_string())) {
            return Some(c);
        }
        alt_names
            .into_iter()
            .find_map(|n| self.by_mtls.get(&MtlsMapping::San(n.to_string())))
    }

    /// How many consumers there are.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True when no consumer is configured.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway() -> Gateway {
        let consumer = |name: &str, keys: &[&str], groups: &[&str]| tollgate_config::Consumer {
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            metadata: vec![("tier".into(), "gold".into())],
            api_keys: keys.iter().map(|k| KeyDigest::of(k.as_bytes())).collect(),
            basic_auth: Vec::new(),
            jwt: Vec::new(),
            mtls: Vec::new(),
        };
        Gateway {
            consumers: vec![
                consumer("a", &["ka1", "ka2"], &["paid", "beta"]),
                consumer("b", &["kb"], &[]),
            ],
            identity_headers: Default::default(),
        }
    }

    #[test]
    fn keys_find_their_consumer() {
        let dir = Directory::build(&gateway());
        assert_eq!(dir.len(), 2);
        assert_eq!(dir.by_api_key(b"ka2").unwrap().name(), "a");
        assert_eq!(dir.by_api_key(b"kb").unwrap().name(), "b");
        assert!(dir.by_api_key(b"kc").is_none());
        assert!(dir.by_api_key(b"").is_none());
        // Again, from the verified-key cache; a near miss still is one.
        assert_eq!(dir.by_api_key(b"ka2").unwrap().name(), "a");
        assert_eq!(dir.by_api_key(b"kb").unwrap().name(), "b");
        assert!(dir.by_api_key(b"ka").is_none());
        assert!(dir.by_api_key(b"kb ").is_none());
        // A new directory (a reload) knows only its own keys.
        let mut changed = gateway();
        changed.consumers[1].api_keys.clear();
        let dir = Directory::build(&changed);
        assert!(dir.by_api_key(b"kb").is_none());
        let a = dir.by_name("a").unwrap();
        assert_eq!(a.groups_value.as_ref().unwrap(), "paid,beta");
        assert!(dir.by_name("b").unwrap().groups_value.is_none());
        assert!(a.in_group("beta") && !a.in_group("free"));
        assert_eq!(a.metadata("tier"), Some("gold"));
    }
}
