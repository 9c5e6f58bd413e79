//! Answers checked against the `responses` of the OpenAPI operation their
//! request matched (`validate` with `openapi` and `answers: {mode:
//! report}`), on real sockets: the client always gets the upstream's
//! answer as sent; a body not matching the schema of its status and media
//! type, an undeclared status and a missing declared header field are each
//! logged and counted, answers that match are not. The document is
//! OpenAPI 3.0 and uses `nullable`, which must be understood.

use std::time::{Duration, Instant};

use tollgate_testkit::{render, request, Reply, TempDir, TollgateProcess, Upstream};

const API: &str = r##"
openapi: 3.0.3
info: {title: pets, version: "1"}
components:
  schemas:
    Pet:
      type: object
      required: [id, name]
      properties:
        id: {type: integer}
        name: {type: string}
        tag: {type: string, nullable: true}
paths:
  /pets/{id}:
    get:
      parameters: [{name: id, in: path, schema: {type: integer}}]
      responses:
        200:
          description: a pet
          headers:
            X-Rate-Limit: {required: true, schema: {type: integer}}
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Pet"}
        4XX:
          description: a problem
          content:
            application/problem+json:
              schema: {type: object, required: [title]}
"##;

/// What the upstream answers for `/pets/{id}`.
fn answer(path: &str) -> Reply {
    let json = |status: u16, ct: &str, body: &str| {
        Reply::new(status)
            .header("content-type", ct)
            .header("x-rate-limit", "10")
            .body(body.to_string())
    };
    match path {
        "/pets/1" => json(
            200,
            "application/json",
            r#"{"id": 1, "name": "Rex", "tag": null}"#,
        ),
        "/pets/2" => json(404, "application/problem+json", r#"{"title": "no pet 2"}"#),
        "/pets/3" => json(200, "application/json", r#"{"id": "three", "name": "Rex"}"#),
        "/pets/4" => json(500, "application/json", r#"{"id": 4, "name": "Rex"}"#),
        _ => Reply::ok(r#"{"id": 5, "name": "Rex"}"#).header("content-type", "application/json"),
    }
}

#[test]
fn openapi_answers_are_checked_per_operation_and_never_changed() {
    const BIN: &str = env!("CARGO_BIN_EXE_tollgate");
    let up = Upstream::scripted(|r| answer(&r.path));
    let dir = TempDir::new();
    dir.write("api.yaml", API);
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
  - name: pets
    upstream: u
    policies:
      - validate: {openapi: api.yaml, answers: {mode: report}}
"#,
            &[("up", &up.addr())],
        ),
    );
    let mut tg = TollgateProcess::start(BIN, &config, &[], &["web"]);
    let web = tg.addr("web");
    let admin = tg.admin_addr();
    // Matching answers first (a nullable field sent as null; a 404 under `4XX`).
    for (path, status) in [("/pets/1", 200), ("/pets/2", 404)] {
        let resp = request(web, "GET", path, &[], b"");
        assert_eq!(resp.status, status, "{}", resp.text());
        assert_eq!(resp.body, answer(path).body, "sent as the upstream sent it");
    }
    // Then one of each kind of mismatch, each logged.
    let mismatches = [
        ("/pets/3", 200, "pointer=/id"),
        (
            "/pets/4",
            500,
            "status 500 is not declared for this operation",
        ),
        ("/pets/5", 200, "header `x-rate-limit` is required"),
    ];
    for (path, status, logged) in mismatches {
        let resp = request(web, "GET", path, &[], b"");
        assert_eq!(resp.status, status, "report mode never blocks");
        assert_eq!(resp.body, answer(path).body, "the answer is sent as is");
        let line = tg.wait_for(logged, Duration::from_secs(10));
        assert!(line.contains("operation=/pets/{id}"), "{line}");
    }
    let counted = r#"tollgate_validation_failures_total{route="pets",side="answer"} "#;
    let started = Instant::now();
    let text = loop {
        let text = tollgate_testkit::get(admin, "/metrics").text();
        if text.contains(counted) {
            break text;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        text.contains(&format!("{counted}3")),
        "the three mismatches, not the matching answers: {text}"
    );
}
