//! TLS with rustls (aws-lc-rs as crypto provider): listeners' server
//! configurations with an SNI certificate store that reloads changed files
//! (`server`, `store`, `reload`), upstream client configurations (`client`),
//! PEM loading with configuration-located errors (`pem`), and the names in
//! certificates (`x509`).
//!
//! Defaults are rustls': TLS 1.3 and 1.2 with forward-secret AEAD suites
//! only (AES-GCM, ChaCha20-Poly1305; no CBC, no RSA key exchange).

mod client;
mod expiry;
mod pem;
mod reload;
mod server;
mod store;
mod x509;

#[cfg(test)]
mod tests;

use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;
use rustls::SupportedProtocolVersion;
use tollgate_config::{Alpn, Config, ConfigError, TlsFile, TlsVersion, UpstreamProtocol};

pub use client::UpstreamConnector;
pub use expiry::not_after;
pub use reload::spawn_reloader;
pub use rustls::pki_types::ServerName;
pub use server::ServerTls;
pub use store::SniResolver;
pub use x509::CertNames;

/// The crypto provider every configuration uses, made once.
fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .clone()
}

/// The protocol versions from `min` up.
fn versions(min: TlsVersion) -> &'static [&'static SupportedProtocolVersion] {
    static BOTH: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];
    static ONLY_13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
    match min {
        TlsVersion::Tls12 => BOTH,
        TlsVersion::Tls13 => ONLY_13,
    }
}

/// The ALPN ids offered to the targets of an upstream speaking `protocol`.
pub fn upstream_alpn(protocol: UpstreamProtocol) -> &'static [&'static [u8]] {
    match protocol {
        UpstreamProtocol::H2 | UpstreamProtocol::H2c => &[b"h2"],
        UpstreamProtocol::Http1 => &[b"http/1.1"],
    }
}

/// Builds every TLS configuration of `config` (reading every certificate,
/// key and CA file it names) and returns the problems found.
pub fn check(config: &Config) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    for l in &config.listeners {
        if let Some(tls) = &l.tls {
            if let Err(e) = ServerTls::build(tls) {
                errors.extend(e);
            }
        }
    }
    for u in &config.upstreams {
        if let Some(tls) = &u.tls {
            if let Err(e) = UpstreamConnector::build(tls, upstream_alpn(u.protocol)) {
                errors.extend(e);
            }
        }
    }
    errors
}

/// The end-entity certificate of a PEM chain file, read now: its names
/// and when it expires (for the admin API's `/certificates`).
pub fn leaf_certificate(
    file: &TlsFile,
) -> Result<(CertNames, Option<std::time::SystemTime>), String> {
    let certs = pem::certificates(file).map_err(|e| e.message)?;
    let leaf = certs.first().ok_or("no certificate")?;
    Ok((
        CertNames::from_der(leaf).unwrap_or_default(),
        not_after(leaf),
    ))
}

/// Whether `alpn` names HTTP/2.
pub fn is_h2(alpn: Option<&[u8]>) -> bool {
    alpn == Some(Alpn::H2.id())
}
