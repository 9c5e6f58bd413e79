//! TLS for tests: a throw-away certificate authority issuing server and
//! client certificates ([`TestCa`]), PEM files in a temporary directory
//! ([`TempDir`]), and TLS clients ([`TlsOptions`], [`tls_connect`],
//! [`TlsConn`]) that report what the handshake gave (the server's names,
//! ALPN, version) and send HTTP/1.1 or HTTP/2 requests as ALPN chose.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::{Method, Request, Version};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tollgate_net::tls::CertNames;

use crate::client::{collect, HttpResponse};
use crate::{runtime, CLIENT_TIMEOUT};

/// A certificate and its private key, PEM.
#[derive(Debug, Clone)]
pub struct CertPair {
    /// The certificate (leaf only).
    pub cert_pem: String,
    /// The private key, PKCS#8.
    pub key_pem: String,
}

/// A certificate authority for one test: ECDSA P-256, valid from now.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

impl TestCa {
    /// A new CA whose subject is `CN=<name>`.
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("CA key");
        Self {
            issuer: CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
        }
    }

    /// An intermediate CA signed by this one: certificates it issues
    /// verify only when the intermediate is sent along (see
    /// [`TestCa::cert_pem`] of the intermediate, to append to a chain).
    pub fn intermediate(&self, name: &str) -> TestCa {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("intermediate key");
        Self {
            issuer: CertifiedIssuer::signed_by(params, key, &self.issuer)
                .expect("intermediate certificate"),
        }
    }

    /// The CA certificate, PEM (what clients and servers trust).
    pub fn cert_pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for `names` (DNS names, `*.wildcards` or IP
    /// addresses), subject `CN=<first name>`.
    pub fn server_cert(&self, names: &[&str]) -> CertPair {
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("server names");
        params.distinguished_name = dn(names.first().copied().unwrap_or("server"));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params)
    }

    /// A client certificate with subject `CN=<common_name>,O=tollgate tests`
    /// and the alternative names given (`DNS:` prefix-free DNS names, or
    /// URIs such as `spiffe://test/alice` when they contain `://`).
    pub fn client_cert(&self, common_name: &str, alt_names: &[&str]) -> CertPair {
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::OrganizationName, "tollgate tests");
        name.push(DnType::CommonName, common_name);
        params.distinguished_name = name;
        params.subject_alt_names = alt_names
            .iter()
            .map(|n| {
                if n.contains("://") {
                    SanType::URI((*n).try_into().expect("URI"))
                } else {
                    SanType::DnsName((*n).try_into().expect("DNS name"))
                }
            })
            .collect();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params)
    }

    fn issue(&self, params: CertificateParams) -> CertPair {
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("certificate");
        CertPair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name
}

impl crate::TempDir {
    /// Writes a certificate and key as `<name>.pem` and `<name>.key`;
    /// returns their paths.
    pub fn write_pair(&self, name: &str, pair: &CertPair) -> (PathBuf, PathBuf) {
        (
            self.write(&format!("{name}.pem"), &pair.cert_pem),
            self.write(&format!("{name}.key"), &pair.key_pem),
        )
    }
}

/// How a test client connects.
#[derive(Debug, Clone)]
pub struct TlsOptions {
    /// PEM of the CA(s) the server's certificate must chain to.
    pub ca_pem: String,
    /// Name sent as SNI (and verified); `None` sends no SNI and skips the
    /// name check (the chain is still verified).
    pub server_name: Option<String>,
    /// ALPN protocols offered, e.g. `["h2", "http/1.1"]`.
    pub alpn: Vec<String>,
    /// Client certificate presented (mTLS).
    pub client_cert: Option<CertPair>,
    /// Offer TLS 1.2 only.
    pub tls12_only: bool,
    /// The client configuration, made on first use and shared by clones
    /// (so later connections can resume the session of earlier ones).
    config: Arc<OnceLock<Arc<rustls::ClientConfig>>>,
}

impl TlsOptions {
    /// Trusts `ca`, sends `server_name` as SNI, offers `http/1.1` only.
    pub fn new(ca: &TestCa, server_name: &str) -> Self {
        Self {
            ca_pem: ca.cert_pem(),
            server_name: Some(server_name.to_owned()),
            alpn: vec!["http/1.1".into()],
            client_cert: None,
            tls12_only: false,
            config: Arc::default(),
        }
    }

    /// Offers these ALPN protocols instead.
    pub fn alpn(mut self, protocols: &[&str]) -> Self {
        self.alpn = protocols.iter().map(|p| (*p).to_owned()).collect();
        self.config = Arc::default();
        self
    }

    /// Presents `pair` as client certificate.
    pub fn client_cert(mut self, pair: &CertPair) -> Self {
        self.client_cert = Some(pair.clone());
        self.config = Arc::default();
        self
    }

    /// Offers TLS 1.2 only.
    pub fn tls12_only(mut self) -> Self {
        self.tls12_only = true;
        self.config = Arc::default();
        self
    }

    fn config(&self) -> Arc<rustls::ClientConfig> {
        self.config.get_or_init(|| self.make_config()).clone()
    }

    /// The rustls client configuration these options make (for clients
    /// the kit builds elsewhere, such as the gRPC one).
    pub(crate) fn client_config(&self) -> Arc<rustls::ClientConfig> {
        self.config()
    }

    fn make_config(&self) -> Arc<rustls::ClientConfig> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(self.ca_pem.as_bytes()) {
            roots.add(cert.expect("CA PEM")).expect("CA certificate");
        }
        let versions: &[&rustls::SupportedProtocolVersion] = if self.tls12_only {
            &[&rustls::version::TLS12]
        } else {
            &[&rustls::version::TLS13, &rustls::version::TLS12]
        };
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .expect("versions");
        let builder = if self.server_name.is_some() {
            builder.with_root_certificates(roots)
        } else {
            let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .expect("verifier");
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnly(verifier)))
        };
        let mut config = match &self.client_cert {
            None => builder.with_no_client_auth(),
            Some(pair) => builder
                .with_client_auth_cert(
                    CertificateDer::pem_slice_iter(pair.cert_pem.as_bytes())
                        .collect::<Result<Vec<_>, _>>()
                        .expect("client cert PEM"),
                    PrivateKeyDer::from_pem_slice(pair.key_pem.as_bytes()).expect("client key"),
                )
                .expect("client certificate"),
        };
        config.alpn_protocols = self.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        config.enable_sni = self.server_name.is_some();
        Arc::new(config)
    }
}

/// Without SNI there is no name to check: verifies the chain, accepts any
/// name (the test looks at which certificate came).
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl rustls::client::danger::ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// An open TLS connection to a server, ready for requests.
pub struct TlsConn {
    /// The DNS names of the certificate the server presented.
    pub peer_names: Vec<String>,
    /// The subject common name of that certificate.
    pub peer_common_name: Option<String>,
    /// The protocol ALPN chose (`h2`, `http/1.1`), if any.
    pub alpn: Option<String>,
    /// `TLSv1_3` or `TLSv1_2`.
    pub version: String,
    /// Whether the handshake resumed an earlier session.
    pub resumed: bool,
    sender: Sender,
}

impl std::fmt::Debug for TlsConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConn")
            .field("peer_names", &self.peer_names)
            .field("alpn", &self.alpn)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

enum Sender {
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

/// Connects to `addr` with TLS and sets up HTTP/2 (when ALPN chose `h2`)
/// or HTTP/1.1 on it. `Err` describes a failed handshake.
pub fn tls_connect(addr: SocketAddr, opts: &TlsOptions) -> Result<TlsConn, String> {
    let config = opts.config();
    // Without a name to send, SNI is switched off and any name accepted.
    let name = ServerName::try_from(
        opts.server_name
            .clone()
            .unwrap_or_else(|| "no-sni.invalid".to_owned()),
    )
    .map_err(|e| format!("server name: {e}"))?;
    block_on(async move {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake: {e}"))?;
        let conn = tls.get_ref().1;
        let leaf = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|c| CertNames::from_der(c))
            .unwrap_or_default();
        let alpn = conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        let version = conn
            .protocol_version()
            .map_or_else(String::new, |v| format!("{v:?}"));
        let resumed = conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        let io = TokioIo::new(tls);
        let sender = if alpn.as_deref() == Some("h2") {
            let (sender, driver) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                .await
                .map_err(|e| format!("HTTP/2 handshake: {e}"))?;
            tokio::spawn(driver);
            Sender::H2(sender)
        } else {
            let (sender, driver) = hyper::client::conn::http1::handshake(io)
                .await
                .map_err(|e| format!("HTTP/1.1 handshake: {e}"))?;
            tokio::spawn(driver);
            Sender::H1(sender)
        };
        Ok(TlsConn {
            peer_names: leaf.dns,
            peer_common_name: leaf.common_name,
            alpn,
            version,
            resumed,
            sender,
        })
    })
}

impl TlsConn {
    /// Sends one request on the connection (`Host`/`:authority` is
    /// `host`); `Err` when the connection failed.
    pub fn request(
        &mut self,
        method: &str,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<HttpResponse, String> {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let build = |uri: String, version: Version| {
            let mut b = Request::builder()
                .method(method.clone())
                .uri(uri)
                .version(version);
            for (n, v) in headers {
                b = b.header(*n, *v);
            }
            b
        };
        match &mut self.sender {
            Sender::H1(s) => {
                let req = build(path.to_owned(), Version::HTTP_11)
                    .header("host", host)
                    .body(Full::new(Bytes::new()))
                    .expect("request");
                block_on(async move {
                    s.ready().await.map_err(|e| format!("connection: {e}"))?;
                    let resp = s
                        .send_request(req)
                        .await
                        .map_err(|e| format!("request: {e}"))?;
                    Ok(collect(resp).await)
                })
            }
            Sender::H2(s) => {
                let req = build(format!("https://{host}{path}"), Version::HTTP_2)
                    .body(Full::new(Bytes::new()))
                    .expect("request");
                block_on(async move {
                    s.ready().await.map_err(|e| format!("connection: {e}"))?;
                    let resp = s
                        .send_request(req)
                        .await
                        .map_err(|e| format!("request: {e}"))?;
                    Ok(collect(resp).await)
                })
            }
        }
    }

    /// `GET path` with `Host: host`.
    pub fn get(&mut self, host: &str, path: &str) -> Result<HttpResponse, String> {
        self.request("GET", host, path, &[])
    }
}

/// Connects, sends `GET path` with the SNI name as host, returns the answer
/// or what failed (handshake, or the server closing instead of answering).
pub fn tls_get(addr: SocketAddr, opts: &TlsOptions, path: &str) -> Result<HttpResponse, String> {
    let host = opts.server_name.clone().unwrap_or_else(|| addr.to_string());
    tls_connect(addr, opts)?.get(&host, path)
}

/// Connects with TLS, writes `request` as is and reads until the server
/// closes. `Err` also when the server closed without TLS close_notify
/// (the answer could have been cut).
pub fn tls_raw_request(
    addr: SocketAddr,
    opts: &TlsOptions,
    request: &[u8],
) -> Result<Vec<u8>, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = opts.config();
    let name = ServerName::try_from(
        opts.server_name
            .clone()
            .unwrap_or_else(|| "no-sni.invalid".to_owned()),
    )
    .map_err(|e| format!("server name: {e}"))?;
    let request = request.to_vec();
    block_on(async move {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let mut tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake: {e}"))?;
        tls.write_all(&request)
            .await
            .map_err(|e| format!("write: {e}"))?;
        tls.flush().await.map_err(|e| format!("write: {e}"))?;
        let mut out = Vec::new();
        tls.read_to_end(&mut out)
            .await
            .map_err(|e| format!("read: {e} (after {} bytes)", out.len()))?;
        Ok(out)
    })
}

fn block_on<T>(fut: impl std::future::Future<Output = T>) -> T {
    runtime().block_on(async {
        tokio::time::timeout(CLIENT_TIMEOUT, fut)
            .await
            .unwrap_or_else(|_| panic!("TLS client took longer than {CLIENT_TIMEOUT:?}"))
    })
}

/// A server configuration presenting `pair`, offering `alpn`.
pub(crate) fn server_config(pair: &CertPair, alpn: &[&str]) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            CertificateDer::pem_slice_iter(pair.cert_pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .expect("certificate PEM"),
            PrivateKeyDer::from_pem_slice(pair.key_pem.as_bytes()).expect("key PEM"),
        )
        .expect("server certificate");
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    Arc::new(config)
}
