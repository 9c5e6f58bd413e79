//! The certificates of one listener, chosen per handshake by the SNI name
//! against each certificate's DNS names: exact names first, then wildcards
//! (`*.example.com` covers one label, as browsers do), then the default.
//! The store is swapped whole when a certificate file changes, so a
//! handshake sees either the old set or the new one.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::SignatureScheme;

use super::x509::CertNames;

/// One certificate with the names it answers for.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The chain and key.
    pub(crate) key: Arc<CertifiedKey>,
    /// Its DNS names, lowercase; `*.x` for wildcards.
    pub(crate) names: Vec<String>,
}

impl Entry {
    /// The names a certificate is chosen by: its DNS alternative names, or
    /// its common name when it has none (old self-signed certificates).
    pub(crate) fn new(key: CertifiedKey) -> Self {
        let names = key
            .cert
            .first()
            .and_then(|c| CertNames::from_der(c))
            .map(|n| {
                if n.dns.is_empty() {
                    n.common_name
                        .map(|cn| vec![cn.to_ascii_lowercase()])
                        .unwrap_or_default()
                } else {
                    n.dns
                }
            })
            .unwrap_or_default();
        Self {
            key: Arc::new(key),
            names,
        }
    }
}

/// Certificates indexed by name.
#[derive(Debug)]
pub(crate) struct CertStore {
    entries: Vec<Entry>,
    exact: HashMap<String, Vec<usize>>,
    /// By the part after `*.`.
    wildcard: HashMap<String, Vec<usize>>,
    default: Vec<usize>,
}

impl CertStore {
    /// Indexes `entries`; `default` (an index into them) answers when no
    /// name matches.
    pub(crate) fn new(entries: Vec<Entry>, default: usize) -> Self {
        let mut exact: HashMap<String, Vec<usize>> = HashMap::new();
        let mut wildcard: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            for name in &e.names {
                match name.strip_prefix("*.") {
                    Some(suffix) if !suffix.contains('*') => {
                        wildcard.entry(suffix.to_owned()).or_default().push(i)
                    }
                    Some(_) => {}
                    None if !name.contains('*') => exact.entry(name.clone()).or_default().push(i),
                    None => {}
                }
            }
        }
        let default = if default < entries.len() {
            vec![default]
        } else {
            Vec::new()
        };
        Self {
            entries,
            exact,
            wildcard,
            default,
        }
    }

    /// The entries (for reloading one of them).
    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The certificate for `sni` that can sign with one of `schemes`; when
    /// none of the name's certificates can, the first of them (the handshake
    /// then fails with a clear alert rather than presenting another name).
    pub(crate) fn pick(
        &self,
        sni: Option<&str>,
        schemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        let candidates = self.candidates(sni);
        let chosen = match candidates {
            [] => return None,
            [only] => *only,
            several => several
                .iter()
                .copied()
                .find(|&i| self.entries[i].key.key.choose_scheme(schemes).is_some())
                .unwrap_or(several[0]),
        };
        Some(self.entries[chosen].key.clone())
    }

    fn candidates(&self, sni: Option<&str>) -> &[usize] {
        let Some(sni) = sni else {
            return &self.default;
        };
        let lower;
        let sni = if sni.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = sni.to_ascii_lowercase();
            lower.as_str()
        } else {
            sni
        };
        if let Some(found) = self.exact.get(sni) {
            return found;
        }
        if let Some((_, parent)) = sni.split_once('.') {
            if let Some(found) = self.wildcard.get(parent) {
                return found;
            }
        }
        &self.default
    }
}

/// rustls' certificate callback over a swappable [`CertStore`].
#[derive(Debug)]
pub struct SniResolver {
    store: ArcSwap<CertStore>,
}

impl SniResolver {
    pub(crate) fn new(store: CertStore) -> Self {
        Self {
            store: ArcSwap::from_pointee(store),
        }
    }

    /// The current store.
    pub(crate) fn current(&self) -> Arc<CertStore> {
        self.store.load_full()
    }

    /// Replaces the store; handshakes from now on use the new one.
    pub(crate) fn replace(&self, store: CertStore) {
        self.store.store(Arc::new(store));
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.store
            .load()
            .pick(hello.server_name(), hello.signature_schemes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair};
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    fn entry(names: &[&str], alg: &'static rcgen::SignatureAlgorithm) -> Entry {
        let params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        let key = KeyPair::generate_for(alg).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let signing = provider.key_provider.load_private_key(der).unwrap();
        Entry::new(CertifiedKey::new(
            vec![CertificateDer::from(cert.der().to_vec())],
            signing,
        ))
    }

    const ECDSA: &[SignatureScheme] = &[SignatureScheme::ECDSA_NISTP256_SHA256];
    const ED25519: &[SignatureScheme] = &[SignatureScheme::ED25519];

    #[test]
    fn exact_then_wildcard_then_default() {
        let es = vec![
            entry(&["default.test"], &rcgen::PKCS_ECDSA_P256_SHA256),
            entry(&["api.example.com"], &rcgen::PKCS_ECDSA_P256_SHA256),
            entry(
                &["*.example.com", "example.com"],
                &rcgen::PKCS_ECDSA_P256_SHA256,
            ),
        ];
        let keys: Vec<_> = es.iter().map(|e| e.key.clone()).collect();
        let store = CertStore::new(es, 0);
        let pick = |sni| store.pick(sni, ECDSA).unwrap();
        assert!(Arc::ptr_eq(&pick(Some("api.example.com")), &keys[1]));
        assert!(Arc::ptr_eq(&pick(Some("API.Example.COM")), &keys[1]));
        assert!(Arc::ptr_eq(&pick(Some("www.example.com")), &keys[2]));
        assert!(Arc::ptr_eq(&pick(Some("example.com")), &keys[2]));
        // A wildcard covers one label only.
        assert!(Arc::ptr_eq(&pick(Some("a.b.example.com")), &keys[0]));
        assert!(Arc::ptr_eq(&pick(Some("other.test")), &keys[0]));
        assert!(Arc::ptr_eq(&pick(None), &keys[0]));
    }

    #[test]
    fn same_name_picks_a_key_the_client_can_use() {
        let es = vec![
            entry(&["x.test"], &rcgen::PKCS_ECDSA_P256_SHA256),
            entry(&["x.test"], &rcgen::PKCS_ED25519),
        ];
        let keys: Vec<_> = es.iter().map(|e| e.key.clone()).collect();
        let store = CertStore::new(es, 1);
        assert!(Arc::ptr_eq(
            &store.pick(Some("x.test"), ED25519).unwrap(),
            &keys[1]
        ));
        assert!(Arc::ptr_eq(
            &store.pick(Some("x.test"), ECDSA).unwrap(),
            &keys[0]
        ));
        assert!(Arc::ptr_eq(
            &store.pick(Some("x.test"), &[]).unwrap(),
            &keys[0]
        ));
    }

    #[test]
    fn names_fall_back_to_the_common_name() {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Legacy.Test");
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let signing = provider.key_provider.load_private_key(der).unwrap();
        let e = Entry::new(CertifiedKey::new(
            vec![CertificateDer::from(cert.der().to_vec())],
            signing,
        ));
        assert_eq!(e.names, ["legacy.test"]);
    }
}
