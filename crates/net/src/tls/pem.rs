//! Reading certificates, keys and CA bundles from PEM files, with errors
//! that name the configuration field the file came from.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::RootCertStore;
use tollgate_config::{CertificateFiles, ConfigError, TlsFile};

use super::x509::CertNames;

/// Reads a file whole; the error names it.
fn read(file: &TlsFile) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(&file.path).map_err(|e| {
        file.origin
            .error(format!("cannot read `{}`: {e}", file.path.display()))
    })
}

/// A PEM syntax error in words (the library's own prints byte arrays).
fn pem_error(file: &TlsFile, e: &pem::Error) -> ConfigError {
    let why = match e {
        pem::Error::MissingSectionEnd { end_marker } => {
            format!(
                "missing `-----END {}-----`",
                String::from_utf8_lossy(end_marker)
            )
        }
        pem::Error::IllegalSectionStart { line } => {
            format!("malformed line `{}`", String::from_utf8_lossy(line))
        }
        other => other.to_string(),
    };
    file.origin
        .error(format!("invalid PEM in `{}`: {why}", file.path.display()))
}

/// Every certificate in a PEM file, in order; at least one.
pub(crate) fn certificates(file: &TlsFile) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let bytes = read(file)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(file, &e))?;
    if certs.is_empty() {
        return Err(file.origin.error(format!(
            "no certificate in `{}`: expected PEM `-----BEGIN CERTIFICATE-----` blocks",
            file.path.display()
        )));
    }
    for (i, c) in certs.iter().enumerate() {
        if CertNames::from_der(c).is_none() {
            return Err(file.origin.error(format!(
                "certificate {} in `{}` is not a valid X.509 certificate",
                i + 1,
                file.path.display()
            )));
        }
    }
    Ok(certs)
}

/// The private key in a PEM file (PKCS#8, PKCS#1 or SEC1).
fn private_key(file: &TlsFile) -> Result<PrivateKeyDer<'static>, ConfigError> {
    let bytes = read(file)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => file.origin.error(format!(
            "no private key in `{}`: expected PEM `BEGIN PRIVATE KEY` (PKCS#8), `BEGIN RSA PRIVATE KEY` (PKCS#1) or `BEGIN EC PRIVATE KEY` (SEC1)",
            file.path.display()
        )),
        other => pem_error(file, &other),
    })
}

/// A certificate chain and its key, checked to belong together.
pub(crate) fn certified_key(
    files: &CertificateFiles,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, ConfigError> {
    let chain = certificates(&files.cert)?;
    let key = private_key(&files.key)?;
    let signing = provider.key_provider.load_private_key(key).map_err(|e| {
        files.key.origin.error(format!(
            "unusable private key in `{}`: {e} (supported: RSA, ECDSA P-256/P-384, Ed25519)",
            files.key.path.display()
        ))
    })?;
    let pair = CertifiedKey::new(chain, signing);
    match pair.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok(pair)
        }
        Err(rustls::Error::InconsistentKeys(_)) => Err(files.key.origin.error(format!(
            "the private key in `{}` does not belong to the certificate in `{}`",
            files.key.path.display(),
            files.cert.path.display()
        ))),
        Err(e) => Err(files.cert.origin.error(format!(
            "unusable certificate in `{}`: {e}",
            files.cert.path.display()
        ))),
    }
}

/// A trust store of every CA certificate in a PEM bundle.
pub(crate) fn roots(file: &TlsFile) -> Result<Arc<RootCertStore>, ConfigError> {
    let certs = certificates(file)?;
    let mut store = RootCertStore::empty();
    for (i, c) in certs.into_iter().enumerate() {
        store.add(c).map_err(|e| {
            file.origin.error(format!(
                "certificate {} in `{}` cannot be a trust anchor: {e}",
                i + 1,
                file.path.display()
            ))
        })?;
    }
    Ok(Arc::new(store))
}
