//! The admin API's listener (`admin:`): where it listens and how a caller
//! proves it may use it.

use std::net::SocketAddr;
use std::path::PathBuf;

/// `admin:` as validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    /// Where the admin API listens; `127.0.0.1:9901` unless written.
    pub address: SocketAddr,
    /// The bearer token callers must send; `None` means no authentication,
    /// which validation allows on loopback addresses only.
    pub token: Option<SecretSource>,
    /// Whether `GET /metrics` answers without the token (scrapers that
    /// cannot send one); `false` unless written.
    pub metrics_public: bool,
    /// Whether requests are counted for `/metrics` (`true` unless
    /// written); `false` skips the per-request counting on the data path
    /// and leaves the request families out of `/metrics`.
    pub metrics: bool,
    /// HTTPS on the admin listener; `None`: plain HTTP.
    pub tls: Option<AdminTls>,
}

/// `admin.tls`: the admin listener's certificate and, with `client_ca`,
/// the CAs a caller's certificate must chain to (mTLS: the handshake
/// fails without one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminTls {
    /// The certificate chain and key the admin listener presents.
    pub certificate: super::CertificateFiles,
    /// PEM bundle of the CAs client certificates must chain to; `None`:
    /// no client certificate is asked for.
    pub client_ca: Option<super::TlsFile>,
}

/// Where a secret is read from when tollgate starts; the value itself is
/// never part of the configuration, so it cannot leak through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The file's contents, without the trailing newline.
    File(PathBuf),
    /// The value of this environment variable.
    Env(String),
}

impl SecretSource {
    /// Reads the secret now; the error says where from, never the value.
    pub fn read(&self) -> Result<String, String> {
        let value = match self {
            Self::File(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
            Self::Env(name) => std::env::var(name)
                .map_err(|_| format!("environment variable {name} is not set"))?,
        };
        let value = value.trim_end_matches(['\r', '\n']).to_string();
        if value.is_empty() {
            return Err(match self {
                Self::File(path) => format!("{} is empty", path.display()),
                Self::Env(name) => format!("environment variable {name} is empty"),
            });
        }
        Ok(value)
    }
}
