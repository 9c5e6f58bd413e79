//! Key sets from a `jwks_endpoint`, fetched through tollgate's upstream
//! client from the testkit's JWKS server: rotation, unknown-kid bursts,
//! the endpoint failing, stalling or down at start.

use std::time::{Duration, Instant};

use serde_json::json;
use tollgate_testkit::jwt::{unix_now, JwksMode, JwksServer, TestKey};
use tollgate_testkit::{
    render, request, HttpResponse, TempDir, Tollgate, TollgateProcess, Upstream,
};

const ISS: &str = "https://idp.example.com";

fn start(up: &Upstream, idp: &JwksServer, endpoint_extra: &str) -> Tollgate {
    Tollgate::start_with_defaults(&format!(
        r#"
listeners:
  - {{name: web, address: 127.0.0.1:0}}
upstreams:
  - {{name: u, targets: [{{address: "{up}"}}]}}
  - {{name: idp, targets: [{{address: "{idp}"}}]}}
consumers:
  - name: users
routes:
  - name: api
    upstream: u
    policies:
      - jwt:
          issuers:
            - issuer: "{ISS}"
              consumer: users
              jwks_endpoint: {{upstream: idp, path: /.well-known/jwks.json, {endpoint_extra}}}
"#,
        up = up.addr(),
        idp = idp.addr()
    ))
}

fn token(key: &TestKey) -> String {
    key.sign(&json!({"iss": ISS, "sub": "u1", "exp": unix_now() + 300}))
}

fn call(tg: &Tollgate, token: &str) -> HttpResponse {
    let auth = format!("Bearer {token}");
    request(
        tg.addr("web"),
        "GET",
        "/",
        &[("Authorization", auth.as_str())],
        b"",
    )
}

/// Waits (bounded) until `cond` holds.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn keys_are_fetched_through_the_upstream_and_a_rotation_costs_one_refetch() {
    let (k1, k2) = (TestKey::ec256("k1"), TestKey::rsa("k2"));
    let idp = JwksServer::start(&[&k1], Some(300));
    let up = Upstream::echo();
    let tg = start(&up, &idp, "refetch_interval: 1s");
    let old = token(&k1);
    assert_eq!(call(&tg, &old).status, 200);
    assert_eq!(idp.fetches(), 1);
    // Fresh keys and a cached verification: no more fetches.
    for _ in 0..5 {
        assert_eq!(call(&tg, &old).status, 200);
    }
    assert_eq!(idp.fetches(), 1);

    idp.rotate(&[&k2]);
    std::thread::sleep(Duration::from_millis(1100));
    let resp = call(&tg, &token(&k2));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(idp.fetches(), 2, "a new kid costs one refetch");
    // The removed key's token (verified and cached before) is refused now.
    let resp = call(&tg, &old);
    assert_eq!(resp.status, 401, "{}", resp.text());
    assert!(resp
        .header("www-authenticate")
        .unwrap()
        .contains("invalid_token"));
}

#[test]
fn a_burst_of_unknown_kids_costs_at_most_one_fetch_per_interval() {
    let key = TestKey::ec256("real");
    let idp = JwksServer::start(&[&key], Some(300));
    let up = Upstream::echo();
    let tg = start(&up, &idp, "refetch_interval: 30s");
    assert_eq!(call(&tg, &token(&key)).status, 200);
    let before = idp.fetches();
    let attacker = TestKey::ec256("x");
    let header = |i: u32| json!({"alg": "ES256", "kid": format!("random-{i}-{}", i.wrapping_mul(2654435761))});
    let claims = json!({"iss": ISS, "sub": "u1", "exp": unix_now() + 300});
    for i in 0..1000 {
        let t = attacker.sign_with_header(&header(i), &claims);
        assert_eq!(call(&tg, &t).status, 401);
    }
    assert!(
        idp.fetches() - before <= 1,
        "{} fetches for 1000 unknown kids",
        idp.fetches() - before
    );
    assert_eq!(up.request_count(), 1);
}

#[test]
fn the_last_good_keys_keep_working_while_the_endpoint_fails_or_stalls() {
    let key = TestKey::ec256("k");
    let idp = JwksServer::start(&[&key], Some(1));
    let up = Upstream::echo();
    let tg = start(
        &up,
        &idp,
        "refetch_interval: 1s, min_ttl: 1s, max_ttl: 1s, timeout: 1s",
    );
    let t = token(&key);
    assert_eq!(call(&tg, &t).status, 200);
    idp.set_mode(JwksMode::Fail);
    // Past its time to live the set is refreshed in the background; the
    // refresh fails and the last good set is kept.
    eventually("a failed refresh", || {
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(call(&tg, &t).status, 200);
        idp.fetches() >= 2
    });
    idp.set_mode(JwksMode::Stall(Duration::from_secs(10)));
    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(call(&tg, &t).status, 200);
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "requests waited for a stalled refresh"
    );
}

#[test]
fn an_endpoint_down_at_start_gives_401s_then_success_once_it_is_up() {
    let key = TestKey::ec256("k");
    let idp = JwksServer::start(&[&key], Some(300));
    idp.set_mode(JwksMode::Fail);
    let up = Upstream::echo();
    let tg = start(&up, &idp, "refetch_interval: 1s, timeout: 2s");
    let t = token(&key);
    let resp = call(&tg, &t);
    assert_eq!(resp.status, 401, "{}", resp.text());
    assert_eq!(idp.fetches(), 1);
    // Within the interval no new attempt is made.
    assert_eq!(call(&tg, &t).status, 401);
    assert_eq!(idp.fetches(), 1);
    idp.set_mode(JwksMode::Serve);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(call(&tg, &t).status, 200);
    assert_eq!(up.request_count(), 1);
}

#[test]
fn a_stalled_endpoint_at_start_answers_within_the_timeout() {
    let key = TestKey::ec256("k");
    let idp = JwksServer::start(&[&key], Some(300));
    idp.set_mode(JwksMode::Stall(Duration::from_secs(20)));
    let up = Upstream::echo();
    let tg = start(&up, &idp, "timeout: 1s");
    let started = Instant::now();
    assert_eq!(call(&tg, &token(&key)).status, 401);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

/// The binary started while its identity provider's key set cannot be
/// fetched: it runs (no crash), logs a warning naming the endpoint, answers
/// 401, and accepts tokens once the key set can be fetched.
#[test]
fn the_binary_started_with_the_endpoint_down_warns_then_recovers() {
    let key = TestKey::ec256("k");
    let idp = JwksServer::start(&[&key], Some(300));
    idp.set_mode(JwksMode::Fail);
    let up = Upstream::echo();
    let dir = TempDir::new();
    let config = dir.write(
        "tollgate.yaml",
        render(
            r#"
server: {workers: 1}
access_log: {output: off}
listeners: [{name: web, address: 127.0.0.1:0}]
upstreams:
  - {name: u, targets: [{address: "{up}"}]}
  - {name: idp, targets: [{address: "{idp}"}]}
consumers: [{name: users}]
routes:
  - name: api
    upstream: u
    policies:
      - jwt:
          issuers:
            - issuer: "{iss}"
              consumer: users
              jwks_endpoint: {upstream: idp, path: /jwks.json, refetch_interval: 1s, timeout: 2s}
"#,
            &[("up", &up.addr()), ("idp", &idp.addr()), ("iss", &ISS)],
        ),
    );
    let bin = env!("CARGO_BIN_EXE_tollgate");
    let mut tg = TollgateProcess::start(bin, &config, &[], &["web"]);
    let t = token(&key);
    let auth = format!("Bearer {t}");
    let call = |addr| request(addr, "GET", "/", &[("Authorization", auth.as_str())], b"");
    let resp = call(tg.addr("web"));
    assert_eq!(resp.status, 401, "{}", resp.text());
    let line = tg.wait_for("JWKS", Duration::from_secs(10));
    assert!(line.contains("WARN") || line.contains("warn"), "{line}");
    assert!(line.contains("/jwks.json"), "{line}");
    assert!(!line.contains(&t), "the token is never logged: {line}");
    idp.set_mode(JwksMode::Serve);
    eventually("a token accepted once the key set is served", || {
        std::thread::sleep(Duration::from_millis(300));
        call(tg.addr("web")).status == 200
    });
    assert_eq!(up.request_count(), 1);
}
