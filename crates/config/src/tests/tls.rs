//! TLS settings: listeners' `tls`, `hsts` and `redirect_https`, upstreams'
//! `tls`, their defaults and their errors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

const ROUTES: &str = "routes:\n  - {name: r, respond: {}}\n";

#[test]
fn https_listener_with_every_field() {
    let text = format!(
        r#"listeners:
  - name: secure
    address: 127.0.0.1:8443
    protocol: https
    limits: {{header_read_timeout: 20s}}
    tls:
      certificates:
        - {{cert: /etc/tg/a.pem, key: /etc/tg/a.key}}
        - {{cert: certs/b.pem, key: certs/b.key, default: true}}
      min_version: "1.3"
      alpn: [http/1.1]
      session_tickets: false
      session_cache: 0
      handshake_timeout: 3s
      reload_interval: 0s
      client_auth: {{mode: optional, ca: /etc/tg/ca.pem, subject_header: X-Who, san_header: X-Who-San}}
    hsts: {{max_age: 8760h, include_subdomains: true, preload: true}}
  - name: plain
    address: 127.0.0.1:8080
    redirect_https: {{port: 8443, status: 301}}
{ROUTES}"#
    );
    let c = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let l = &c.listeners[0];
    assert_eq!(l.protocol, ListenerProtocol::Https);
    let tls = l.tls.as_ref().unwrap();
    assert_eq!(tls.certificates.len(), 2);
    assert_eq!(
        tls.certificates[0].cert.path,
        PathBuf::from("/etc/tg/a.pem")
    );
    assert_eq!(
        tls.certificates[1].key.path,
        Path::new(".").join("certs/b.key")
    );
    let origin = &tls.certificates[1].key.origin;
    assert_eq!(origin.path, "listeners[0].tls.certificates[1].key");
    assert_eq!(origin.location, Some((9, 36)));
    assert_eq!(
        origin.error("bad").to_string(),
        "test.yaml:9:36: listeners[0].tls.certificates[1].key: bad"
    );
    assert_eq!(tls.default_certificate, 1);
    assert_eq!(tls.min_version, TlsVersion::Tls13);
    assert_eq!(tls.alpn, [Alpn::Http11]);
    assert!(!tls.session_tickets);
    assert_eq!(tls.session_cache, 0);
    assert_eq!(tls.handshake_timeout, Duration::from_secs(3));
    assert_eq!(tls.reload_interval, None);
    let auth = tls.client_auth.as_ref().unwrap();
    assert_eq!(auth.mode, ClientAuthMode::Optional);
    assert_eq!(auth.ca.path, PathBuf::from("/etc/tg/ca.pem"));
    assert_eq!(auth.subject_header, "x-who");
    assert_eq!(auth.san_header, "x-who-san");
    let hsts = l.hsts.as_ref().unwrap();
    assert_eq!(
        hsts.header_value(),
        "max-age=31536000; includeSubDomains; preload"
    );
    assert!(l.redirect_https.is_none());

    let plain = &c.listeners[1];
    assert!(plain.tls.is_none() && plain.hsts.is_none());
    let r = plain.redirect_https.as_ref().unwrap();
    assert_eq!((r.port, r.status.as_u16()), (8443, 301));
}

#[test]
fn https_listener_defaults() {
    let text = format!(
        "listeners:\n  - {{name: s, address: \"127.0.0.1:0\", protocol: https, tls: {{certificates: [{{cert: c.pem, key: k.pem}}], client_auth: {{ca: ca.pem}}}}, hsts: {{}}}}\n  - {{name: p, address: \"127.0.0.1:0\", redirect_https: {{}}}}\n{ROUTES}"
    );
    let c = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let tls = c.listeners[0].tls.as_ref().unwrap();
    assert_eq!(tls.default_certificate, 0);
    assert_eq!(tls.min_version, TlsVersion::Tls12);
    assert_eq!(tls.alpn, [Alpn::H2, Alpn::Http11]);
    assert!(tls.session_tickets);
    assert_eq!(tls.session_cache, 4096);
    assert_eq!(tls.handshake_timeout, Duration::from_secs(10));
    assert_eq!(tls.reload_interval, Some(Duration::from_secs(5)));
    let auth = tls.client_auth.as_ref().unwrap();
    assert_eq!(auth.mode, ClientAuthMode::Required);
    assert_eq!(auth.subject_header, "x-client-cert-subject");
    assert_eq!(auth.san_header, "x-client-cert-san");
    assert_eq!(
        c.listeners[0].hsts.as_ref().unwrap().header_value(),
        "max-age=31536000"
    );
    let r = c.listeners[1].redirect_https.as_ref().unwrap();
    assert_eq!((r.port, r.status.as_u16()), (443, 308));
}

#[test]
fn listener_tls_errors() {
    let text = r#"listeners:
  - {name: a, address: "127.0.0.1:0", protocol: https}
  - {name: b, address: "127.0.0.1:0", tls: {certificates: [{cert: c, key: k}]}, hsts: {}}
  - name: c
    address: "127.0.0.1:0"
    protocol: https
    redirect_https: {}
    limits: {header_read_timeout: 2s}
    tls:
      certificates:
        - {cert: c, default: true}
        - {cert: "", key: k, default: true}
      min_version: "1.1"
      alpn: [h2, h2, spdy]
      handshake_timeout: 5s
      client_auth: {mode: sometimes, san_header: X-Client-Cert-Subject}
  - {name: d, address: "127.0.0.1:0", protocol: https, tls: {certificates: []}, hsts: {max_age: 1h, preload: true}}
  - {name: e, address: "127.0.0.1:0", protocol: ftp, redirect_https: {port: 0, status: 302}}
  - {name: f, address: "127.0.0.1:0", redirect_https: {status: 303}}
"#;
    expect_errors(
        &format!("{text}{ROUTES}"),
        &[
            (2, "listeners[0].tls", "missing required field `tls`"),
            (3, "listeners[1].tls", "only allowed with `protocol: https`"),
            (
                3,
                "listeners[1].hsts",
                "only allowed with `protocol: https`",
            ),
            (
                7,
                "listeners[2].redirect_https",
                "only allowed with `protocol: http`",
            ),
            (
                11,
                "listeners[2].tls.certificates[0].key",
                "missing required field `key`",
            ),
            (
                12,
                "listeners[2].tls.certificates[1].cert",
                "must not be empty",
            ),
            (
                12,
                "listeners[2].tls.certificates[1].default",
                "only one certificate",
            ),
            (
                13,
                "listeners[2].tls.min_version",
                "expected \"1.2\" or \"1.3\"",
            ),
            (14, "listeners[2].tls.alpn[1]", "listed twice"),
            (14, "listeners[2].tls.alpn[2]", "unknown protocol `spdy`"),
            (
                15,
                "listeners[2].tls.handshake_timeout",
                "at most the listener's",
            ),
            (
                16,
                "listeners[2].tls.client_auth.ca",
                "missing required field `ca`",
            ),
            (
                16,
                "listeners[2].tls.client_auth.mode",
                "expected `optional` or `required`",
            ),
            (16, "listeners[2].tls.client_auth.san_header", "must differ"),
            (
                17,
                "listeners[3].tls.certificates",
                "at least one certificate",
            ),
            (17, "listeners[3].hsts.preload", "include_subdomains: true"),
            (
                18,
                "listeners[4].protocol",
                "expected `http`, `https`, `tcp`, `tls_passthrough` or `udp`",
            ),
            (
                18,
                "listeners[4].redirect_https.port",
                "between 1 and 65535",
            ),
            (
                19,
                "listeners[5].redirect_https.status",
                "expected 301, 302, 307 or 308",
            ),
        ],
    );
}

#[test]
fn upstream_tls_fields_and_defaults() {
    let text = format!(
        r#"listeners: [{{name: web, address: "127.0.0.1:0"}}]
upstreams:
  - name: full
    protocol: h2
    targets: [{{address: "10.0.0.1:443"}}]
    tls:
      ca: certs/ca.pem
      server_name: API.internal
      client_cert: {{cert: /c.pem, key: /k.pem}}
      min_version: "1.3"
  - name: bare
    targets: [{{address: "10.0.0.2:443"}}]
    tls: {{}}
  - name: insecure
    targets: [{{address: "10.0.0.3:443"}}]
    tls: {{verify: false, ca: system}}
  - name: clear
    targets: [{{address: "10.0.0.4:80"}}]
{ROUTES}"#
    );
    let c = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let full = &c.upstreams[0];
    assert_eq!(full.protocol, UpstreamProtocol::H2);
    let tls = full.tls.as_ref().unwrap();
    assert_eq!(
        tls.roots,
        TrustRoots::File(TlsFile {
            path: Path::new(".").join("certs/ca.pem"),
            origin: Origin {
                file: "test.yaml".into(),
                location: Some((7, 11)),
                path: "upstreams[0].tls.ca".into(),
            },
        })
    );
    assert_eq!(tls.server_name.as_deref(), Some("api.internal"));
    let client = tls.client_cert.as_ref().unwrap();
    assert_eq!(client.cert.path, PathBuf::from("/c.pem"));
    assert_eq!(client.key.path, PathBuf::from("/k.pem"));
    assert!(tls.verify);
    assert_eq!(tls.min_version, TlsVersion::Tls13);
    assert_eq!(tls.origin.path, "upstreams[0].tls");

    let bare = c.upstreams[1].tls.as_ref().unwrap();
    assert_eq!(bare.roots, TrustRoots::System);
    assert_eq!(bare.server_name, None);
    assert!(bare.client_cert.is_none());
    assert!(bare.verify);
    assert_eq!(bare.min_version, TlsVersion::Tls12);
    assert_eq!(c.upstreams[1].protocol, UpstreamProtocol::Http1);

    assert!(!c.upstreams[2].tls.as_ref().unwrap().verify);
    assert!(c.upstreams[3].tls.is_none());
}

#[test]
fn upstream_tls_errors() {
    let text = r#"listeners: [{name: web, address: "127.0.0.1:0"}]
upstreams:
  - {name: a, protocol: h2, targets: [{address: "10.0.0.1:443"}]}
  - {name: b, protocol: h2c, targets: [{address: "10.0.0.1:443"}], tls: {}}
  - name: c
    targets: [{address: "10.0.0.1:443"}]
    tls:
      ca: /ca.pem
      verify: false
      server_name: "bad name"
      client_cert: {cert: /c.pem}
      min_version: "1.0"
"#;
    expect_errors(
        &format!("{text}{ROUTES}"),
        &[
            (3, "upstreams[0].protocol", "needs a `tls` section"),
            (4, "upstreams[1].protocol", "write `protocol: h2`"),
            (8, "upstreams[2].tls.ca", "no effect with `verify: false`"),
            (10, "upstreams[2].tls.server_name", "invalid server name"),
            (
                11,
                "upstreams[2].tls.client_cert.key",
                "missing required field `key`",
            ),
            (
                12,
                "upstreams[2].tls.min_version",
                "expected \"1.2\" or \"1.3\"",
            ),
        ],
    );
}

#[test]
fn relative_paths_follow_the_config_file() {
    let tmp = TempDir::new("tls");
    let dir = &tmp.0;
    let file = dir.join("tollgate.yaml");
    std::fs::write(
        &file,
        format!("listeners:\n  - {{name: s, address: \"127.0.0.1:0\", protocol: https, tls: {{certificates: [{{cert: certs/a.pem, key: /abs/a.key}}]}}}}\n{ROUTES}"),
    )
    .unwrap();
    let c = load(&file).unwrap_or_else(|e| panic!("{e}"));
    let pair = &c.listeners[0].tls.as_ref().unwrap().certificates[0];
    assert_eq!(pair.cert.path, dir.join("certs/a.pem"));
    assert_eq!(pair.key.path, PathBuf::from("/abs/a.key"));
}

#[test]
fn where_a_file_was_written_does_not_make_settings_differ() {
    let at = |line| Origin {
        file: "a.yaml".into(),
        location: Some((line, 3)),
        path: "listeners[0].tls".into(),
    };
    // A line added above moves the origin; the setting is the same.
    assert_eq!(at(4), at(9));
}
