//! A listener's rustls server configuration: protocol versions, ALPN,
//! session resumption, client certificates, and the SNI certificate store.

use std::sync::Arc;
use std::time::Duration;

use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::ServerConfig;
use tollgate_config::{CertificateFiles, ClientAuthMode, ConfigError, ListenerTls};

use super::reload::PairStamp;
use super::store::{CertStore, Entry, SniResolver};
use super::{pem, provider, versions};

/// TLS termination for one listener, built from its configuration.
#[derive(Debug)]
pub struct ServerTls {
    /// The rustls configuration every handshake on the listener uses.
    pub config: Arc<ServerConfig>,
    /// Longest a handshake may take.
    pub handshake_timeout: Duration,
    pub(crate) resolver: Arc<SniResolver>,
    pub(crate) certificates: Vec<CertificateFiles>,
    pub(crate) default_certificate: usize,
    pub(crate) reload_interval: Option<Duration>,
    /// The files' versions when they were read (taken just before reading,
    /// so a change during the read is seen by the next reload check).
    pub(crate) stamps: Vec<PairStamp>,
    /// Name of the listener, for the reload events.
    pub(crate) listener: String,
}

impl ServerTls {
    /// Reads the certificates, keys and CA bundle and builds the
    /// configuration; every problem found is returned.
    pub fn build(tls: &ListenerTls) -> Result<Self, Vec<ConfigError>> {
        let provider = provider();
        let stamps = tls.certificates.iter().map(PairStamp::of).collect();
        let mut errors = Vec::new();
        let mut entries = Vec::new();
        for files in &tls.certificates {
            match pem::certified_key(files, &provider) {
                Ok(key) => entries.push(Entry::new(key)),
                Err(e) => errors.push(e),
            }
        }
        let verifier = match &tls.client_auth {
            None => None,
            Some(auth) => match pem::roots(&auth.ca) {
                Ok(roots) => {
                    let builder =
                        WebPkiClientVerifier::builder_with_provider(roots, provider.clone());
                    let builder = match auth.mode {
                        ClientAuthMode::Optional => builder.allow_unauthenticated(),
                        ClientAuthMode::Required => builder,
                    };
                    match builder.build() {
                        Ok(v) => Some(v),
                        Err(e) => {
                            errors.push(auth.ca.origin.error(format!(
                                "cannot verify clients with `{}`: {e}",
                                auth.ca.path.display()
                            )));
                            None
                        }
                    }
                }
                Err(e) => {
                    errors.push(e);
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let resolver = Arc::new(SniResolver::new(CertStore::new(
            entries,
            tls.default_certificate,
        )));
        let builder = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions(tls.min_version))
            .map_err(|e| vec![internal(tls, &e)])?;
        let builder = match verifier {
            Some(v) => builder.with_client_cert_verifier(v),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_cert_resolver(resolver.clone());
        config.alpn_protocols = tls.alpn.iter().map(|a| a.id().to_vec()).collect();
        config.session_storage = if tls.session_cache > 0 {
            ServerSessionMemoryCache::new(tls.session_cache)
        } else {
            Arc::new(NoServerSessionStorage {})
        };
        if tls.session_tickets {
            config.ticketer =
                rustls::crypto::aws_lc_rs::Ticketer::new().map_err(|e| vec![internal(tls, &e)])?;
        }
        Ok(Self {
            config: Arc::new(config),
            handshake_timeout: tls.handshake_timeout,
            resolver,
            certificates: tls.certificates.clone(),
            default_certificate: tls.default_certificate,
            reload_interval: tls.reload_interval,
            stamps,
            listener: String::new(),
        })
    }

    /// Names the listener these settings serve, as its events will say.
    pub fn for_listener(mut self, name: &str) -> Self {
        self.listener = name.to_owned();
        self
    }
}

impl ServerTls {
    /// Starts the handshake of an accepted connection.
    pub fn accept(
        &self,
        tcp: tokio::net::TcpStream,
    ) -> tokio_rustls::Accept<tokio::net::TcpStream> {
        tokio_rustls::TlsAcceptor::from(self.config.clone()).accept(tcp)
    }
}

/// A failure that no configuration should cause (the provider refusing its
/// own defaults), reported at the listener's first certificate.
fn internal(tls: &ListenerTls, e: &rustls::Error) -> ConfigError {
    let origin = tls.certificates.first().map(|c| &c.cert.origin);
    match origin {
        Some(o) => o.error(format!("cannot set up TLS: {e}")),
        None => ConfigError::new("", None, "", format!("cannot set up TLS: {e}")),
    }
}
