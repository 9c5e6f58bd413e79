//! Building TLS configurations from files: key types and formats, the
//! errors for bad files, and reloading changed ones.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{CertificateParams, KeyPair, SignatureAlgorithm};
use tollgate_config::{
    Alpn, CertificateFiles, ClientAuth, ClientAuthMode, ListenerTls, Origin, TlsFile, TlsVersion,
};

use super::reload::Watched;
use super::*;

/// A fresh directory under the system temp dir, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "tollgate-net-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn file(path: &Path, field: &str) -> TlsFile {
    TlsFile {
        path: path.to_owned(),
        origin: Origin {
            file: "t.yaml".into(),
            location: Some((7, 9)),
            path: field.into(),
        },
    }
}

/// A self-signed certificate for `names`: (cert PEM, key PEM in PKCS#8).
fn self_signed(names: &[&str], alg: &'static SignatureAlgorithm) -> (String, String) {
    let params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    let key = KeyPair::generate_for(alg).unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn pair(dir: &Dir, name: &str, pem: &(String, String)) -> CertificateFiles {
    CertificateFiles {
        cert: file(&dir.write(&format!("{name}.pem"), &pem.0), "cert"),
        key: file(&dir.write(&format!("{name}.key"), &pem.1), "key"),
    }
}

fn listener(certificates: Vec<CertificateFiles>) -> ListenerTls {
    ListenerTls {
        certificates,
        default_certificate: 0,
        min_version: TlsVersion::Tls12,
        alpn: vec![Alpn::H2, Alpn::Http11],
        session_tickets: true,
        session_cache: 16,
        handshake_timeout: std::time::Duration::from_secs(5),
        reload_interval: None,
        client_auth: None,
    }
}

fn build_errors(tls: &ListenerTls) -> Vec<String> {
    match ServerTls::build(tls) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

/// Converts a PKCS#8 EC or RSA key PEM to the traditional format.
fn openssl_traditional(dir: &Dir, pkcs8: &Path, kind: &str) -> PathBuf {
    let out = dir.0.join(format!("traditional-{kind}.key"));
    let ok = std::process::Command::new("openssl")
        .args([kind, "-in"])
        .arg(pkcs8)
        .args(["-out"])
        .arg(&out)
        .args(if kind == "rsa" {
            &["-traditional"][..]
        } else {
            &[][..]
        })
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        out
    } else {
        PathBuf::new()
    }
}

#[test]
fn rsa_ecdsa_and_ed25519_keys_load() {
    let dir = Dir::new("keys");
    for (name, alg) in [
        ("ecdsa256", &rcgen::PKCS_ECDSA_P256_SHA256),
        ("ecdsa384", &rcgen::PKCS_ECDSA_P384_SHA384),
        ("ed25519", &rcgen::PKCS_ED25519),
        ("rsa", &rcgen::PKCS_RSA_SHA256),
    ] {
        let files = pair(&dir, name, &self_signed(&[&format!("{name}.test")], alg));
        ServerTls::build(&listener(vec![files])).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
}

#[test]
fn sec1_and_pkcs1_keys_load() {
    // rcgen writes PKCS#8 only; openssl (when installed) converts.
    let dir = Dir::new("formats");
    for (kind, alg) in [
        ("ec", &rcgen::PKCS_ECDSA_P256_SHA256),
        ("rsa", &rcgen::PKCS_RSA_SHA256),
    ] {
        let mut files = pair(&dir, kind, &self_signed(&["a.test"], alg));
        let converted = openssl_traditional(&dir, &files.key.path, kind);
        if converted.as_os_str().is_empty() {
            eprintln!("openssl not available: {kind} traditional key format not tested");
            continue;
        }
        let text = std::fs::read_to_string(&converted).unwrap();
        let marker = if kind == "ec" {
            "BEGIN EC PRIVATE KEY"
        } else {
            "BEGIN RSA PRIVATE KEY"
        };
        assert!(text.contains(marker), "{text}");
        files.key.path = converted;
        ServerTls::build(&listener(vec![files])).unwrap_or_else(|e| panic!("{kind}: {e:?}"));
    }
}

#[test]
fn bad_files_are_reported_at_their_field() {
    let dir = Dir::new("bad");
    let good = self_signed(&["a.test"], &rcgen::PKCS_ECDSA_P256_SHA256);
    let other = self_signed(&["b.test"], &rcgen::PKCS_ECDSA_P256_SHA256);
    let missing = CertificateFiles {
        cert: file(
            &dir.0.join("nope.pem"),
            "listeners[0].tls.certificates[0].cert",
        ),
        key: file(&dir.write("k0.key", &good.1), "k"),
    };
    let not_pem = CertificateFiles {
        cert: file(&dir.write("c1.pem", "hello\n"), "c1"),
        key: file(&dir.write("k1.key", &good.1), "k1"),
    };
    let broken = CertificateFiles {
        cert: file(
            &dir.write("c2.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n"),
            "c2",
        ),
        key: file(&dir.write("k2.key", &good.1), "k2"),
    };
    let no_key = CertificateFiles {
        cert: file(&dir.write("c3.pem", &good.0), "c3"),
        key: file(&dir.write("k3.key", &good.0), "k3"),
    };
    let mismatch = CertificateFiles {
        cert: file(&dir.write("c4.pem", &good.0), "c4"),
        key: file(
            &dir.write("k4.key", &other.1),
            "listeners[0].tls.certificates[4].key",
        ),
    };
    let garbage_der = CertificateFiles {
        cert: file(
            &dir.write(
                "c5.pem",
                "-----BEGIN CERTIFICATE-----\nAQIDBA==\n-----END CERTIFICATE-----\n",
            ),
            "c5",
        ),
        key: file(&dir.write("k5.key", &good.1), "k5"),
    };
    let errors = build_errors(&listener(vec![
        missing,
        not_pem,
        broken,
        no_key,
        mismatch,
        garbage_der,
    ]));
    let expect = [
        "t.yaml:7:9: listeners[0].tls.certificates[0].cert: cannot read `",
        "t.yaml:7:9: c1: no certificate in `",
        "t.yaml:7:9: c2: invalid PEM in `",
        "t.yaml:7:9: k3: no private key in `",
        "t.yaml:7:9: listeners[0].tls.certificates[4].key: the private key in `",
        "t.yaml:7:9: c5: certificate 1 in `",
    ];
    assert_eq!(errors.len(), expect.len(), "{errors:#?}");
    for (e, want) in errors.iter().zip(expect) {
        assert!(e.starts_with(want), "{e}\n  should start with {want}");
    }
    assert!(
        errors[2].contains("missing `-----END CERTIFICATE-----`"),
        "{}",
        errors[2]
    );
    assert!(
        errors[4].contains("does not belong to the certificate"),
        "{}",
        errors[4]
    );
}

#[test]
fn client_auth_needs_a_usable_ca_bundle() {
    let dir = Dir::new("ca");
    let good = self_signed(&["a.test"], &rcgen::PKCS_ECDSA_P256_SHA256);
    let mut tls = listener(vec![pair(&dir, "a", &good)]);
    tls.client_auth = Some(ClientAuth {
        mode: ClientAuthMode::Required,
        ca: file(
            &dir.write("ca.pem", "nothing here"),
            "listeners[0].tls.client_auth.ca",
        ),
        subject_header: http::HeaderName::from_static("x-s"),
        san_header: http::HeaderName::from_static("x-n"),
    });
    let errors = build_errors(&tls);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("t.yaml:7:9: listeners[0].tls.client_auth.ca: no certificate in"),
        "{}",
        errors[0]
    );
    if let Some(auth) = tls.client_auth.as_mut() {
        auth.ca = file(&dir.write("ca2.pem", &good.0), "ca");
    }
    ServerTls::build(&tls).unwrap();
}

#[test]
fn changed_files_are_reloaded_and_bad_ones_keep_the_old() {
    let dir = Dir::new("reload");
    let first = self_signed(&["one.test"], &rcgen::PKCS_ECDSA_P256_SHA256);
    let files = pair(&dir, "site", &first);
    let tls = Arc::new(ServerTls::build(&listener(vec![files.clone()])).unwrap());
    let mut watched = Watched::new(tls.clone());
    let served = |tls: &ServerTls| {
        let key = tls.resolver.current().pick(None, &[]).unwrap();
        CertNames::from_der(&key.cert[0]).unwrap().dns
    };
    assert_eq!(watched.check(), 0, "nothing changed yet");
    assert_eq!(served(&tls), ["one.test"]);

    // The certificate is replaced before its key: the pair does not match
    // yet, so the old one stays; once the key follows, the new one is used.
    let second = self_signed(&["two.test"], &rcgen::PKCS_ECDSA_P256_SHA256);
    replace(&files.cert.path, &second.0);
    assert_eq!(watched.check(), 0);
    assert_eq!(served(&tls), ["one.test"]);
    replace(&files.key.path, &second.1);
    assert_eq!(watched.check(), 1);
    assert_eq!(served(&tls), ["two.test"]);

    // A broken file keeps the current certificate; nothing is retried until
    // the files change again.
    replace(&files.cert.path, "garbage");
    assert_eq!(watched.check(), 0);
    assert_eq!(watched.check(), 0);
    assert_eq!(served(&tls), ["two.test"]);
    std::fs::remove_file(&files.key.path).unwrap();
    assert_eq!(watched.check(), 0);
    assert_eq!(served(&tls), ["two.test"]);
}

/// Replaces a file the way deployment tools do: write aside, rename over.
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}
