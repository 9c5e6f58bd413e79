//! TLS to upstreams against real TLS servers: a custom CA, the SNI sent,
//! verification failures, HTTP/2 by ALPN, client certificates, pooling and
//! health probes over TLS.

use std::time::{Duration, Instant};

use tollgate_testkit::{get, render, TempDir, TestCa, TlsHandshake, Tollgate, Upstream};

/// Waits up to 5 s for `cond`.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// tollgate with one plain listener `web` forwarding to upstream `u` at
/// `up`, whose section gets `extra` (e.g. `tls: {...}`).
fn proxy(up: &Upstream, extra: &str) -> Tollgate {
    Tollgate::start_with_defaults(&render(
        r#"
listeners:
  - {name: web, address: 127.0.0.1:0}
upstreams:
  - name: u
    targets: [{address: "{up}"}]
    {extra}
routes:
  - {name: all, upstream: u}
"#,
        &[("up", &up.addr()), ("extra", &extra)],
    ))
}

fn handshake(sni: Option<&str>, alpn: &str) -> TlsHandshake {
    TlsHandshake {
        server_name: sni.map(str::to_owned),
        alpn: Some(alpn.to_owned()),
        client_subject: None,
    }
}

#[test]
fn custom_ca_sni_and_pooled_connections() {
    let ca = TestCa::new("upstream CA");
    let dir = TempDir::new();
    let ca_file = dir.write("ca.pem", ca.cert_pem());
    let up = Upstream::tls_echo(
        &ca.server_cert(&["backend.internal"]),
        &["h2", "http/1.1"],
        None,
    );
    let tg = proxy(
        &up,
        &format!(
            "tls: {{ca: \"{}\", server_name: backend.internal}}",
            ca_file.display()
        ),
    );
    for path in ["/one", "/two", "/three"] {
        let resp = get(tg.addr("web"), path);
        assert_eq!(resp.status, 200, "{}", resp.text());
        let echo = resp.echo();
        assert_eq!(echo.path, path);
        assert_eq!(echo.version, "HTTP/1.1");
    }
    // One TLS connection served the three requests: pooled, not redone.
    assert_eq!(up.connection_count(), 1);
    assert_eq!(
        up.handshakes(),
        [handshake(Some("backend.internal"), "http/1.1")]
    );
}

#[test]
fn ip_targets_are_verified_by_ip_without_sni() {
    let ca = TestCa::new("upstream CA");
    let dir = TempDir::new();
    let ca_file = dir.write("ca.pem", ca.cert_pem());
    let up = Upstream::tls_echo(&ca.server_cert(&["127.0.0.1"]), &["http/1.1"], None);
    let tg = proxy(&up, &format!("tls: {{ca: \"{}\"}}", ca_file.display()));
    let resp = get(tg.addr("web"), "/by-ip");
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(up.handshakes(), [handshake(None, "http/1.1")]);
}

#[test]
fn unverifiable_upstreams_get_502() {
    let ca = TestCa::new("upstream CA");
    let dir = TempDir::new();
    let ca_file = dir.write("ca.pem", ca.cert_pem());

    // Signed by a CA tollgate does not trust.
    let stranger = TestCa::new("other CA").server_cert(&["backend.internal"]);
    let up = Upstream::tls_echo(&stranger, &["http/1.1"], None);
    let tg = proxy(
        &up,
        &format!(
            "tls: {{ca: \"{}\", server_name: backend.internal}}",
            ca_file.display()
        ),
    );
    let resp = get(tg.addr("web"), "/");
    assert_eq!(resp.status, 502, "{}", resp.text());
    assert!(resp.text().contains("TLS handshake"), "{}", resp.text());
    assert_eq!(up.request_count(), 0);

    // Trusted CA, wrong name.
    let up = Upstream::tls_echo(&ca.server_cert(&["other.internal"]), &["http/1.1"], None);
    let tg = proxy(
        &up,
        &format!(
            "tls: {{ca: \"{}\", server_name: backend.internal}}",
            ca_file.display()
        ),
    );
    assert_eq!(get(tg.addr("web"), "/").status, 502);

    // The same upstream with verification off: served.
    let tg = proxy(&up, "tls: {verify: false, server_name: backend.internal}");
    assert_eq!(get(tg.addr("web"), "/").status, 200);

    // A plaintext upstream does not speak TLS.
    let plain = Upstream::echo();
    let tg = proxy(&plain, "tls: {verify: false}");
    assert_eq!(get(tg.addr("web"), "/").status, 502);
}

#[test]
fn h2_by_alpn() {
    let ca = TestCa::new("upstream CA");
    let dir = TempDir::new();
    let ca_file = dir.write("ca.pem", ca.cert_pem());
    let pair = ca.server_cert(&["backend.internal"]);
    let tls = format!(
        "protocol: h2\n    tls: {{ca: \"{}\", server_name: backend.internal}}",
        ca_file.display()
    );

    let up = Upstream::tls_echo(&pair, &["h2", "http/1.1"], None);
    let tg = proxy(&up, &tls);
    for path in ["/a", "/b"] {
        let resp = get(tg.addr("web"), path);
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(resp.echo().version, "HTTP/2.0");
        assert_eq!(resp.echo().path, path);
    }
    assert_eq!(up.connection_count(), 1, "one multiplexed connection");
    assert_eq!(up.handshakes(), [handshake(Some("backend.internal"), "h2")]);

    // An upstream that does not offer h2 is refused, not spoken HTTP/2 to.
    let h1_only = Upstream::tls_echo(&pair, &["http/1.1"], None);
    let tg = proxy(&h1_only, &tls);
    let resp = get(tg.addr("web"), "/");
    assert_eq!(resp.status, 502, "{}", resp.text());
    assert_eq!(h1_only.request_count(), 0);
}

#[test]
fn client_certificate_to_the_upstream() {
    let ca = TestCa::new("mesh CA");
    let dir = TempDir::new();
    let ca_file = dir.write("ca.pem", ca.cert_pem());
    let (cert, key) = dir.write_pair("proxy", &ca.client_cert("tollgate", &["proxy.mesh"]));
    let up = Upstream::tls_echo(&ca.server_cert(&["backend.mesh"]), &["http/1.1"], Some(&ca));

    let without = proxy(
        &up,
        &format!(
            "tls: {{ca: \"{}\", server_name: backend.mesh}}",
            ca_file.display()
        ),
    );
    assert_eq!(get(without.addr("web"), "/").status, 502);

    let with = proxy(
        &up,
        &format!(
            "tls: {{ca: \"{}\", server_name: backend.mesh, client_cert: {{cert: \"{}\", key: \"{}\"}}}}",
            ca_file.display(),
            cert.display(),
            key.display()
        ),
    );
    let resp = get(with.addr("web"), "/");
    assert_eq!(resp.status, 200, "{}", resp.text());
    let last = up.handshakes().pop().unwrap();
    assert_eq!(
        last.client_subject.as_deref(),
        Some("CN=tollgate,O=tollgate tests")
    );
}

#[test]
fn health_probes_go_over_tls() {
    let ca = TestCa::new("upstream CA");
    let dir = TempDir::new();
    let ca_file = dir.write("ca.pem", ca.cert_pem());
    let up = Upstream::tls_echo(
        &ca.server_cert(&["backend.internal"]),
        &["h2", "http/1.1"],
        None,
    );
    let tg = proxy(
        &up,
        &format!(
            "protocol: h2\n    tls: {{ca: \"{}\", server_name: backend.internal}}\n    health: {{active: {{path: /health, interval: 50ms, jitter: 0%, healthy: 1, unhealthy: 1}}}}",
            ca_file.display()
        ),
    );
    wait_for("a probe over TLS", || {
        up.requests().iter().any(|r| r.path == "/health")
    });
    let probe = up
        .requests()
        .into_iter()
        .find(|r| r.path == "/health")
        .unwrap();
    // Probes speak HTTP/1.1 even to an h2 upstream.
    assert_eq!(probe.version, tollgate_testkit::http::Version::HTTP_11);
    assert!(up
        .handshakes()
        .iter()
        .any(|h| h.alpn.as_deref() == Some("http/1.1")));
    assert_eq!(get(tg.addr("web"), "/").status, 200);
}
