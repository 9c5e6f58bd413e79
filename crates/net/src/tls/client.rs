//! TLS to upstreams: trust roots (a CA file or the system store), the name
//! sent as SNI and verified, an optional client certificate, and ALPN.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::ResolvesClientCert;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tollgate_config::{ConfigError, TrustRoots, UpstreamTls};

use super::{pem, provider, versions};
use crate::stream::OutboundStream;

/// What connecting to one upstream over TLS needs.
#[derive(Debug, Clone)]
pub struct UpstreamConnector {
    config: Arc<ClientConfig>,
    server_name: Option<ServerName<'static>>,
}

impl UpstreamConnector {
    /// Builds the client configuration of an upstream's `tls` section,
    /// offering `alpn` (most preferred first).
    pub fn build(tls: &UpstreamTls, alpn: &[&[u8]]) -> Result<Self, Vec<ConfigError>> {
        let provider = provider();
        let mut errors = Vec::new();
        let verifier: Option<Arc<dyn ServerCertVerifier>> = if tls.verify {
            let roots = match &tls.roots {
                TrustRoots::System => system_roots().map_err(|e| tls.origin.error(e)),
                TrustRoots::File(file) => pem::roots(file),
            };
            match roots.and_then(|r| {
                rustls::client::WebPkiServerVerifier::builder_with_provider(r, provider.clone())
                    .build()
                    .map_err(|e| tls.origin.error(format!("cannot verify upstreams: {e}")))
            }) {
                Ok(v) => Some(v),
                Err(e) => {
                    errors.push(e);
                    None
                }
            }
        } else {
            Some(Arc::new(NoVerification(provider.clone())))
        };
        let client_key = match &tls.client_cert {
            None => None,
            Some(files) => match pem::certified_key(files, &provider) {
                Ok(k) => Some(Arc::new(k)),
                Err(e) => {
                    errors.push(e);
                    None
                }
            },
        };
        let server_name = match &tls.server_name {
            None => None,
            Some(name) => match ServerName::try_from(name.clone()) {
                Ok(n) => Some(n),
                Err(e) => {
                    errors.push(
                        tls.origin
                            .error(format!("invalid `server_name` `{name}`: {e}")),
                    );
                    None
                }
            },
        };
        let (Some(verifier), true) = (verifier, errors.is_empty()) else {
            return Err(errors);
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions(tls.min_version))
            .map_err(|e| vec![tls.origin.error(format!("cannot set up TLS: {e}"))])?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match client_key {
            Some(key) => builder.with_client_cert_resolver(Arc::new(ClientKey(key))),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Self {
            config: Arc::new(config),
            server_name,
        })
    }

    /// The same settings offering other ALPN protocols (health probes
    /// speak HTTP/1.1 to upstreams whose requests go over HTTP/2).
    pub fn with_alpn(&self, alpn: &[&[u8]]) -> Self {
        let mut config = (*self.config).clone();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Self {
            config: Arc::new(config),
            server_name: self.server_name.clone(),
        }
    }

    /// The name to send and verify for a target whose host is `host`
    /// (a DNS name, an IPv4 address or a bracketed IPv6 address): the
    /// configured `server_name`, else the host. IP addresses are verified
    /// against the certificate's IP names and sent without SNI.
    pub fn name_for(&self, host: &str) -> Result<ServerName<'static>, String> {
        if let Some(n) = &self.server_name {
            return Ok(n.clone());
        }
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        ServerName::try_from(bare.to_owned()).map_err(|e| {
            format!("`{host}` cannot be used as a TLS server name ({e}); set `tls.server_name`")
        })
    }

    /// Runs the handshake on a connected socket.
    pub async fn connect(
        &self,
        tcp: TcpStream,
        name: ServerName<'static>,
    ) -> std::io::Result<OutboundStream> {
        let tls = tokio_rustls::TlsConnector::from(self.config.clone())
            .connect(name, tcp)
            .await?;
        Ok(OutboundStream::Tls(Box::new(tls)))
    }
}

/// The system's trust store, read once per process.
fn system_roots() -> Result<Arc<RootCertStore>, String> {
    static ROOTS: OnceLock<Result<Arc<RootCertStore>, String>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut store = RootCertStore::empty();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map_or_else(String::new, |e| format!(": {e}"));
                return Err(format!(
                    "no CA certificates found in the system trust store{why}; install them (e.g. the `ca-certificates` package) or set `ca: path/to/ca.pem`"
                ));
            }
            Ok(Arc::new(store))
        })
        .clone()
}

/// Always presents the configured client certificate.
#[derive(Debug)]
struct ClientKey(Arc<CertifiedKey>);

impl ResolvesClientCert for ClientKey {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// `verify: false`: any certificate is accepted for any name, but the
/// handshake signatures are still checked (the peer must hold the key of
/// the certificate it shows), so the connection is encrypted, just not
/// authenticated.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
