//! The API gateway on real sockets: consumers and `key_auth` (header,
//! query, cookie; removed before forwarding), identity headers (client
//! copies removed in every spelling), `anonymous`, `acl`, the access log's
//! `consumer` and `auth`, and consumers swapped whole on reload.

use std::time::{Duration, Instant};

use tollgate_testkit::{h2_request, render, request, TempDir, Tollgate, Upstream};

const CONSUMERS: &str = r#"
consumers:
  - name: mobile
    groups: [paid, beta]
    metadata: {tier: gold}
    api_keys: ["key-mobile-0123456789"]
  - name: free-user
    groups: [free]
    api_keys: ["key-free-0123456789"]
  - name: guest
identity_headers:
  metadata: {tier: X-Consumer-Tier}
"#;

fn gateway(up: &Upstream, routes: &str) -> Tollgate {
    Tollgate::for_upstream(up, &format!("{CONSUMERS}{routes}"))
}

const KEY_ROUTE: &str = r#"
routes:
  - name: api
    upstream: u
    policies:
      - key_auth:
          sources: [{header: X-API-Key}, {query: api_key}, {cookie: key}]
"#;

#[test]
fn a_key_identifies_the_consumer_and_its_identity_goes_upstream() {
    let up = Upstream::echo();
    let tg = gateway(&up, KEY_ROUTE);
    let resp = request(
        tg.addr("web"),
        "GET",
        "/x",
        &[
            ("X-API-Key", "key-mobile-0123456789"),
            // Forged identities, in every spelling, must not pass.
            ("X-Consumer-Name", "admin"),
            ("x_consumer_name", "admin"),
            ("X-CONSUMER_GROUPS", "root"),
            ("X-Consumer-Tier", "platinum"),
        ],
        b"",
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let echo = resp.echo();
    assert_eq!(echo.header_all("x-consumer-name"), ["mobile"]);
    assert_eq!(echo.header_all("x-consumer-groups"), ["paid,beta"]);
    assert_eq!(echo.header_all("x-consumer-tier"), ["gold"]);
    assert!(!echo.has_header("x_consumer_name"));
    assert!(!echo.has_header("x-consumer_groups"));
    assert!(
        !echo.has_header("x-api-key"),
        "the key must not reach the upstream"
    );
}

#[test]
fn keys_in_query_and_cookie_are_taken_out_before_forwarding() {
    let up = Upstream::echo();
    let tg = gateway(&up, KEY_ROUTE);
    let resp = request(
        tg.addr("web"),
        "GET",
        "/x?a=1&api_key=key-free-0123456789&b=2",
        &[],
        b"",
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.echo().path, "/x?a=1&b=2");
    assert_eq!(resp.echo().header("x-consumer-name"), Some("free-user"));

    let resp = request(
        tg.addr("web"),
        "GET",
        "/x",
        &[("Cookie", "theme=dark; key=key-mobile-0123456789")],
        b"",
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let echo = resp.echo();
    assert_eq!(echo.header("x-consumer-name"), Some("mobile"));
    assert_eq!(echo.header_all("cookie"), ["theme=dark"]);
}

#[test]
fn missing_unknown_and_wrong_keys_get_the_same_401_without_reaching_the_upstream() {
    let up = Upstream::echo();
    let tg = gateway(&up, KEY_ROUTE);
    let addr = tg.addr("web");
    let ask = |key: Option<&str>| {
        let headers: Vec<(&str, &str)> = key.map(|k| ("X-API-Key", k)).into_iter().collect();
        request(addr, "GET", "/x", &headers, b"")
    };
    let missing = ask(None);
    assert_eq!(missing.status, 401);
    assert_eq!(
        missing.header("www-authenticate"),
        Some("ApiKey realm=\"tollgate\"")
    );
    assert_eq!(missing.json()["error"], "API key required");

    // Unknown: no such key. Wrong: a valid key with its last character changed.
    let unknown = ask(Some("nobody-has-this-key"));
    let wrong = ask(Some("key-mobile-0123456780"));
    for r in [&unknown, &wrong] {
        assert_eq!(r.status, 401);
        assert_eq!(
            r.header("www-authenticate"),
            Some("ApiKey realm=\"tollgate\"")
        );
        assert_eq!(r.json()["error"], "invalid API key");
        assert!(!r.text().contains("key-mobile") && !r.text().contains("nobody"));
    }
    assert_eq!(
        up.request_count(),
        0,
        "refused requests reached the upstream"
    );

    // The same answer in the same time: medians of interleaved rounds
    // within a generous bound (a loaded CI machine is noisy).
    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..40 {
        for (i, key) in ["nobody-has-this-key", "key-mobile-0123456780"]
            .iter()
            .enumerate()
        {
            let start = Instant::now();
            assert_eq!(ask(Some(key)).status, 401);
            times[i].push(start.elapsed());
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (u, w) = (median(&mut times[0]), median(&mut times[1]));
    let (lo, hi) = if u < w { (u, w) } else { (w, u) };
    assert!(
        hi <= lo * 3 + Duration::from_millis(2),
        "unknown {u:?} vs wrong {w:?}"
    );
}

#[test]
fn acl_refuses_with_403_and_anonymous_consumers_pass_as_named() {
    let up = Upstream::echo();
    let tg = gateway(
        &up,
        r#"
routes:
  - name: paid
    match: {path: {prefix: /paid}}
    upstream: u
    policies:
      - key_auth: {}
      - acl: {allow: {groups: [paid]}}
  - name: open
    upstream: u
    policies:
      - key_auth: {anonymous: guest}
      - acl: {deny: {consumers: [free-user]}}
"#,
    );
    let addr = tg.addr("web");
    let paid = request(
        addr,
        "GET",
        "/paid",
        &[("X-API-Key", "key-mobile-0123456789")],
        b"",
    );
    assert_eq!(paid.status, 200);
    let free = request(
        addr,
        "GET",
        "/paid",
        &[("X-API-Key", "key-free-0123456789")],
        b"",
    );
    assert_eq!(free.status, 403);
    assert!(free.header("www-authenticate").is_none());
    assert_eq!(free.json()["error"], "forbidden");

    let anonymous = request(addr, "GET", "/open", &[], b"");
    assert_eq!(anonymous.status, 200, "{}", anonymous.text());
    assert_eq!(anonymous.echo().header("x-consumer-name"), Some("guest"));
    assert!(!anonymous.echo().has_header("x-consumer-groups"));
    // A presented but wrong key does not fall back to anonymous.
    let wrong = request(addr, "GET", "/open", &[("X-API-Key", "wrong")], b"");
    assert_eq!(wrong.status, 401);
    let denied = request(
        addr,
        "GET",
        "/open",
        &[("X-API-Key", "key-free-0123456789")],
        b"",
    );
    assert_eq!(denied.status, 403);
    // HTTP/2 requests are refused alike.
    let h2 = h2_request(addr, "GET", "/paid", &[], b"");
    assert_eq!(h2.status, 401);
}

#[test]
fn the_access_log_names_the_consumer_and_the_auth_outcome_without_secrets() {
    let up = Upstream::echo();
    let dir = TempDir::tagged("gateway-log");
    let log = dir.path().join("access.log");
    let tg = Tollgate::start(&render(
        r#"
server: {workers: 1}
access_log: {output: file, path: "{log}"}
listeners:
  - {name: web, address: 127.0.0.1:0}
upstreams:
  - {name: u, targets: [{address: "{up}"}]}
{consumers}{routes}"#,
        &[
            ("up", &up.addr()),
            ("log", &log.display()),
            ("consumers", &CONSUMERS),
            ("routes", &KEY_ROUTE),
        ],
    ));
    let addr = tg.addr("web");
    let ok = request(addr, "GET", "/a?api_key=key-mobile-0123456789", &[], b"");
    assert_eq!(ok.status, 200);
    let bad = request(addr, "GET", "/b?api_key=not-a-key-0000", &[], b"");
    assert_eq!(bad.status, 401);
    drop(tg); // flushes the log
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["consumer"], "mobile");
    assert_eq!(lines[0]["auth"], "key_auth");
    assert_eq!(lines[0]["path"], "/a");
    assert_eq!(lines[1]["consumer"], serde_json::Value::Null);
    assert_eq!(lines[1]["auth"], "key_auth:invalid");
    assert!(
        !text.contains("key-mobile") && !text.contains("not-a-key"),
        "{text}"
    );
}

#[test]
fn a_reload_swaps_the_consumers_whole() {
    let up = Upstream::echo();
    let config = |key: &str| {
        format!(
            "listeners:\n  - {{name: web, address: 127.0.0.1:0}}\nupstreams:\n  - {{name: u, targets: [{{address: \"{}\"}}]}}\nconsumers:\n  - {{name: app, api_keys: [\"{key}\"]}}\n{KEY_ROUTE}",
            up.addr()
        )
    };
    let tg = Tollgate::start_with_defaults(&config("old-key-0123456789"));
    let addr = tg.addr("web");
    let with = |k: &str| request(addr, "GET", "/", &[("X-API-Key", k)], b"").status;
    assert_eq!(with("old-key-0123456789"), 200);
    assert_eq!(with("new-key-0123456789"), 401);
    tg.reload_with_defaults(&config("new-key-0123456789"))
        .unwrap();
    assert_eq!(with("new-key-0123456789"), 200);
    assert_eq!(with("old-key-0123456789"), 401);
}

#[test]
fn basic_auth_checks_bcrypt_and_argon2id_hashes_with_the_realm_challenge() {
    use argon2::password_hash::{PasswordHasher, SaltString};
    use base64::Engine;
    // Low cost parameters keep the test fast; the format is what the tools write.
    let bcrypt_hash = bcrypt::hash("ann-secret", 4)
        .unwrap()
        .replacen("$2b$", "$2y$", 1);
    let params = argon2::Params::new(8, 1, 1, None).unwrap();
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"gateway-test-salt").unwrap();
    let argon_hash = argon
        .hash_password(b"bob-secret", &salt)
        .unwrap()
        .to_string();
    let up = Upstream::echo();
    let tg = Tollgate::for_upstream(
        &up,
        &render(
            r#"
consumers:
  - name: ann
    groups: [ops]
    basic_auth: [{username: ann, password_hash: "{bcrypt}"}]
  - name: bob
    basic_auth: [{username: bob, password_hash: "{argon}"}]
routes:
  - name: api
    upstream: u
    policies:
      - basic_auth: {realm: internal}
      - acl: {allow: {groups: [ops]}}
"#,
            &[("bcrypt", &bcrypt_hash), ("argon", &argon_hash)],
        ),
    );
    let addr = tg.addr("web");
    let basic = |creds: &str| {
        let v = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(creds)
        );
        request(addr, "GET", "/", &[("Authorization", v.as_str())], b"")
    };
    for _ in 0..3 {
        let ok = basic("ann:ann-secret");
        assert_eq!(ok.status, 200, "{}", ok.text());
        assert_eq!(ok.echo().header("x-consumer-name"), Some("ann"));
    }
    // bob's argon2id password verifies; the acl then refuses him.
    assert_eq!(basic("bob:bob-secret").status, 403);
    for creds in ["ann:wrong", "nobody:ann-secret", "bob:ann-secret"] {
        let r = basic(creds);
        assert_eq!(r.status, 401, "{creds}");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Basic realm=\"internal\", charset=\"UTF-8\"")
        );
        assert!(!r.text().contains("secret"));
    }
    let missing = request(addr, "GET", "/", &[], b"");
    assert_eq!(missing.status, 401);
    assert!(missing
        .header("www-authenticate")
        .unwrap()
        .starts_with("Basic realm=\"internal\""));
    assert_eq!(up.request_count(), 3);
}

#[test]
fn header_rules_read_the_consumer_after_an_auth_policy() {
    let up = Upstream::echo();
    let tg = gateway(
        &up,
        r#"
routes:
  - name: api
    upstream: u
    policies:
      - key_auth: {}
      - headers:
          request: {set: {X-Rate-Key: "$consumer|$consumer_groups|$jwt_claim_sub"}}
          response: {set: {X-Served-For: "$consumer"}}
"#,
    );
    let resp = request(
        tg.addr("web"),
        "GET",
        "/",
        &[("X-API-Key", "key-mobile-0123456789")],
        b"",
    );
    assert_eq!(resp.status, 200);
    // No token: the claim renders empty.
    assert_eq!(resp.echo().header("x-rate-key"), Some("mobile|paid,beta|"));
    assert_eq!(resp.header("x-served-for"), Some("mobile"));
}

#[test]
fn mtls_auth_maps_verified_certificates_to_consumers() {
    use tollgate_testkit::{tls_get, TestCa, TlsOptions};
    let ca = TestCa::new("gateway test CA");
    let dir = TempDir::tagged("gateway-mtls");
    let (cert, key) = dir.write_pair("site", &ca.server_cert(&["site.test"]));
    let ca_file = dir.write("ca.pem", ca.cert_pem());
    let up = Upstream::echo();
    let tg = Tollgate::start_with_defaults(&render(
        r#"
listeners:
  - name: tls
    address: 127.0.0.1:0
    protocol: https
    tls:
      certificates: [{cert: "{cert}", key: "{key}"}]
      client_auth: {mode: optional, ca: "{ca}"}
upstreams:
  - {name: u, targets: [{address: "{up}"}]}
consumers:
  - {name: alice, groups: [ops], mtls: [{subject: "CN=alice,O=tollgate tests"}]}
  - {name: svc, mtls: [{san: "spiffe://test/svc"}]}
routes:
  - name: echo
    upstream: u
    policies:
      - mtls_auth: {}
      - acl: {allow: {groups: [ops], consumers: [svc]}}
"#,
        &[
            ("cert", &cert.display()),
            ("key", &key.display()),
            ("ca", &ca_file.display()),
            ("up", &up.addr()),
        ],
    ));
    let addr = tg.addr("tls");
    let opts = || TlsOptions::new(&ca, "site.test");
    let alice = ca.client_cert("alice", &[]);
    let resp = tls_get(addr, &opts().client_cert(&alice), "/").unwrap();
    assert_eq!(resp.echo().header("x-consumer-name"), Some("alice"));
    let svc = ca.client_cert("whatever", &["spiffe://test/svc"]);
    let resp = tls_get(addr, &opts().client_cert(&svc), "/").unwrap();
    assert_eq!(resp.echo().header("x-consumer-name"), Some("svc"));
    // A verified certificate no consumer maps, and no certificate: 401.
    let bob = ca.client_cert("bob", &[]);
    assert_eq!(
        tls_get(addr, &opts().client_cert(&bob), "/")
            .unwrap()
            .status,
        401
    );
    let resp = tls_get(addr, &opts(), "/").unwrap();
    assert_eq!(resp.status, 401);
    assert_eq!(
        resp.header("www-authenticate"),
        Some("ClientCertificate realm=\"tollgate\"")
    );
    assert_eq!(up.request_count(), 2);
}
