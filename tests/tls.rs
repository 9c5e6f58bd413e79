//! HTTPS listeners against real TLS clients: SNI certificate choice,
//! ALPN (h2 and http/1.1), minimum version, session resumption, certificate
//! reload, client certificates (mTLS), HSTS, redirects to HTTPS and the
//! handshake timeout.

use std::io::Read;
use std::time::{Duration, Instant};

use tollgate_testkit::{
    connect, parse_response, raw_request, render, tls_connect, tls_get, tls_raw_request, CertPair,
    TempDir, TestCa, TlsOptions, Tollgate, Upstream,
};

/// Certificates signed by one CA, written to a temp dir.
struct Pki {
    ca: TestCa,
    dir: TempDir,
}

impl Pki {
    fn new() -> Self {
        Self {
            ca: TestCa::new("tollgate test CA"),
            dir: TempDir::new(),
        }
    }

    /// A server certificate for `names`, written as `<file>.pem/.key`;
    /// returns the YAML `{cert: ..., key: ...}`.
    fn server(&self, file: &str, names: &[&str]) -> String {
        self.entry(file, &self.ca.server_cert(names))
    }

    fn entry(&self, file: &str, pair: &CertPair) -> String {
        let (cert, key) = self.dir.write_pair(file, pair);
        format!(
            "{{cert: \"{}\", key: \"{}\"}}",
            cert.display(),
            key.display()
        )
    }

    fn ca_file(&self) -> String {
        self.dir
            .write("ca.pem", self.ca.cert_pem())
            .display()
            .to_string()
    }

    fn opts(&self, sni: &str) -> TlsOptions {
        TlsOptions::new(&self.ca, sni)
    }
}

/// One HTTPS listener `tls` (with `tls_extra` fields in its `tls:` and
/// `listener_extra` fields on the listener) and one plain listener `web`,
/// both forwarding to `up`.
fn start(up: &Upstream, certificates: &str, tls_extra: &str, listener_extra: &str) -> Tollgate {
    Tollgate::start_with_defaults(&render(
        r#"
listeners:
  - name: tls
    address: 127.0.0.1:0
    protocol: https
    tls:
      certificates: [{certificates}]
      {tls_extra}
    {listener_extra}
  - {name: web, address: 127.0.0.1:0}
upstreams:
  - {name: u, targets: [{address: "{up}"}]}
routes:
  - {name: echo, upstream: u, forwarding: {forwarded: append}}
  - {name: fixed, match: {path: {prefix: /fixed}}, respond: {body: fixed}}
"#,
        &[
            ("certificates", &certificates),
            ("tls_extra", &tls_extra),
            ("listener_extra", &listener_extra),
            ("up", &up.addr()),
        ],
    ))
}

#[test]
fn sni_chooses_the_certificate_exact_wildcard_or_default() {
    let pki = Pki::new();
    let up = Upstream::echo();
    let certs = [
        pki.server("default", &["default.test"]),
        pki.server("api", &["api.example.com"]),
        pki.server("wild", &["*.example.com"]),
    ]
    .join(", ");
    let tg = start(&up, &certs, "", "");
    let addr = tg.addr("tls");
    let names = |sni: &str| {
        tls_connect(addr, &pki.opts(sni))
            .unwrap_or_else(|e| panic!("{sni}: {e}"))
            .peer_names
    };
    assert_eq!(names("api.example.com"), ["api.example.com"]);
    assert_eq!(names("API.EXAMPLE.COM"), ["api.example.com"]);
    assert_eq!(names("www.example.com"), ["*.example.com"]);

    // Unknown names and no SNI at all get the default (first) certificate;
    // a client checking the name would refuse it, so check without.
    let mut no_name = pki.opts("x");
    no_name.server_name = None;
    let conn = tls_connect(addr, &no_name).unwrap();
    assert_eq!(conn.peer_names, ["default.test"]);
    assert!(tls_connect(addr, &pki.opts("unknown.test")).is_err());

    let resp = tls_get(addr, &pki.opts("api.example.com"), "/hello").unwrap();
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.echo().path, "/hello");
}

#[test]
fn the_chain_in_the_certificate_file_is_sent() {
    let pki = Pki::new();
    let up = Upstream::echo();
    let intermediate = pki.ca.intermediate("tollgate test intermediate");
    let leaf = intermediate.server_cert(&["chained.test"]);
    // Clients trust only the root: the leaf verifies through the intermediate
    // tollgate sends after it.
    let chained = CertPair {
        cert_pem: format!("{}{}", leaf.cert_pem, intermediate.cert_pem()),
        key_pem: leaf.key_pem.clone(),
    };
    let tg = start(&up, &pki.entry("chained", &chained), "", "");
    let resp = tls_get(tg.addr("tls"), &pki.opts("chained.test"), "/").unwrap();
    assert_eq!(resp.status, 200);

    let alone = start(&up, &pki.entry("alone", &leaf), "", "");
    let err = tls_get(alone.addr("tls"), &pki.opts("chained.test"), "/").unwrap_err();
    assert!(err.contains("UnknownIssuer"), "{err}");
}

#[test]
fn a_certificate_marked_default_answers_unknown_names() {
    let pki = Pki::new();
    let up = Upstream::echo();
    let (cert, key) = pki
        .dir
        .write_pair("fallback", &pki.ca.server_cert(&["fallback.test"]));
    let certs = format!(
        "{}, {{cert: \"{}\", key: \"{}\", default: true}}",
        pki.server("first", &["first.test"]),
        cert.display(),
        key.display()
    );
    let tg = start(&up, &certs, "", "");
    let mut no_name = pki.opts("x");
    no_name.server_name = None;
    assert_eq!(
        tls_connect(tg.addr("tls"), &no_name).unwrap().peer_names,
        ["fallback.test"]
    );
}

#[test]
fn alpn_h2_and_http11_reach_the_upstream_with_proto_https() {
    let pki = Pki::new();
    let up = Upstream::echo();
    let tg = start(&up, &pki.server("site", &["site.test"]), "", "");
    let addr = tg.addr("tls");

    let mut h2 = tls_connect(addr, &pki.opts("site.test").alpn(&["h2", "http/1.1"])).unwrap();
    assert_eq!(h2.alpn.as_deref(), Some("h2"));
    let resp = h2.get("site.test", "/over-h2").unwrap();
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.version, tollgate_testkit::http::Version::HTTP_2);
    let echo = resp.echo();
    assert_eq!(echo.path, "/over-h2");
    assert_eq!(echo.header("x-forwarded-proto"), Some("https"));
    assert_eq!(
        echo.header("forwarded"),
        Some("for=127.0.0.1;proto=https;host=site.test")
    );
    // Several streams on the one connection.
    assert_eq!(h2.get("site.test", "/again").unwrap().status, 200);

    let mut h1 = tls_connect(addr, &pki.opts("site.test").alpn(&["http/1.1"])).unwrap();
    assert_eq!(h1.alpn.as_deref(), Some("http/1.1"));
    let resp = h1.get("site.test", "/over-h1").unwrap();
    assert_eq!(resp.version, tollgate_testkit::http::Version::HTTP_11);
    assert_eq!(resp.echo().header("x-forwarded-proto"), Some("https"));
    assert_eq!(h1.get("site.test", "/keep-alive").unwrap().status, 200);

    // No ALPN at all: HTTP/1.1.
    let resp = tls_get(addr, &pki.opts("site.test").alpn(&[]), "/no-alpn").unwrap();
    assert_eq!(resp.version, tollgate_testkit::http::Version::HTTP_11);
    assert_eq!(resp.echo().path, "/no-alpn");

    // The plain listener still says http.
    let plain = tollgate_testkit::get(tg.addr("web"), "/plain").echo();
    assert_eq!(plain.header("x-forwarded-proto"), Some("http"));
}

#[test]
fn connections_end_with_close_notify() {
    let pki = Pki::new();
    let up = Upstream::streaming(&["first ", "second"], Duration::from_millis(20));
    let tg = start(&up, &pki.server("site", &["site.test"]), "", "");
    // HTTP/1.0 and a body of unknown length: the end of the answer is the
    // end of the connection, which must be a clean TLS close.
    let raw = tls_raw_request(
        tg.addr("tls"),
        &pki.opts("site.test"),
        b"GET /stream HTTP/1.0\r\nHost: site.test\r\n\r\n",
    )
    .unwrap();
    let resp = parse_response(&raw);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "first second");
    assert_eq!(resp.header("connection"), Some("close"));
}

#[test]
fn min_version_1_3_refuses_a_tls_1_2_client() {
    let pki = Pki::new();
    let up = Upstream::echo();
    let site = pki.server("site", &["site.test"]);
    let strict = start(&up, &site, "min_version: \"1.3\"", "");
    let err = tls_connect(strict.addr("tls"), &pki.opts("site.test").tls12_only()).unwrap_err();
    assert!(err.contains("TLS handshake"), "{err}");
    let conn = tls_connect(strict.addr("tls"), &pki.opts("site.test")).unwrap();
    assert_eq!(conn.version, "TLSv1_3");

    // The default accepts 1.2.
    let lenient = start(&up, &site, "", "");
    let conn = tls_connect(lenient.addr("tls"), &pki.opts("site.test").tls12_only()).unwrap();
    assert_eq!(conn.version, "TLSv1_2");
}

#[test]
fn sessions_resume_by_ticket_and_by_cache() {
    let pki = Pki::new();
    let up = Upstream::echo();
    let site = pki.server("site", &["site.test"]);
    // First connection full, second resumed; the options share the client's
    // session store.
    let resumes = |tg: &Tollgate, opts: &TlsOptions| {
        let mut first = tls_connect(tg.addr("tls"), opts).unwrap();
        assert!(!first.resumed);
        // The answer is read after the tickets, so the client has them.
        assert_eq!(first.get("site.test", "/fixed").unwrap().status, 200);
        tls_connect(tg.addr("tls"), opts).unwrap().resumed
    };

    let tickets = start(&up, &site, "", "");
    assert!(resumes(&tickets, &pki.opts("site.test")), "TLS 1.3 ticket");
    assert!(
        resumes(&tickets, &pki.opts("site.test").tls12_only()),
        "TLS 1.2 ticket"
    );

    let cache_only = start(&up, &site, "session_tickets: false", "");
    assert!(
        resumes(&cache_only, &pki.opts("site.test")),
        "TLS 1.3 cache"
    );
    assert!(
        resumes(&cache_only, &pki.opts("site.test").tls12_only()),
        "TLS 1.2 session id"
    );

    let off = start(
        &up,
        &site,
        "session_tickets: false\n      session_cache: 0",
        "",
    );
    assert!(!resumes(&off, &pki.opts("site.test")));
    assert!(!resumes(&off, &pki.opts("site.test").tls12_only()));
}

#[test]
fn a_replaced_certificate_is_used_by_new_connections_only() {
    let pki = Pki::new();
    let up = Upstream::echo();
    let certs = pki.server("site", &["site.test", "old.site.test"]);
    let tg = start(&up, &certs, "reload_interval: 50ms", "");
    let addr = tg.addr("tls");
    let mut old = tls_connect(addr, &pki.opts("site.test")).unwrap();
    assert_eq!(old.peer_names, ["site.test", "old.site.test"]);
    assert_eq!(old.get("site.test", "/before").unwrap().status, 200);

    pki.dir
        .write_pair("site", &pki.ca.server_cert(&["site.test", "new.site.test"]));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let names = tls_connect(addr, &pki.opts("site.test"))
            .unwrap()
            .peer_names;
        if names.iter().any(|n| n == "new.site.test") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "new certificate not served: {names:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The connection made before the swap still works on its certificate.
    let resp = old.get("site.test", "/after").unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.echo().path, "/after");
}

/// A listener requiring (or accepting) client certificates from `pki`'s CA.
fn mtls(pki: &Pki, up: &Upstream, mode: &str) -> Tollgate {
    start(
        up,
        &pki.server("site", &["site.test"]),
        &format!("client_auth: {{mode: {mode}, ca: \"{}\"}}", pki.ca_file()),
        "",
    )
}

#[test]
fn mtls_required_refuses_clients_without_a_valid_certificate() {
    let pki = Pki::new();
    let up = Upstream::echo();
    let tg = mtls(&pki, &up, "required");
    let addr = tg.addr("tls");

    assert!(tls_get(addr, &pki.opts("site.test"), "/").is_err());
    let stranger = TestCa::new("someone else").client_cert("mallory", &[]);
    assert!(tls_get(addr, &pki.opts("site.test").client_cert(&stranger), "/").is_err());
    assert_eq!(up.request_count(), 0);

    let alice = pki
        .ca
        .client_cert("alice", &["alice.test", "spiffe://test/alice"]);
    let mut conn = tls_connect(addr, &pki.opts("site.test").client_cert(&alice)).unwrap();
    let resp = conn
        .request(
            "GET",
            "site.test",
            "/who",
            &[
                ("X-Client-Cert-Subject", "CN=mallory"),
                ("X-Client-Cert-SAN", "DNS:evil.test"),
            ],
        )
        .unwrap();
    assert_eq!(resp.status, 200, "{}", resp.text());
    let echo = resp.echo();
    assert_eq!(
        echo.header_all("x-client-cert-subject"),
        ["CN=alice,O=tollgate tests"]
    );
    assert_eq!(
        echo.header_all("x-client-cert-san"),
        ["DNS:alice.test, URI:spiffe://test/alice"]
    );
}

#[test]
fn mtls_optional_serves_clients_without_a_certificate() {
    let pki = Pki::new();
    let up = Upstream::echo();
    let tg = mtls(&pki, &up, "optional");
    let addr = tg.addr("tls");

    let mut anonymous = tls_connect(addr, &pki.opts("site.test")).unwrap();
    let echo = anonymous
        .request(
            "GET",
            "site.test",
            "/",
            &[("X-Client-Cert-Subject", "CN=forged")],
        )
        .unwrap()
        .echo();
    assert!(!echo.has_header("x-client-cert-subject"), "{echo:?}");
    assert!(!echo.has_header("x-client-cert-san"));

    let bob = pki.ca.client_cert("bob", &[]);
    let echo = tls_get(addr, &pki.opts("site.test").client_cert(&bob), "/")
        .unwrap()
        .echo();
    assert_eq!(
        echo.header("x-client-cert-subject"),
        Some("CN=bob,O=tollgate tests")
    );
    assert!(!echo.has_header("x-client-cert-san"), "no SANs, no header");

    // A client of the plain listener cannot forge the headers either.
    let echo = tollgate_testkit::request(
        tg.addr("web"),
        "GET",
        "/",
        &[
            ("X-Client-Cert-Subject", "CN=forged"),
            ("X-Client-Cert-SAN", "x"),
        ],
        b"",
    )
    .echo();
    assert!(!echo.has_header("x-client-cert-subject"));
    assert!(!echo.has_header("x-client-cert-san"));
}

#[test]
fn hsts_is_added_to_https_answers() {
    let pki = Pki::new();
    let up = Upstream::with_headers(&[]);
    let tg = start(
        &up,
        &pki.server("site", &["site.test"]),
        "",
        "hsts: {max_age: 8760h, include_subdomains: true}",
    );
    let want = "max-age=31536000; includeSubDomains";
    let opts = pki.opts("site.test").alpn(&["h2", "http/1.1"]);
    let mut conn = tls_connect(tg.addr("tls"), &opts).unwrap();
    for path in ["/", "/fixed"] {
        let resp = conn.get("site.test", path).unwrap();
        assert_eq!(
            resp.header("strict-transport-security"),
            Some(want),
            "{path}"
        );
    }
    let resp = tls_get(tg.addr("tls"), &pki.opts("site.test"), "/fixed").unwrap();
    assert_eq!(resp.header("strict-transport-security"), Some(want));
    // Plain HTTP answers never carry it.
    let resp = tollgate_testkit::get(tg.addr("web"), "/fixed");
    assert_eq!(resp.header("strict-transport-security"), None);
}

#[test]
fn an_upstream_hsts_header_is_kept() {
    let pki = Pki::new();
    let up = Upstream::with_headers(&[("Strict-Transport-Security", "max-age=0")]);
    let tg = start(&up, &pki.server("site", &["site.test"]), "", "hsts: {}");
    let resp = tls_get(tg.addr("tls"), &pki.opts("site.test"), "/").unwrap();
    assert_eq!(resp.header_all("strict-transport-security"), ["max-age=0"]);
}

#[test]
fn http_listener_redirects_to_https() {
    let tg = Tollgate::start_with_defaults(
        r#"
listeners:
  - {name: web, address: 127.0.0.1:0, redirect_https: {port: 8443}}
  - {name: std, address: 127.0.0.1:0, redirect_https: {status: 301}}
routes:
  - {name: r, respond: {body: never}}
"#,
    );
    let resp = parse_response(&raw_request(
        tg.addr("web"),
        b"POST /a/b?c=1 HTTP/1.1\r\nHost: App.Test:8080\r\nContent-Length: 0\r\n\r\n",
    ));
    assert_eq!(resp.status, 308);
    assert_eq!(
        resp.header("location"),
        Some("https://app.test:8443/a/b?c=1")
    );

    let resp = tollgate_testkit::request(tg.addr("std"), "GET", "/x", &[("Host", "[::1]:80")], b"");
    assert_eq!(resp.status, 301);
    assert_eq!(resp.header("location"), Some("https://[::1]/x"));

    let resp =
        tollgate_testkit::h2_request(tg.addr("std"), "GET", "/h2", &[("host", "a.test")], b"");
    assert_eq!(resp.status, 301);
    assert_eq!(resp.header("location"), Some("https://a.test/h2"));
}

#[test]
fn handshakes_that_fail_or_stall_are_closed_quietly() {
    let pki = Pki::new();
    let up = Upstream::echo();
    let tg = start(
        &up,
        &pki.server("site", &["site.test"]),
        "handshake_timeout: 300ms",
        "limits: {header_read_timeout: 1s}",
    );
    let addr = tg.addr("tls");

    // Plain HTTP to a TLS port: the handshake fails and the connection closes.
    let answer = raw_request(addr, b"GET / HTTP/1.1\r\nHost: site.test\r\n\r\n");
    assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");

    // A client that never speaks is cut off by the handshake timeout.
    let mut idle = connect(addr);
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let n = idle.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "expected the connection to close");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
        "closed after {waited:?}"
    );

    // Still serving.
    assert_eq!(
        tls_get(addr, &pki.opts("site.test"), "/").unwrap().status,
        200
    );
}

#[test]
fn bad_certificate_files_stop_start_with_located_errors() {
    let pki = Pki::new();
    let a = pki.ca.server_cert(&["a.test"]);
    let b = pki.ca.server_cert(&["b.test"]);
    let cert = pki.dir.write("a.pem", &a.cert_pem);
    let wrong_key = pki.dir.write("b.key", &b.key_pem);
    let missing = pki.dir.path().join("missing.pem");
    let bad = pki
        .dir
        .write("bad.pem", "-----BEGIN CERTIFICATE-----\nnot base64\n");
    let yaml = render(
        r#"listeners:
  - name: tls
    address: 127.0.0.1:0
    protocol: https
    tls:
      certificates:
        - {cert: "{cert}", key: "{wrong_key}"}
        - {cert: "{missing}", key: "{wrong_key}"}
        - {cert: "{bad}", key: "{wrong_key}"}
routes:
  - {name: r, respond: {}}
"#,
        &[
            ("cert", &cert.display()),
            ("wrong_key", &wrong_key.display()),
            ("missing", &missing.display()),
            ("bad", &bad.display()),
        ],
    );
    let config = tollgate_config::parse_str(&yaml, "tls.yaml").unwrap();
    let err = tollgate_proxy::RunningServer::start(config)
        .expect_err("bad files must stop start")
        .to_string();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(lines[0].starts_with("tls.yaml:7:"), "{}", lines[0]);
    assert!(
        lines[0].contains("listeners[0].tls.certificates[0].key: the private key in"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("listeners[0].tls.certificates[1].cert: cannot read"),
        "{}",
        lines[1]
    );
    assert!(lines[1].starts_with("tls.yaml:8:"), "{}", lines[1]);
    assert!(
        lines[2].contains("listeners[0].tls.certificates[2].cert: invalid PEM"),
        "{}",
        lines[2]
    );
}
