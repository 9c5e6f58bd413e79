//! The API-shaping features on real sockets: the `validate` policy (JSON
//! Schema: valid bodies forwarded as sent, each kind of violation, both
//! refusal formats, the size limit; OpenAPI: path, query, header and body
//! of the matched operation, unknown operations), the `aggregate` target (overlapping
//! slow calls, a dependent call, a failing optional and a failing required
//! call, identity headers on every call, `Server-Timing`), and versioned
//! routes (each selector, the default, deprecation and sunset fields,
//! `explain`).

use std::time::{Duration, Instant};

use tollgate_testkit::{render, request, Reply, Tollgate, Upstream};

const PAYMENT_SCHEMA: &str = r#"
          schema:
            type: object
            required: [amount, currency]
            properties:
              amount: {type: integer, minimum: 1}
              currency: {enum: [EUR, USD]}
"#;

fn validating(up: &Upstream, settings: &str) -> Tollgate {
    Tollgate::for_upstream(
        up,
        &format!(
            "routes:\n  - name: pay\n    upstream: u\n    policies:\n      - validate:\n{settings}{PAYMENT_SCHEMA}"
        ),
    )
}

fn post(tg: &Tollgate, body: &str) -> tollgate_testkit::HttpResponse {
    request(
        tg.addr("web"),
        "POST",
        "/pay",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

#[test]
fn json_schema_passes_valid_bodies_and_refuses_each_kind_of_violation() {
    let up = Upstream::echo();
    let tg = validating(&up, "");
    let valid = r#"{"amount": 12, "currency": "EUR"}"#;
    let resp = post(&tg, valid);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.echo().body, valid, "the body goes upstream as sent");
    let cases = [
        (r#"{"amount": 0, "currency": "EUR"}"#, "/amount", "minimum"),
        (
            r#"{"amount": "12", "currency": "EUR"}"#,
            "/amount",
            "integer",
        ),
        (r#"{"amount": 12, "currency": "GBP"}"#, "/currency", ""),
        (r#"{"amount": 12}"#, "", "currency"),
        (r#"{"amount": 12"#, "", "not JSON"),
    ];
    for (body, pointer, fragment) in cases {
        let resp = post(&tg, body);
        assert_eq!(resp.status, 400, "{body}: {}", resp.text());
        assert_eq!(resp.header("content-type"), Some("application/json"));
        let json = resp.json();
        assert_eq!(json["error"], "request validation failed");
        let v = &json["violations"][0];
        assert_eq!(v["pointer"], pointer, "{body}: {json}");
        assert!(v["message"].as_str().unwrap().contains(fragment), "{json}");
    }
    assert_eq!(
        up.request_count(),
        1,
        "refused bodies never reach the upstream"
    );
    // Two violations at once are both listed.
    let json = post(&tg, r#"{"amount": -1, "currency": "X"}"#).json();
    assert_eq!(json["violations"].as_array().unwrap().len(), 2, "{json}");
}

#[test]
fn problem_json_refusals_and_the_body_limit() {
    let up = Upstream::echo();
    let tg = validating(&up, "          errors: problem\n          max_body: 64B\n");
    let resp = post(&tg, r#"{"amount": 0, "currency": "EUR"}"#);
    assert_eq!(resp.status, 400);
    assert_eq!(
        resp.header("content-type"),
        Some("application/problem+json")
    );
    let json = resp.json();
    assert_eq!(json["status"], 400);
    assert_eq!(json["title"], "Bad Request");
    assert_eq!(json["violations"][0]["pointer"], "/amount");
    let big = format!(
        r#"{{"amount": 1, "currency": "EUR", "note": "{}"}}"#,
        "x".repeat(100)
    );
    assert_eq!(post(&tg, &big).status, 413);
    // A GET without a body is not checked.
    let resp = request(tg.addr("web"), "GET", "/pay", &[], b"");
    assert_eq!(resp.status, 200);
    assert_eq!(up.request_count(), 1);
}

/// Three upstreams: `users` (slow), `recs` (slow), `orders` (answers with
/// the path it was asked), `broken` (503).
struct Backends {
    users: Upstream,
    recs: Upstream,
    orders: Upstream,
    broken: Upstream,
}

const SLOW: Duration = Duration::from_millis(700);

fn backends() -> Backends {
    Backends {
        users: Upstream::scripted(|_| {
            Reply::ok(r#"{"id": "u 1", "name": "Ann"}"#)
                .header("content-type", "application/json")
                .delay(SLOW)
        }),
        recs: Upstream::scripted(|_| Reply::ok(r#"["a", "b"]"#).delay(SLOW)),
        orders: Upstream::scripted(|r| {
            Reply::ok(format!(r#"{{"asked": "{}"}}"#, r.path)).delay(SLOW)
        }),
        broken: Upstream::scripted(|_| Reply::new(503).delay(SLOW)),
    }
}

fn aggregating(b: &Backends, broken_required: bool) -> Tollgate {
    Tollgate::start_with_defaults(&render(
        r#"
listeners: [{name: web, address: 127.0.0.1:0}]
consumers: [{name: mobile, api_keys: ["key-mobile-0123456789"]}]
upstreams:
  - {name: users, targets: [{address: "{users}"}]}
  - {name: recs, targets: [{address: "{recs}"}]}
  - {name: orders, targets: [{address: "{orders}"}]}
  - {name: broken, targets: [{address: "{broken}"}]}
routes:
  - name: dash
    policies: [{key_auth: {sources: [{header: X-API-Key}]}}]
    aggregate:
      calls:
        - {name: user, upstream: users, path: "/users/$http_x_user"}
        - {name: recs, upstream: recs, path: /recs, headers: {X-Call: recs}}
        - {name: broken, upstream: broken, path: /x, required: {required}}
        - {name: orders, upstream: orders, after: user, path: "/orders?owner={user:/id}"}
        - {name: late, upstream: orders, after: broken, path: /never, required: false}
"#,
        &[
            ("users", &b.users.addr()),
            ("recs", &b.recs.addr()),
            ("orders", &b.orders.addr()),
            ("broken", &b.broken.addr()),
            ("required", &broken_required),
        ],
    ))
}

#[test]
fn aggregate_overlaps_calls_merges_answers_and_lists_failed_optional_ones() {
    let b = backends();
    let tg = aggregating(&b, false);
    let started = Instant::now();
    let resp = request(
        tg.addr("web"),
        "GET",
        "/dash",
        &[("X-API-Key", "key-mobile-0123456789"), ("X-User", "42")],
        b"",
    );
    let took = started.elapsed();
    assert_eq!(resp.status, 200, "{}", resp.text());
    let json = resp.json();
    assert_eq!(json["user"]["name"], "Ann");
    assert_eq!(json["recs"][1], "b");
    // The dependent call got the first one's value, encoded for a query.
    assert_eq!(json["orders"]["asked"], "/orders?owner=u%201");
    assert_eq!(json["errors"][0]["call"], "broken");
    assert_eq!(json["errors"][0]["status"], 503);
    assert!(json.get("broken").is_none());
    // A call after a failed one does not run, and is listed too.
    assert_eq!(json["errors"][1]["call"], "late");
    assert_eq!(json["errors"][1]["reason"], "the call it depends on failed");
    assert_eq!(
        b.orders.request_count(),
        1,
        "only the `orders` call reached it"
    );
    // Three slow calls at once, then the dependent one: two slow steps,
    // not four (the sum); the bound leaves room for a loaded machine.
    assert!(took >= SLOW * 2, "{took:?}");
    assert!(took < SLOW * 2 + Duration::from_millis(1200), "{took:?}");
    let timing = resp.header("server-timing").unwrap_or("");
    for name in ["user;dur=", "recs;dur=", "broken;dur=", "orders;dur="] {
        assert!(timing.contains(name), "{timing}");
    }
    // Every call carries the consumer's identity and its own fields.
    assert_eq!(b.users.last_request().path, "/users/42");
    for up in [&b.users, &b.recs, &b.orders, &b.broken] {
        let r = up.last_request();
        assert_eq!(r.headers["x-consumer-name"], "mobile", "{}", r.path);
    }
    assert_eq!(b.recs.last_request().headers["x-call"], "recs");
}

#[test]
fn a_failing_required_call_is_a_502_naming_it() {
    let b = backends();
    let tg = aggregating(&b, true);
    let resp = request(
        tg.addr("web"),
        "GET",
        "/dash",
        &[("X-API-Key", "key-mobile-0123456789")],
        b"",
    );
    assert_eq!(resp.status, 502, "{}", resp.text());
    let error = resp.json()["error"].as_str().unwrap_or("").to_string();
    assert!(
        error.contains("`broken`") && error.contains("503"),
        "{error}"
    );
    // The dependent call never ran.
    assert_eq!(b.orders.request_count(), 0);
}

const VERSIONS: &str = r#"
listeners: [{name: web, address: 127.0.0.1:0}]
routes:
  - name: users-v1
    match: {path: {prefix: /users}, version: {value: "1", from: header, default: true}}
    respond: {status: 200, body: v1}
    deprecation: {at: 2023-06-30T23:59:59Z, link: "https://example.com/v2-migration"}
    sunset: {at: 2030-01-01, link: "https://example.com/sunset"}
  - name: users-v2
    match: {path: {prefix: /users}, version: {value: "2", from: header}}
    respond: {status: 200, body: v2}
  - name: orders-v1
    match: {path: {prefix: /orders}, version: {value: "1", from: query, default: true}}
    respond: {status: 200, body: orders-v1}
  - name: orders-v2
    match: {path: {prefix: /orders}, version: {value: "2", from: query}}
    respond: {status: 200, body: orders-v2}
  - name: items-v2
    match: {path: {prefix: /items}, version: {value: "2", from: accept}}
    respond: {status: 200, body: items-v2}
  - name: items-v1
    match: {path: {prefix: /items}, version: {value: "1", from: accept, default: true}}
    respond: {status: 200, body: items-v1}
  - name: carts-v3
    match: {path: {prefix: /carts}, version: {value: "3", from: path}}
    respond: {status: 200, body: carts-v3}
"#;

#[test]
fn versions_route_by_each_selector_with_a_default() {
    let tg = Tollgate::start_with_defaults(VERSIONS);
    let body = |path: &str, headers: &[(&str, &str)]| {
        let r = request(tg.addr("web"), "GET", path, headers, b"");
        (r.status, r.text())
    };
    assert_eq!(body("/users", &[("Api-Version", "2")]).1, "v2");
    assert_eq!(body("/users", &[("Api-Version", "1")]).1, "v1");
    assert_eq!(body("/users", &[]).1, "v1", "no version: the default");
    assert_eq!(body("/users", &[("Api-Version", "9")]).0, 404);
    assert_eq!(body("/orders?version=2", &[]).1, "orders-v2");
    assert_eq!(body("/orders", &[]).1, "orders-v1");
    let accept = [("Accept", "application/vnd.example+json; version=2")];
    assert_eq!(body("/items", &accept).1, "items-v2");
    assert_eq!(
        body("/items", &[("Accept", "application/json")]).1,
        "items-v1"
    );
    assert_eq!(body("/v3/carts/1", &[]).1, "carts-v3");
    assert_eq!(body("/v2/carts/1", &[]).0, 404);
}

#[test]
fn deprecated_routes_announce_deprecation_sunset_and_links() {
    let tg = Tollgate::start_with_defaults(VERSIONS);
    let r = request(tg.addr("web"), "GET", "/users", &[], b"");
    assert_eq!(r.header("deprecation"), Some("@1688169599"));
    assert_eq!(r.header("sunset"), Some("Tue, 01 Jan 2030 00:00:00 GMT"));
    let links = r.header_all("link");
    assert!(
        links.contains(&"<https://example.com/v2-migration>; rel=\"deprecation\""),
        "{links:?}"
    );
    assert!(
        links.contains(&"<https://example.com/sunset>; rel=\"sunset\""),
        "{links:?}"
    );
    let r = request(
        tg.addr("web"),
        "GET",
        "/users",
        &[("Api-Version", "2")],
        b"",
    );
    assert_eq!(r.header("deprecation"), None);
    assert_eq!(r.header("sunset"), None);
}

#[test]
fn explain_says_which_version_and_why() {
    let yaml = format!("{}{VERSIONS}", tollgate_testkit::TEST_PREAMBLE);
    let config = tollgate_config::parse_str(&yaml, "test.yaml").unwrap();
    let named = tollgate_proxy::explain(
        &config,
        "GET",
        "http://a/users",
        &[("Api-Version".into(), "2".into())],
        None,
    )
    .unwrap();
    assert!(named.contains("=> route users-v2"), "{named}");
    assert!(
        named.contains("version 2 (named by header api-version)"),
        "{named}"
    );
    let default = tollgate_proxy::explain(&config, "GET", "http://a/users", &[], None).unwrap();
    assert!(default.contains("=> route users-v1"), "{default}");
    assert!(default.contains("version 1 (the default"), "{default}");
    assert!(default.contains("deprecation: @1688169599"), "{default}");
}

fn openapi_gateway(up: &Upstream, unknown: &str) -> (tollgate_testkit::TempDir, Tollgate) {
    let dir = tollgate_testkit::TempDir::tagged("openapi");
    let api = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/schemas/pets-api.yaml"),
    )
    .unwrap();
    let file = dir.write("api.yaml", api);
    let tg = Tollgate::for_upstream(
        up,
        &format!(
            "routes:\n  - name: pets\n    upstream: u\n    policies:\n      - validate: {{openapi: \"{}\", unknown_operation: {unknown}}}\n",
            file.display()
        ),
    );
    (dir, tg)
}

#[test]
fn openapi_checks_path_query_header_and_body_of_the_matched_operation() {
    let up = Upstream::echo();
    let (_dir, tg) = openapi_gateway(&up, "reject");
    let call = |method: &str, path: &str, headers: &[(&str, &str)], body: &str| {
        request(tg.addr("web"), method, path, headers, body.as_bytes())
    };
    assert_eq!(call("GET", "/pets?limit=5", &[], "").status, 200);
    assert_eq!(call("GET", "/pets/7", &[], "").status, 200);
    let key = [
        ("Idempotency-Key", "0123456789"),
        ("Content-Type", "application/json"),
    ];
    let pet = r#"{"name": "Rex", "species": "dog"}"#;
    let ok = call("POST", "/pets", &key, pet);
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.echo().body, pet);
    let forwarded = up.request_count();
    let refusals = [
        call("GET", "/pets?limit=500", &[], ""),
        call("GET", "/pets?limit=many", &[], ""),
        call("GET", "/pets/abc", &[], ""),
        call("GET", "/pets/0", &[], ""),
        call(
            "POST",
            "/pets",
            &[("Content-Type", "application/json")],
            pet,
        ),
        call(
            "POST",
            "/pets",
            &key,
            r#"{"name": "Rex", "species": "cow"}"#,
        ),
        call("POST", "/pets", &key, ""),
    ];
    let expected = [
        ("", "query parameter `limit`"),
        ("", "query parameter `limit`"),
        ("", "path parameter `id`"),
        ("", "path parameter `id`"),
        ("", "header parameter `idempotency-key` is required"),
        ("/species", ""),
        ("", "a request body is required"),
    ];
    for (resp, (pointer, fragment)) in refusals.iter().zip(expected) {
        assert_eq!(resp.status, 400, "{}", resp.text());
        let v = &resp.json()["violations"][0];
        assert_eq!(v["pointer"], pointer, "{v}");
        assert!(v["message"].as_str().unwrap().contains(fragment), "{v}");
    }
    assert_eq!(
        up.request_count(),
        forwarded,
        "refused requests never reach the upstream"
    );
}

#[test]
fn openapi_unknown_operations_are_404_or_passed_by_config() {
    let up = Upstream::echo();
    let (_dir, tg) = openapi_gateway(&up, "reject");
    assert_eq!(
        request(tg.addr("web"), "GET", "/owners", &[], b"").status,
        404
    );
    // A known path with a method the document does not list is unknown too.
    assert_eq!(
        request(tg.addr("web"), "PUT", "/pets/1", &[], b"").status,
        404
    );
    assert_eq!(up.request_count(), 0);
    let (_dir2, pass) = openapi_gateway(&up, "pass");
    assert_eq!(
        request(pass.addr("web"), "GET", "/owners", &[], b"").status,
        200
    );
    assert_eq!(up.request_count(), 1);
}

#[test]
fn answers_not_matching_their_schema_are_counted_not_blocked() {
    const BIN: &str = env!("CARGO_BIN_EXE_tollgate");
    let up = Upstream::scripted(|r| {
        let body = if r.path == "/good" {
            r#"[1, 2]"#
        } else {
            r#"{"not": "a list"}"#
        };
        Reply::ok(body).header("content-type", "application/json")
    });
    let dir = tollgate_testkit::TempDir::new();
    let config = dir.write(
        "tollgate.yaml",
        render(
            r#"
server: {workers: 1, shutdown_timeout: 5s}
access_log: {output: off}
admin: {address: "127.0.0.1:0"}
listeners: [{name: web, address: "127.0.0.1:0"}]
upstreams: [{name: u, targets: [{address: "{up}"}]}]
routes:
  - name: list
    upstream: u
    policies:
      - validate: {schema: {type: object}, answers: {schema: {type: array}}}
"#,
            &[("up", &up.addr())],
        ),
    );
    let mut tg = tollgate_testkit::TollgateProcess::start(BIN, &config, &[], &["web"]);
    let web = tg.addr("web");
    let admin = tg.admin_addr();
    let bad = request(web, "POST", "/bad", &[], b"{}");
    assert_eq!(bad.status, 200, "report mode never blocks");
    assert_eq!(
        bad.text(),
        r#"{"not": "a list"}"#,
        "the answer is sent as is"
    );
    assert_eq!(request(web, "POST", "/good", &[], b"{}").status, 200);
    assert_eq!(request(web, "POST", "/good", &[], b"[]").status, 400);
    let answer = r#"tollgate_validation_failures_total{route="list",side="answer"} 1"#;
    let refused = r#"tollgate_validation_failures_total{route="list",side="request"} 1"#;
    let started = Instant::now();
    loop {
        // The check runs when the answer's end has been sent: poll briefly.
        let text = tollgate_testkit::get(admin, "/metrics").text();
        if text.contains(answer) && text.contains(refused) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
