//! The `jwt` policy on real sockets: every algorithm family signed by the
//! test and verified by tollgate (jsonwebtoken on aws-lc-rs, which panics
//! at run time without a backend), consumers mapped from claims,
//! `claims_to_headers`, `require`, RFC 6750 challenges, and every attack
//! class of RFC 8725 §2 answered 401 without reaching the upstream.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use tollgate_testkit::jwt::{b64_json, jwks, unix_now, TestKey};
use tollgate_testkit::{request, HttpResponse, TempDir, Tollgate, Upstream};

const ISS: &str = "https://id.example.com";
const HS_SECRET: &str = "0123456789abcdef0123456789abcdef";

/// Keys of the issuer, written to files; an attacker's key, not configured.
struct Keys {
    rsa: TestKey,
    ec: TestKey,
    ed: TestKey,
    attacker: TestKey,
    dir: TempDir,
}

fn keys() -> Keys {
    let k = Keys {
        rsa: TestKey::rsa("rsa-1"),
        ec: TestKey::ec256("ec-1"),
        ed: TestKey::ed25519("ed-1"),
        attacker: TestKey::rsa("rsa-1"),
        dir: TempDir::tagged("jwt-keys"),
    };
    k.dir.write("rsa.pem", &k.rsa.public_pem);
    k.dir.write("ec.jwk", k.ec.jwk().to_string());
    k.dir.write("set.jwks", jwks(&[&k.ed]));
    k
}

fn config(up: &Upstream, keys_yaml: &str) -> String {
    format!(
        r#"
listeners:
  - {{name: web, address: 127.0.0.1:0}}
upstreams:
  - {{name: u, targets: [{{address: "{up}"}}]}}
consumers:
  - name: alice
    groups: [staff]
    jwt: [{{issuer: "{ISS}", value: "alice"}}]
  - name: other-app
policies:
  token:
    jwt:
      issuers:
        - issuer: "{ISS}"
          audiences: [api]
          consumer: other-app
          keys:
{keys_yaml}
        - issuer: https://hs.example.com
          keys: [{{secret: "{HS_SECRET}", kid: hs-1}}]
      claims_to_headers: {{sub: X-User, roles: X-Roles}}
defaults:
  policies: []
routes:
  - name: admin
    match: {{path: {{prefix: /admin}}}}
    upstream: u
    policies:
      - use: token
      - require: {{scopes: {{all_of: [admin]}}}}
  - name: api
    upstream: u
    policies:
      - use: token
      - headers: {{request: {{set: {{X-Claim-Aud: "$jwt_claim_aud"}}}}}}
"#,
        up = up.addr()
    )
}

fn default_keys(k: &Keys) -> String {
    format!(
        "            - {{pem: \"{}\", kid: rsa-1}}\n            - {{jwk: \"{}\"}}\n            - {{jwks: \"{}\"}}\n",
        k.dir.path().join("rsa.pem").display(),
        k.dir.path().join("ec.jwk").display(),
        k.dir.path().join("set.jwks").display()
    )
}

fn start(k: &Keys, up: &Upstream) -> Tollgate {
    Tollgate::start_with_defaults(&config(up, &default_keys(k)))
}

fn claims(sub: &str) -> Value {
    json!({"iss": ISS, "sub": sub, "aud": "api", "exp": unix_now() + 300, "iat": unix_now(), "roles": ["a", "b"]})
}

fn with_token(tg: &Tollgate, path: &str, token: &str) -> HttpResponse {
    let auth = format!("Bearer {token}");
    request(
        tg.addr("web"),
        "GET",
        path,
        &[("Authorization", auth.as_str())],
        b"",
    )
}

#[test]
fn jsonwebtoken_backend_signs_and_verifies_every_algorithm_family() {
    let k = keys();
    let up = Upstream::echo();
    let tg = start(&k, &up);
    let hs = TestKey::hmac("hs-1", jsonwebtoken::Algorithm::HS256, HS_SECRET.as_bytes());
    let mut hs_claims = claims("svc");
    hs_claims["iss"] = json!("https://hs.example.com");
    hs_claims.as_object_mut().unwrap().remove("aud");
    for (key, c) in [
        (&k.rsa, claims("alice")),
        (&k.ec, claims("alice")),
        (&k.ed, claims("alice")),
    ] {
        let resp = with_token(&tg, "/x", &key.sign(&c));
        assert_eq!(resp.status, 200, "{key:?}: {}", resp.text());
        let echo = resp.echo();
        assert_eq!(echo.header("x-consumer-name"), Some("alice"));
        assert_eq!(echo.header("x-consumer-groups"), Some("staff"));
        assert_eq!(echo.header("x-user"), Some("alice"));
        assert_eq!(echo.header("x-roles"), Some("a,b"));
        assert_eq!(echo.header("x-claim-aud"), Some("api"));
    }
    // No consumer maps `sub: bob`: the issuer's `consumer` takes it.
    let resp = with_token(&tg, "/x", &k.rsa.sign(&claims("bob")));
    assert_eq!(resp.echo().header("x-consumer-name"), Some("other-app"));
    // The HS issuer has no fallback consumer and no mapping: refused.
    let resp = with_token(&tg, "/x", &hs.sign(&hs_claims));
    assert_eq!(resp.status, 401);
    assert!(resp
        .header("www-authenticate")
        .unwrap()
        .contains("names no known consumer"));
}

#[test]
fn missing_tokens_get_a_bare_challenge_and_forged_claim_headers_are_dropped() {
    let k = keys();
    let up = Upstream::echo();
    let tg = start(&k, &up);
    let resp = request(
        tg.addr("web"),
        "GET",
        "/x",
        &[("X-User", "root"), ("X_Roles", "admin")],
        b"",
    );
    assert_eq!(resp.status, 401);
    assert_eq!(
        resp.header("www-authenticate"),
        Some("Bearer realm=\"tollgate\"")
    );
    let token = k
        .rsa
        .sign(&json!({"iss": ISS, "sub": "alice", "aud": "api", "exp": unix_now() + 60}));
    let auth = format!("Bearer {token}");
    let resp = request(
        tg.addr("web"),
        "GET",
        "/x",
        &[
            ("Authorization", auth.as_str()),
            ("X-Roles", "admin"),
            ("x_roles", "admin"),
        ],
        b"",
    );
    assert_eq!(resp.status, 200);
    let echo = resp.echo();
    assert!(
        !echo.has_header("x-roles") && !echo.has_header("x_roles"),
        "{echo:?}"
    );
    // The token itself travels on (the upstream may want it).
    assert_eq!(echo.header("authorization"), Some(auth.as_str()));
}

#[test]
fn require_answers_403_with_insufficient_scope() {
    let k = keys();
    let up = Upstream::echo();
    let tg = start(&k, &up);
    let mut c = claims("alice");
    c["scope"] = json!("read write");
    let resp = with_token(&tg, "/admin", &k.rsa.sign(&c));
    assert_eq!(resp.status, 403);
    assert_eq!(
        resp.header("www-authenticate"),
        Some("Bearer realm=\"tollgate\", error=\"insufficient_scope\"")
    );
    c["scope"] = json!("read admin");
    assert_eq!(with_token(&tg, "/admin", &k.rsa.sign(&c)).status, 200);
}

/// Every RFC 8725 §2 attack class, each answered 401 with `invalid_token`.
#[test]
fn attacks_are_refused_without_reaching_the_upstream() {
    let k = keys();
    let up = Upstream::echo();
    let tg = start(&k, &up);
    let now = unix_now();
    let good = claims("alice");
    let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    let mut attacks: Vec<(String, String)> = Vec::new();
    for none in ["none", "None", "NONE", "nOnE"] {
        let unsigned = format!(
            "{}.{}.",
            b64_json(&json!({"alg": none, "typ": "JWT"})),
            b64_json(&good)
        );
        attacks.push((format!("alg {none}, empty signature"), unsigned.clone()));
        attacks.push((
            format!("alg {none}, some signature"),
            format!("{unsigned}c2ln"),
        ));
    }
    // HS256 signed with the issuer's RSA public key as the HMAC secret.
    let confused = TestKey::hmac(
        "rsa-1",
        jsonwebtoken::Algorithm::HS256,
        k.rsa.public_pem.as_bytes(),
    );
    attacks.push(("HS256 with the RSA public key".into(), confused.sign(&good)));
    for kid in [
        "../../../../dev/null",
        "' OR '1'='1",
        "/etc/passwd\u{0}",
        "rsa-1 || true",
    ] {
        let h = json!({"alg": "RS256", "kid": kid});
        attacks.push((
            format!("kid {kid:?}"),
            k.attacker.sign_with_header(&h, &good),
        ));
    }
    let a = &k.attacker;
    for (name, h) in [
        (
            "jku",
            json!({"alg": "RS256", "kid": "rsa-1", "jku": "http://127.0.0.1:1/jwks.json"}),
        ),
        (
            "x5u",
            json!({"alg": "RS256", "kid": "rsa-1", "x5u": "http://127.0.0.1:1/cert.pem"}),
        ),
        (
            "embedded jwk",
            json!({"alg": "RS256", "kid": "rsa-1", "jwk": a.jwk()}),
        ),
        (
            "embedded jwk, no kid",
            json!({"alg": "RS256", "jwk": a.jwk()}),
        ),
    ] {
        attacks.push((name.into(), a.sign_with_header(&h, &good)));
    }
    let crit = json!({"alg": "RS256", "kid": "rsa-1", "crit": ["tollgate-unknown"], "tollgate-unknown": 1});
    attacks.push(("unknown crit".into(), k.rsa.sign_with_header(&crit, &good)));
    for (name, patch) in [
        ("expired", json!({"exp": now - 120})),
        ("not yet valid", json!({"nbf": now + 120})),
        ("issued in the future", json!({"iat": now + 120})),
        ("wrong iss", json!({"iss": "https://evil.example.com"})),
        ("wrong aud", json!({"aud": "other"})),
        ("no exp", json!({"exp": null})),
    ] {
        let mut c = good.clone();
        for (key, v) in patch.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(key);
            } else {
                c[key] = v.clone();
            }
        }
        attacks.push((name.into(), k.rsa.sign(&c)));
    }
    let es = k.ec.sign(&good);
    let input = es.rsplit_once('.').unwrap().0;
    attacks.push((
        "ES256 r = s = 0".into(),
        format!("{input}.{}", b64(&[0u8; 64])),
    ));
    let valid = k.rsa.sign(&good);
    attacks.push(("truncated".into(), valid[..valid.len() - 10].to_string()));
    attacks.push(("two parts".into(), input.to_string()));
    let mut big = good.clone();
    big["pad"] = json!("x".repeat(9000));
    attacks.push(("oversized".into(), k.rsa.sign(&big)));
    attacks.push(("bad encoding".into(), valid.replacen('.', ".!", 1)));
    attacks.push(("padding".into(), format!("{valid}==")));

    for (name, token) in &attacks {
        let resp = with_token(&tg, "/x", token);
        assert_eq!(resp.status, 401, "{name}: {}", resp.text());
        let challenge = resp.header("www-authenticate").unwrap_or("");
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{name}: {challenge}"
        );
        assert!(
            !resp.text().contains(token.as_str()),
            "{name}: the body echoes the token"
        );
    }
    assert_eq!(up.request_count(), 0, "an attack reached the upstream");
    // The real token still works (nothing above poisoned the cache).
    assert_eq!(with_token(&tg, "/x", &valid).status, 200);
}

#[test]
fn a_token_of_a_removed_key_is_refused_after_reload() {
    let k = keys();
    let up = Upstream::echo();
    let tg = start(&k, &up);
    let token = k.rsa.sign(&claims("alice"));
    assert_eq!(with_token(&tg, "/x", &token).status, 200);
    // The RSA key is removed: the cached verification goes with the old snapshot.
    let only_ec = format!(
        "            - {{jwk: \"{}\"}}\n",
        k.dir.path().join("ec.jwk").display()
    );
    tg.reload_with_defaults(&config(&up, &only_ec)).unwrap();
    let resp = with_token(&tg, "/x", &token);
    assert_eq!(resp.status, 401, "{}", resp.text());
    assert_eq!(
        with_token(&tg, "/x", &k.ec.sign(&claims("alice"))).status,
        200
    );
}

#[test]
fn weak_or_unreadable_keys_are_located_configuration_errors() {
    let k = keys();
    let up = Upstream::echo();
    // A 1024-bit RSA modulus in a JWK.
    let n = URL_SAFE_NO_PAD.encode([0xC5u8; 128]);
    k.dir.write(
        "weak.jwk",
        json!({"kty": "RSA", "n": n, "e": "AQAB", "kid": "weak"}).to_string(),
    );
    let weak = format!(
        "            - {{jwk: \"{}\"}}\n",
        k.dir.path().join("weak.jwk").display()
    );
    let yaml = format!("{}{}", tollgate_testkit::TEST_PREAMBLE, config(&up, &weak));
    let cfg = tollgate_config::parse_str(&yaml, "test.yaml").unwrap();
    let errors = tollgate_proxy::check_files(&cfg);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].message.contains("at least 2048 bits"),
        "{}",
        errors[0]
    );
    assert_eq!(errors[0].path, "policies.token.jwt.issuers[0].keys[0].jwk");
    assert!(errors[0].location.is_some());

    let missing = "            - {pem: /nonexistent/key.pem}\n";
    let yaml = format!(
        "{}{}",
        tollgate_testkit::TEST_PREAMBLE,
        config(&up, missing)
    );
    let cfg = tollgate_config::parse_str(&yaml, "test.yaml").unwrap();
    let errors = tollgate_proxy::check_files(&cfg);
    assert!(errors[0].message.contains("cannot read"), "{errors:?}");
}
