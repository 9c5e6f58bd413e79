//! Typed TLS settings: listeners that terminate TLS, HTTP listeners that
//! send clients to HTTPS, and upstreams reached over TLS.
//!
//! Certificate and key files are only named here: their contents are read
//! when the TLS configuration is built (`tollgate-net`), at start-up, by
//! `tollgate validate` and on every reload. Each file keeps the place it was
//! written ([`Origin`]) so that a bad file is reported like any other
//! configuration error, with file, line, column and field path.

use std::path::PathBuf;
use std::time::Duration;

use http::{HeaderName, StatusCode};

use crate::error::ConfigError;

/// Where a value was written in the configuration file. Only for messages:
/// two origins always compare equal, so settings compare by what they say,
/// not by where in the file they were written (a line added above a TLS
/// block must not make a reload see a change).
#[derive(Debug, Clone)]
pub struct Origin {
    /// The configuration file as named.
    pub file: String,
    /// 1-based line and column of the value.
    pub location: Option<(usize, usize)>,
    /// Field path such as `listeners[1].tls.certificates[0].key`.
    pub path: String,
}

impl PartialEq for Origin {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Origin {}

impl Origin {
    /// An error about the value written here.
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::new(self.file.clone(), self.location, self.path.clone(), message)
    }
}

/// A file named by the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFile {
    /// The path, made absolute against the configuration file's directory
    /// when written relative.
    pub path: PathBuf,
    /// Where it was written.
    pub origin: Origin,
}

/// A certificate chain and its private key, both PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFiles {
    /// The end-entity certificate first, then its intermediates.
    pub cert: TlsFile,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: TlsFile,
}

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// A protocol offered by ALPN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alpn {
    /// `h2`: HTTP/2.
    H2,
    /// `http/1.1`.
    Http11,
}

impl Alpn {
    /// The protocol id sent on the wire.
    pub fn id(self) -> &'static [u8] {
        match self {
            Alpn::H2 => b"h2",
            Alpn::Http11 => b"http/1.1",
        }
    }
}

/// TLS termination on a listener (`protocol: https`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerTls {
    /// Certificates, chosen per connection by the SNI name against their
    /// subject alternative names.
    pub certificates: Vec<CertificateFiles>,
    /// Index into `certificates` of the one used without SNI or for an
    /// unknown name.
    pub default_certificate: usize,
    /// Oldest protocol version accepted.
    pub min_version: TlsVersion,
    /// Protocols offered by ALPN, in order of preference.
    pub alpn: Vec<Alpn>,
    /// Whether TLS session tickets are issued (stateless resumption).
    pub session_tickets: bool,
    /// Sessions kept in memory for resumption by session id (0: none).
    pub session_cache: usize,
    /// Longest a handshake may take; at most the listener's header read timeout.
    pub handshake_timeout: Duration,
    /// How often certificate and key files are checked for changes; `None`: never.
    pub reload_interval: Option<Duration>,
    /// Client certificates (mTLS); `None`: not asked for.
    pub client_auth: Option<ClientAuth>,
}

/// Whether a client certificate is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthMode {
    /// Asked for; a client without one is still served (without identity).
    Optional,
    /// Asked for; the handshake fails without a valid one.
    Required,
}

/// Client certificate authentication on a TLS listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAuth {
    /// Optional or required.
    pub mode: ClientAuthMode,
    /// PEM bundle of the CAs client certificates must chain to.
    pub ca: TlsFile,
    /// Request header carrying the verified subject to upstreams.
    pub subject_header: HeaderName,
    /// Request header carrying the verified subject alternative names.
    pub san_header: HeaderName,
}

/// `Strict-Transport-Security` added to answers on an HTTPS listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hsts {
    /// `max-age`, whole seconds.
    pub max_age: Duration,
    /// `includeSubDomains`.
    pub include_subdomains: bool,
    /// `preload`.
    pub preload: bool,
}

impl Hsts {
    /// The header value, e.g. `max-age=31536000; includeSubDomains`.
    pub fn header_value(&self) -> String {
        let mut v = format!("max-age={}", self.max_age.as_secs());
        if self.include_subdomains {
            v.push_str("; includeSubDomains");
        }
        if self.preload {
            v.push_str("; preload");
        }
        v
    }
}

/// An HTTP listener that answers every request with a redirect to HTTPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpsRedirect {
    /// HTTPS port in the Location (left out when 443).
    pub port: u16,
    /// 301, 302, 307 or 308.
    pub status: StatusCode,
}

/// Which certificate authorities an upstream's certificate must chain to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustRoots {
    /// The operating system's store.
    System,
    /// The CAs in this PEM file.
    File(TlsFile),
}

/// TLS to an upstream's targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamTls {
    /// Trusted CAs.
    pub roots: TrustRoots,
    /// SNI and verified name; `None`: each target's host.
    pub server_name: Option<String>,
    /// Certificate presented to the upstream (mTLS).
    pub client_cert: Option<CertificateFiles>,
    /// Whether the upstream's certificate is verified (name and chain).
    pub verify: bool,
    /// Oldest protocol version accepted.
    pub min_version: TlsVersion,
    /// Where the `tls` section was written (for errors found when it is built).
    pub origin: Origin,
}
