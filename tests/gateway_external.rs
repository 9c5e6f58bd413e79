//! Gateway policies that ask another service, on real sockets:
//! `oauth2_introspection` against the testkit's introspection endpoint
//! (single flight, caches, 503 within the timeout), `forward_auth`
//! against its forward-auth service (header copying, denials passed back,
//! fail_open), and `auth: {any: [...]}` (first identifying method wins,
//! no fall-through, every challenge when none is presented).

use std::time::{Duration, Instant};

use jsonwebtoken::Algorithm;
use serde_json::json;
use tollgate_testkit::auth::{ForwardAuthServer, IntrospectionServer, ServiceMode};
use tollgate_testkit::jwt::{unix_now, TestKey};
use tollgate_testkit::{h2_request, render, request, unused_addr, HttpResponse, TempDir};
use tollgate_testkit::{Tollgate, Upstream};

fn with_service(up: &Upstream, service: &str, consumers: &str, policies: &str) -> Tollgate {
    Tollgate::start_with_defaults(&render(
        r#"
listeners:
  - {name: web, address: 127.0.0.1:0}
upstreams:
  - {name: u, targets: [{address: "{up}"}]}
  - {name: auth, targets: [{address: "{service}"}]}
consumers:
{consumers}
routes:
  - name: api
    upstream: u
    policies:
{policies}"#,
        &[
            ("up", &up.addr()),
            ("service", &service),
            ("consumers", &consumers),
            ("policies", &policies),
        ],
    ))
}

fn bearer(tg: &Tollgate, token: &str) -> HttpResponse {
    let auth = format!("Bearer {token}");
    request(
        tg.addr("web"),
        "GET",
        "/",
        &[("Authorization", auth.as_str())],
        b"",
    )
}

const INTROSPECTION_CONSUMERS: &str = "  - {name: alice}\n  - {name: reports-job}";

fn introspection(up: &Upstream, idp: &IntrospectionServer, dir: &TempDir, extra: &str) -> Tollgate {
    let secret = dir.write("client-secret", "s3cret-value\n");
    let policies = format!(
        r#"      - oauth2_introspection:
          endpoint: {{upstream: auth, path: /oauth2/introspect, timeout: 1s}}
          client_id: tollgate
          client_secret: "${{file:{}}}"
          scopes: [read]
{extra}"#,
        secret.display()
    );
    with_service(
        up,
        &idp.addr().to_string(),
        INTROSPECTION_CONSUMERS,
        &policies,
    )
}

#[test]
fn introspected_tokens_identify_and_concurrent_requests_share_one_call() {
    let idp = IntrospectionServer::start("tollgate", "s3cret-value");
    idp.activate(
        "opaque-1",
        json!({"sub": "alice", "scope": "read write", "exp": unix_now() + 600}),
    );
    idp.set_delay(Duration::from_millis(500));
    let up = Upstream::echo();
    let dir = TempDir::new();
    let tg = introspection(&up, &idp, &dir, "");
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let addr = tg.addr("web");
            std::thread::spawn(move || {
                request(
                    addr,
                    "GET",
                    "/",
                    &[("Authorization", "Bearer opaque-1")],
                    b"",
                )
            })
        })
        .collect();
    for t in threads {
        let resp = t.join().unwrap();
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert_eq!(resp.echo().header("x-consumer-name"), Some("alice"));
    }
    assert_eq!(idp.calls(), 1, "8 concurrent requests, one introspection");
    // Cached: no more calls.
    assert_eq!(bearer(&tg, "opaque-1").status, 200);
    assert_eq!(idp.calls(), 1);
    // RFC 7662: a form POST of the token, tollgate's credentials as Basic
    // (the server answers 401 to anything else, which would be a 503 here).
    let call = &idp.requests()[0];
    assert_eq!(
        String::from_utf8_lossy(&call.body),
        "token=opaque-1&token_type_hint=access_token"
    );
    assert_eq!(
        call.headers.get("content-type").unwrap(),
        "application/x-www-form-urlencoded"
    );
}

#[test]
fn inactive_tokens_get_401_and_are_remembered_briefly() {
    let idp = IntrospectionServer::start("tollgate", "s3cret-value");
    idp.activate("narrow", json!({"sub": "alice", "scope": "write"}));
    let up = Upstream::echo();
    let dir = TempDir::new();
    let tg = introspection(&up, &idp, &dir, "          negative_cache_ttl: 1s\n");
    for _ in 0..3 {
        let resp = bearer(&tg, "revoked");
        assert_eq!(resp.status, 401);
        let challenge = resp.header("www-authenticate").unwrap();
        assert!(challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""));
        assert!(!resp.text().contains("revoked"), "the body echoes no token");
    }
    assert_eq!(idp.calls(), 1, "an inactive answer is remembered");
    std::thread::sleep(Duration::from_millis(1300));
    assert_eq!(bearer(&tg, "revoked").status, 401);
    assert_eq!(idp.calls(), 2, "and forgotten after negative_cache_ttl");
    // Active but without the required scope: 403 insufficient_scope.
    let resp = bearer(&tg, "narrow");
    assert_eq!(resp.status, 403);
    assert!(resp
        .header("www-authenticate")
        .unwrap()
        .contains("insufficient_scope"));
    // No token: 401 with a plain Bearer challenge.
    let resp = request(tg.addr("web"), "GET", "/", &[], b"");
    assert_eq!(resp.status, 401);
    assert_eq!(up.request_count(), 0);
}

#[test]
fn an_unavailable_endpoint_gives_503_within_the_timeout_and_grpc_statuses() {
    let idp = IntrospectionServer::start("tollgate", "s3cret-value");
    idp.activate("t", json!({"sub": "alice", "scope": "read"}));
    let up = Upstream::echo();
    let dir = TempDir::new();
    let tg = introspection(&up, &idp, &dir, "");
    idp.set_mode(ServiceMode::Stall(Duration::from_secs(20)));
    let started = Instant::now();
    let resp = bearer(&tg, "t");
    assert_eq!(resp.status, 503, "{}", resp.text());
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    idp.set_mode(ServiceMode::Fail);
    assert_eq!(bearer(&tg, "t").status, 503);
    // A failure is not remembered: once the endpoint is back, it passes.
    idp.set_mode(ServiceMode::Serve);
    assert_eq!(bearer(&tg, "t").status, 200);
    // gRPC: an invalid token is UNAUTHENTICATED (16).
    let grpc = [
        ("content-type", "application/grpc"),
        ("te", "trailers"),
        ("authorization", "Bearer unknown"),
    ];
    let resp = h2_request(
        tg.addr("web"),
        "POST",
        "/test.Echo/Unary",
        &grpc,
        &[0, 0, 0, 0, 0],
    );
    assert_eq!(resp.header("grpc-status"), Some("16"), "{resp:?}");

    // Nothing listening at all: 503 too, never 500.
    let down = Upstream::echo();
    let tg = with_service(
        &down,
        &unused_addr().to_string(),
        INTROSPECTION_CONSUMERS,
        "      - oauth2_introspection: {endpoint: {upstream: auth, path: /i}, client_id: a, client_secret: b}\n",
    );
    assert_eq!(bearer(&tg, "t").status, 503);
    let resp = h2_request(
        tg.addr("web"),
        "POST",
        "/test.Echo/Unary",
        &grpc,
        &[0, 0, 0, 0, 0],
    );
    assert_eq!(
        resp.header("grpc-status"),
        Some("14"),
        "UNAVAILABLE: {resp:?}"
    );
}

const FORWARD: &str = r#"      - forward_auth:
          endpoint: {upstream: auth, path: /verify, timeout: 1s}
          request_headers: [Authorization]
          response_headers: [X-Auth-User, X-Auth-Scope]
          consumer_header: X-Auth-User
"#;

#[test]
fn forward_auth_copies_answer_headers_or_passes_the_denial_back() {
    let ext = ForwardAuthServer::start();
    let up = Upstream::echo();
    let routes = format!("{FORWARD}      - acl: {{allow: {{consumers: [ann]}}}}\n");
    let tg = with_service(&up, &ext.addr().to_string(), "  - {name: ann}", &routes);
    let resp = request(
        tg.addr("web"),
        "POST",
        "/orders?id=7",
        &[
            ("Authorization", "Bearer good-ann"),
            ("X-Auth-User", "root"),
            ("X_Auth_Scope", "everything"),
            ("Host", "shop.test"),
        ],
        b"{}",
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let echo = resp.echo();
    assert_eq!(
        echo.header_all("x-auth-user"),
        ["ann"],
        "the client's copy is gone"
    );
    assert_eq!(echo.header("x-auth-scope"), Some("all"));
    assert!(!echo.has_header("x_auth_scope"));
    assert_eq!(echo.header("x-consumer-name"), Some("ann"));
    let asked = ext.last_request();
    assert_eq!(asked.method, "GET");
    assert_eq!(asked.path, "/verify");
    assert_eq!(asked.headers["x-forwarded-method"], "POST");
    assert_eq!(asked.headers["x-forwarded-uri"], "/orders?id=7");
    assert_eq!(asked.headers["x-forwarded-host"], "shop.test");
    assert!(asked.body.is_empty());

    // A denial goes back as the service wrote it; the upstream never sees it.
    let before = up.request_count();
    let resp = bearer(&tg, "bad");
    assert_eq!(resp.status, 401);
    assert_eq!(
        resp.header("www-authenticate"),
        Some("Bearer realm=\"ext\"")
    );
    assert_eq!(resp.header("x-denied-by"), Some("ext-auth"));
    assert_eq!(resp.text(), "denied by ext-auth");
    assert_eq!(up.request_count(), before);
    // Allowed by the service but not by the acl that follows: 403.
    assert_eq!(bearer(&tg, "good-bob").status, 403);
}

#[test]
fn forward_auth_failures_are_503_unless_fail_open() {
    let ext = ForwardAuthServer::start();
    let up = Upstream::echo();
    let tg = with_service(&up, &ext.addr().to_string(), "  - {name: ann}", FORWARD);
    ext.set_mode(ServiceMode::Stall(Duration::from_secs(20)));
    let started = Instant::now();
    assert_eq!(bearer(&tg, "good-ann").status, 503);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    let open = FORWARD.replace("timeout: 1s}", "timeout: 1s}\n          fail_open: true");
    let tg = with_service(&up, &unused_addr().to_string(), "  - {name: ann}", &open);
    let resp = bearer(&tg, "good-ann");
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(
        !resp.echo().has_header("x-consumer-name"),
        "fail_open passes unidentified"
    );
    // A 5xx from the service is its answer, passed back as a denial.
    ext.set_mode(ServiceMode::Fail);
    let tg = with_service(&up, &ext.addr().to_string(), "  - {name: ann}", FORWARD);
    assert_eq!(bearer(&tg, "good-ann").status, 500);
}

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn any_chain(up: &Upstream, anonymous: &str) -> Tollgate {
    let policies = format!(
        r#"      - auth:
          any:
            - jwt: {{issuers: [{{issuer: iss, consumer: token-user, keys: [{{secret: "{}"}}]}}]}}
            - key_auth: {{}}
{anonymous}"#,
        std::str::from_utf8(SECRET).unwrap()
    );
    with_service(
        up,
        &unused_addr().to_string(),
        "  - {name: token-user}\n  - {name: key-user, api_keys: [key-0123456789]}\n  - {name: guest}",
        &policies,
    )
}

#[test]
fn any_takes_the_first_method_presented_and_never_falls_through() {
    let up = Upstream::echo();
    let tg = any_chain(&up, "");
    let key = TestKey::hmac("k", Algorithm::HS256, SECRET);
    let token = key.sign(&json!({"iss": "iss", "sub": "x", "exp": unix_now() + 300}));
    let auth = format!("Bearer {token}");
    let both = [
        ("Authorization", auth.as_str()),
        ("X-API-Key", "key-0123456789"),
    ];
    let resp = request(tg.addr("web"), "GET", "/", &both, b"");
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.echo().header("x-consumer-name"), Some("token-user"));
    assert!(
        !resp.echo().has_header("x-api-key"),
        "an unused key never goes upstream"
    );
    let resp = request(
        tg.addr("web"),
        "GET",
        "/",
        &[("X-API-Key", "key-0123456789")],
        b"",
    );
    assert_eq!(resp.echo().header("x-consumer-name"), Some("key-user"));
    // A bad token with a good key: the token was presented, so it decides.
    let auth = "Bearer not.a.token";
    let headers = [("Authorization", auth), ("X-API-Key", "key-0123456789")];
    let resp = request(tg.addr("web"), "GET", "/", &headers, b"");
    assert_eq!(resp.status, 401);
    assert!(resp
        .header("www-authenticate")
        .unwrap()
        .contains("invalid_token"));
    // Nothing presented: one challenge per scheme.
    let resp = request(tg.addr("web"), "GET", "/", &[], b"");
    assert_eq!(resp.status, 401);
    let challenges = resp.header_all("www-authenticate");
    assert_eq!(challenges.len(), 2, "{challenges:?}");
    assert!(challenges[0].starts_with("Bearer") && challenges[1].starts_with("ApiKey"));
    assert_eq!(up.request_count(), 2);

    let tg = any_chain(&up, "          anonymous: guest\n");
    let resp = request(tg.addr("web"), "GET", "/", &[], b"");
    assert_eq!(resp.echo().header("x-consumer-name"), Some("guest"));
    let resp = request(tg.addr("web"), "GET", "/", &[("X-API-Key", "wrong")], b"");
    assert_eq!(resp.status, 401, "a wrong key is not anonymous");
}
