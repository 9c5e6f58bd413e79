//! The API-shaping parts: the `validate` policy (inline and file schemas,
//! located errors), `match.version`, `deprecation` / `sunset`, and the
//! `aggregate` target.

use super::*;

/// The JSON Schema of a `validate` policy.
fn schema_of(p: &Policy) -> &JsonSchema {
    match p {
        Policy::Validate(v) => match &v.against {
            ValidateAgainst::Schema(s) => s,
            ValidateAgainst::OpenApi(_) => panic!("an OpenAPI validate policy"),
        },
        _ => panic!("not a validate policy"),
    }
}

const VALIDATE: &str = r#"
listeners: [{name: web, address: 127.0.0.1:0}]
routes:
  - name: r
    respond: {status: 200}
    policies:
      - validate:
          errors: problem
          max_body: 4KiB
          schema:
            type: object
            required: [amount]
            properties:
              amount: {type: integer, minimum: 1}
"#;

#[test]
fn validate_inline_schema_is_compiled_with_its_settings() {
    let c = parse(VALIDATE).unwrap();
    let Policy::Validate(v) = &c.routes[0].policies[0] else {
        panic!("not a validate policy")
    };
    assert_eq!(v.errors, ErrorFormat::Problem);
    assert_eq!(v.max_body, 4096);
    let schema = schema_of(&c.routes[0].policies[0]);
    assert!(schema.validator.is_valid(&serde_json::json!({"amount": 2})));
    assert!(!schema.validator.is_valid(&serde_json::json!({"amount": 0})));
    let d = parse(&VALIDATE.replace("          errors: problem\n          max_body: 4KiB\n", ""))
        .unwrap();
    let Policy::Validate(v) = &d.routes[0].policies[0] else {
        panic!("not a validate policy")
    };
    assert_eq!((v.errors, v.max_body), (ErrorFormat::Json, 1 << 20));
}

#[test]
fn validate_errors_are_located() {
    expect_errors(
        r#"
listeners: [{name: web, address: 127.0.0.1:0}]
routes:
  - name: r
    respond: {status: 200}
    policies:
      - validate: {errors: xml, schema: {type: 3}}
      - validate: {}
      - validate: {schema_file: missing.json}
      - validate:
          schema: {$ref: "https://example.com/remote.json"}
"#,
        &[
            (
                7,
                "routes[0].policies[0].validate.errors",
                "expected `json` or `problem`",
            ),
            (
                7,
                "routes[0].policies[0].validate.schema",
                "invalid JSON Schema",
            ),
            (
                8,
                "routes[0].policies[1].validate",
                "exactly one of `schema`, `schema_file` or `openapi`",
            ),
            (
                9,
                "routes[0].policies[2].validate.schema_file",
                "cannot read",
            ),
            (
                11,
                "routes[0].policies[3].validate.schema",
                "invalid JSON Schema",
            ),
        ],
    );
}

#[test]
fn schema_files_load_and_syntax_errors_name_file_line_and_column() {
    let dir = TempDir::new("schema");
    std::fs::write(dir.0.join("ok.yaml"), "type: object\nrequired: [id]\n").unwrap();
    std::fs::write(
        dir.0.join("bad.json"),
        "{\n  \"type\": \"object\",\n  oops\n}\n",
    )
    .unwrap();
    let config = dir.0.join("tollgate.yaml");
    let text = |file: &str| {
        format!(
            "listeners: [{{name: web, address: 127.0.0.1:0}}]\nroutes:\n  - name: r\n    respond: {{status: 200}}\n    policies:\n      - validate: {{schema_file: {file}}}\n"
        )
    };
    std::fs::write(&config, text("ok.yaml")).unwrap();
    let c = load(&config).unwrap();
    let schema = schema_of(&c.routes[0].policies[0]);
    assert_eq!(schema.source, "ok.yaml");
    assert!(!schema.validator.is_valid(&serde_json::json!({})));
    std::fs::write(&config, text("bad.json")).unwrap();
    let errs = load(&config).unwrap_err().0;
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].message.contains("bad.json:3:3:"),
        "{}",
        errs[0].message
    );
}

#[test]
fn version_conditions_and_lifecycle_dates() {
    let c = parse(
        r#"
listeners: [{name: web, address: 127.0.0.1:0}]
routes:
  - name: v1
    match: {path: {prefix: /users}, version: {value: "1", from: header, default: true}}
    respond: {status: 200}
    deprecation: {at: 2023-06-30T23:59:59Z, link: "https://example.com/migrate"}
    sunset: {at: 2024-01-01}
  - name: v2
    match: {version: {value: "2", from: accept}}
    respond: {status: 200}
  - name: v3
    match: {version: {value: "3", from: query, name: api}}
    respond: {status: 200}
  - name: v4
    match: {version: {value: "4", from: path}}
    respond: {status: 200}
"#,
    )
    .unwrap();
    let v = |i: usize| c.routes[i].matcher.version.clone().unwrap();
    assert_eq!(
        v(0).from,
        VersionSource::Header(http::HeaderName::from_static("api-version"))
    );
    assert!(v(0).default && !v(1).default);
    assert_eq!(v(1).from, VersionSource::Accept("version".into()));
    assert_eq!(v(2).from, VersionSource::Query("api".into()));
    assert_eq!(v(3).from, VersionSource::Path);
    let l = c.routes[0].lifecycle.as_ref().unwrap();
    let d = l.deprecation.as_ref().unwrap();
    assert_eq!(d.at, 1_688_169_599);
    assert_eq!(d.link.as_deref(), Some("https://example.com/migrate"));
    assert_eq!(l.sunset.as_ref().unwrap().at, 1_704_067_200);
    assert!(c.routes[1].lifecycle.is_none());
}

#[test]
fn version_and_lifecycle_errors_are_located() {
    expect_errors(
        r#"
listeners: [{name: web, address: 127.0.0.1:0}]
routes:
  - name: a
    match: {version: {value: "1", from: cookie}}
    respond: {status: 200}
    deprecation: {at: 2023-02-30}
  - name: b
    match: {version: {from: path, name: x}}
    respond: {status: 200}
    sunset: {link: "https://x"}
"#,
        &[
            (
                5,
                "routes[0].match.version.from",
                "expected `path`, `header`, `query` or `accept`",
            ),
            (7, "routes[0].deprecation.at", "invalid date `2023-02-30`"),
            (
                9,
                "routes[1].match.version.value",
                "missing required field `value`",
            ),
            (11, "routes[1].sunset.at", "missing required field `at`"),
        ],
    );
}

const AGGREGATE: &str = r#"
listeners: [{name: web, address: 127.0.0.1:0}]
upstreams:
  - {name: users, targets: [{address: 127.0.0.1:9001}]}
  - {name: orders, targets: [{address: 127.0.0.1:9002}]}
routes:
  - name: dash
    timeout: 5s
    aggregate:
      merge: deep
      calls:
        - {name: user, upstream: users, path: "/users/$http_x_user"}
        - name: orders
          upstream: orders
          after: user
          method: POST
          path: "/orders?owner={user:/id}"
          headers: {X-From: tollgate}
          timeout: 1s
          required: false
"#;

#[test]
fn aggregate_calls_resolve_upstreams_and_dependencies() {
    let c = parse(AGGREGATE).unwrap();
    let RouteTarget::Aggregate(a) = &c.routes[0].target else {
        panic!("not an aggregate")
    };
    assert_eq!(a.merge, Merge::Deep);
    assert_eq!(a.max_concurrency, 8);
    let (user, orders) = (&a.calls[0], &a.calls[1]);
    assert_eq!(
        (user.upstream, user.timeout, user.required),
        (0, secs(5), true)
    );
    assert_eq!(user.method, http::Method::GET);
    assert_eq!(
        (orders.upstream, orders.after, orders.required),
        (1, Some(0), false)
    );
    assert_eq!(orders.timeout, secs(1));
    assert!(matches!(
        &orders.path[1],
        CallPart::Answer { call: 0, pointer } if pointer == "/id"
    ));
    assert_eq!(orders.headers[0].0, "x-from");
}

#[test]
fn aggregate_errors_are_located() {
    expect_errors(
        r#"
listeners: [{name: web, address: 127.0.0.1:0}]
upstreams:
  - {name: users, targets: [{address: 127.0.0.1:9001}]}
routes:
  - name: dash
    aggregate:
      merge: shallow
      calls:
        - {name: a, upstream: nope, path: /a}
        - {name: b, upstream: users, path: "/b/{a:/id}"}
        - {name: c, upstream: users, after: zzz, path: /c}
        - {name: d, upstream: users, path: "d"}
"#,
        &[
            (8, "routes[0].aggregate.merge", "expected `keys` or `deep`"),
            (
                10,
                "routes[0].aggregate.calls[0].upstream",
                "unknown upstream `nope`",
            ),
            (
                11,
                "routes[0].aggregate.calls[1].path",
                "only come from the call named in `after`",
            ),
            (
                12,
                "routes[0].aggregate.calls[2].after",
                "unknown earlier call `zzz`",
            ),
            (
                13,
                "routes[0].aggregate.calls[3].path",
                "must start with `/`",
            ),
        ],
    );
}

const OPENAPI: &str = r##"
openapi: 3.1.0
info: {title: pets, version: "1"}
components:
  schemas:
    Pet:
      type: object
      required: [name]
      properties: {name: {type: string}}
  parameters:
    Limit: {name: limit, in: query, schema: {type: integer, maximum: 100}}
paths:
  /pets:
    get:
      parameters: [{$ref: "#/components/parameters/Limit"}]
    post:
      parameters: [{name: X-Trace, in: header, required: true}]
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Pet"}
  /pets/{id}:
    parameters: [{name: id, in: path, schema: {type: integer}}]
    get: {}
"##;

/// Writes `api` as api.yaml and a configuration validating against it
/// (`extra`: more settings of the policy); the configuration's path.
pub(super) fn openapi_config(dir: &TempDir, api: &str, extra: &str) -> std::path::PathBuf {
    std::fs::write(dir.0.join("api.yaml"), api).unwrap();
    let config = dir.0.join("tollgate.yaml");
    std::fs::write(
        &config,
        format!("listeners: [{{name: web, address: 127.0.0.1:0}}]\nroutes:\n  - name: r\n    respond: {{status: 200}}\n    policies:\n      - validate: {{openapi: api.yaml{extra}}}\n"),
    )
    .unwrap();
    config
}

#[test]
fn openapi_operations_parameters_and_bodies_are_read() {
    let dir = TempDir::new("openapi");
    let c = load(&openapi_config(&dir, OPENAPI, ", unknown_operation: pass")).unwrap();
    let Policy::Validate(v) = &c.routes[0].policies[0] else {
        panic!("not a validate policy")
    };
    let ValidateAgainst::OpenApi(api) = &v.against else {
        panic!("not OpenAPI")
    };
    assert!(api.pass_unknown);
    let ops: Vec<(String, &str)> = api
        .operations
        .iter()
        .map(|o| (o.method.to_string(), o.template.as_str()))
        .collect();
    assert_eq!(
        ops,
        [
            ("GET".to_string(), "/pets"),
            ("POST".to_string(), "/pets"),
            ("GET".to_string(), "/pets/{id}")
        ]
    );
    let limit = &api.operations[0].parameters[0];
    assert_eq!(
        (limit.name.as_str(), limit.location, limit.required),
        ("limit", ParamIn::Query, false)
    );
    assert!(!limit
        .schema
        .as_ref()
        .unwrap()
        .validator
        .is_valid(&serde_json::json!(101)));
    let post = &api.operations[1];
    assert_eq!(post.parameters[0].name, "x-trace");
    let body = post.body.as_ref().unwrap();
    assert!(body.required);
    let pet = body.schema.as_ref().unwrap();
    assert!(pet.validator.is_valid(&serde_json::json!({"name": "rex"})));
    assert!(!pet.validator.is_valid(&serde_json::json!({})));
    let by_id = &api.operations[2];
    assert_eq!(by_id.segments[1], TemplateSegment::Param("id".into()));
    assert!(by_id.parameters[0].required, "path parameters are required");
}

#[test]
fn openapi_errors_name_the_file_and_place() {
    let dir = TempDir::new("openapi-bad");
    let errs = load(&openapi_config(
        &dir,
        "openapi: 3.1.0\npaths:\n  /x: [\n",
        "",
    ))
    .unwrap_err()
    .0;
    assert!(errs[0].message.contains("api.yaml:"), "{errs:?}");
    let errs = load(&openapi_config(&dir, "openapi: 2.0\npaths: {}\n", ""))
        .unwrap_err()
        .0;
    assert!(
        errs[0].message.contains("only OpenAPI 3.0 and 3.1"),
        "{errs:?}"
    );
    let bad_ref =
        "openapi: 3.0.3\npaths:\n  /x:\n    get:\n      parameters: [{$ref: \"other.yaml#/p\"}]\n";
    let errs = load(&openapi_config(&dir, bad_ref, "")).unwrap_err().0;
    assert!(
        errs[0].message.contains("paths./x.get.parameters[0]"),
        "{errs:?}"
    );
    assert_eq!(errs[0].path, "routes[0].policies[0].validate.openapi");
}

#[test]
fn answer_checks_are_report_only_with_their_own_schema() {
    let c = parse(&VALIDATE.replace(
        "          errors: problem\n",
        "          errors: problem\n          answers: {mode: report, schema: {type: array}}\n",
    ))
    .unwrap();
    let Policy::Validate(v) = &c.routes[0].policies[0] else {
        panic!("not a validate policy")
    };
    let Some(AnswerCheck::Schema(answers)) = &v.answers else {
        panic!("answers against their own schema")
    };
    assert!(answers.validator.is_valid(&serde_json::json!([1])));
    assert!(!answers.validator.is_valid(&serde_json::json!({})));
    expect_errors(
        r#"
listeners: [{name: web, address: 127.0.0.1:0}]
routes:
  - name: r
    respond: {status: 200}
    policies:
      - validate: {schema: {}, answers: {mode: enforce, schema: {}}}
      - validate: {schema: {}, answers: {}}
"#,
        &[
            (
                7,
                "routes[0].policies[0].validate.answers.mode",
                "expected `report`",
            ),
            (
                8,
                "routes[0].policies[1].validate.answers",
                "exactly one of `schema` or `schema_file`",
            ),
        ],
    );
}
