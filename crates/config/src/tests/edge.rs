//! Edge features: static targets, redirect templates, IP filters,
//! per-client caps, path normalization settings, and the `methods`,
//! `security_headers` and `cors` policies.

use std::time::Duration;

use super::*;

#[test]
fn edge_features_parse_with_their_values() {
    let dir = TempDir::new("full");
    let text = format!(
        r#"
listeners:
  - name: web
    address: 127.0.0.1:0
    ip_filter: {{allow: [10.0.0.0/8, "::1"], deny: [10.1.0.0/16]}}
    per_client: {{max_connections: 20, rate: 5/s, burst: 8}}
    normalize_path: false
    encoded_slash: reject
  - name: other
    address: 127.0.0.1:0
    per_client: {{rate: 100/min}}
routes:
  - name: files
    match: {{path: {{prefix: /files}}}}
    static:
      root: "{root}"
      index: start.html
      listing: true
      precompressed: true
      follow_symlinks_outside_root: true
      allow_hidden: true
      content_types: {{md: "text/markdown; charset=utf-8", .WebManifest: application/manifest+json}}
      default_content_type: text/plain
    rewrite: {{strip_prefix: /files}}
  - name: go
    match: {{path: {{regex: "/go/([a-z]+)"}}}}
    redirect: {{to: "https://$host/new/$1?$query", status: 308}}
    policies:
      - ip_filter: {{deny: [192.0.2.0/24]}}
      - methods: [GET, POST]
      - security_headers: {{hsts: "max-age=60", frame_options: SAMEORIGIN, referrer_policy: "off", content_security_policy: "default-src 'self'", overwrite: true}}
      - cors:
          allow_origins: ["https://app.example.com", "https://*.Example.org:8443"]
          allow_methods: [GET, PUT]
          allow_headers: [Content-Type, X-Token]
          expose_headers: [X-Request-Id]
          allow_credentials: true
          max_age: 10m
"#,
        root = dir.0.display()
    );
    let c = parse(&text).unwrap();
    let web = &c.listeners[0];
    let filter = web.ip_filter.as_ref().unwrap();
    assert_eq!(filter.allow.len(), 2);
    assert_eq!(filter.deny[0].to_string(), "10.1.0.0/16");
    let pc = web.per_client.as_ref().unwrap();
    assert_eq!(pc.max_connections, Some(20));
    assert_eq!(
        pc.rate,
        Some(ClientRate {
            count: 5,
            period: Duration::from_secs(1),
            burst: 8
        })
    );
    assert!(!web.normalize_path);
    assert_eq!(web.encoded_slash, EncodedSlash::Reject);
    let other = &c.listeners[1];
    assert!(other.normalize_path, "normalization is on by default");
    assert_eq!(other.encoded_slash, EncodedSlash::Keep);
    let rate = other.per_client.as_ref().unwrap().rate.unwrap();
    assert_eq!(rate.burst, 100, "burst defaults to the rate's count");

    let RouteTarget::Static(s) = &c.routes[0].target else {
        panic!("not static")
    };
    assert_eq!(s.root, std::fs::canonicalize(&dir.0).unwrap());
    assert_eq!(s.index, "start.html");
    assert!(s.listing && s.precompressed && s.follow_symlinks_outside_root && s.allow_hidden);
    assert_eq!(s.content_types[1].0, "webmanifest");
    assert_eq!(s.default_content_type, "text/plain");
    assert!(c.routes[0].rewrite.is_some());

    let RouteTarget::Redirect(r) = &c.routes[1].target else {
        panic!("not a redirect")
    };
    assert!(r.location.uses_captures());
    assert_eq!(r.location.as_written(), "https://$host/new/$1?$query");
    let kinds: Vec<&str> = c.routes[1].policies.iter().map(Policy::kind).collect();
    assert_eq!(kinds, ["ip_filter", "methods", "security_headers", "cors"]);
    let Policy::Methods(m) = &c.routes[1].policies[1] else {
        panic!()
    };
    assert_eq!(m.allow, "GET, POST, HEAD");
    let Policy::SecurityHeaders(h) = &c.routes[1].policies[2] else {
        panic!()
    };
    assert_eq!(h.hsts.as_ref().unwrap(), "max-age=60");
    let names: Vec<&str> = h.fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "x-content-type-options",
            "x-frame-options",
            "content-security-policy"
        ]
    );
    assert!(h.overwrite);
    let Policy::Cors(cors) = &c.routes[1].policies[3] else {
        panic!()
    };
    assert_eq!(
        cors.origins,
        AllowOrigins::List(vec![
            OriginPattern::Exact("https://app.example.com".into()),
            OriginPattern::Subdomains {
                scheme: "https://".into(),
                suffix: ".example.org:8443".into()
            }
        ])
    );
    assert_eq!(cors.allow_methods_value, "GET, PUT");
    assert_eq!(
        cors.allow_headers.list_value().unwrap(),
        "content-type, x-token"
    );
    assert_eq!(cors.expose_headers_value.as_ref().unwrap(), "x-request-id");
    assert_eq!(cors.max_age_value.as_ref().unwrap(), "600");
    assert!(cors.credentials);
}

#[test]
fn policy_defaults() {
    let c = parse(
        r#"
listeners: [{name: web, address: 127.0.0.1:0}]
routes:
  - name: r
    respond: {}
    policies:
      - security_headers: {}
      - cors: {allow_origins: ["*"], allow_headers: ["*"]}
"#,
    )
    .unwrap();
    let Policy::SecurityHeaders(h) = &c.routes[0].policies[0] else {
        panic!()
    };
    assert_eq!(h.hsts.as_ref().unwrap(), "max-age=31536000");
    let fields: Vec<(&str, &str)> = h
        .fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.to_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "strict-origin-when-cross-origin"),
        ]
    );
    assert!(!h.overwrite);
    let Policy::Cors(cors) = &c.routes[0].policies[1] else {
        panic!()
    };
    assert_eq!(cors.origins, AllowOrigins::Any);
    assert_eq!(cors.allow_headers, AllowHeaders::Any);
    assert_eq!(cors.allow_methods_value, "GET, HEAD, POST");
    assert!(!cors.credentials && cors.max_age_value.is_none());
}

#[test]
fn edge_errors_name_field_and_place() {
    let dir = TempDir::new("errors");
    let file = dir.0.join("file.txt");
    std::fs::write(&file, "x").unwrap();
    let text = format!(
        r#"listeners:
  - name: web
    address: 127.0.0.1:0
    ip_filter: {{allow: [10.0.0.0/33]}}
    per_client: {{burst: 5}}
    encoded_slash: drop
  - name: b
    address: 127.0.0.1:0
    ip_filter: {{}}
    per_client: {{rate: 5/fortnight, max_connections: 0}}
routes:
  - name: a
    static: {{root: "{missing}", index: "a/b"}}
  - name: b
    static: {{root: "{file}", content_types: {{"m d": text/plain}}}}
  - name: c
    static: {{}}
    upstream: nope
  - name: d
    redirect: {{to: "https://x/$nope"}}
    rewrite: {{strip_prefix: /x}}
  - name: e
    respond: {{}}
    policies:
      - methods: []
      - methods: [get]
      - security_headers: {{hsts: "a\tb\u0001"}}
      - cors: {{allow_origins: ["*"], allow_credentials: true}}
      - cors: {{allow_methods: [GET]}}
      - cors: {{allow_origins: ["*", "https://a.com"], allow_headers: [X-A, "*"]}}
      - cors: {{allow_origins: ["https://a.com/"]}}
      - ip_filter: {{deny: [nope]}}
"#,
        missing = dir.0.join("nope").display(),
        file = file.display()
    );
    expect_errors(
        &text,
        &[
            (4, "listeners[0].ip_filter.allow[0]", "invalid address"),
            (
                5,
                "listeners[0].per_client",
                "needs `max_connections`, `rate` or both",
            ),
            (5, "listeners[0].per_client.burst", "`burst` needs a `rate`"),
            (
                6,
                "listeners[0].encoded_slash",
                "expected `keep`, `reject` or `decode`",
            ),
            (9, "listeners[1].ip_filter", "at least one address"),
            (10, "listeners[1].per_client.rate", "invalid rate"),
            (
                10,
                "listeners[1].per_client.max_connections",
                "must be between 1",
            ),
            (13, "routes[0].static.root", "cannot use"),
            (13, "routes[0].static.index", "expected a file name"),
            (15, "routes[1].static.root", "is not a directory"),
            (
                15,
                "routes[1].static.content_types.m d",
                "invalid extension",
            ),
            (16, "routes[2]", "found `upstream` and `static`"),
            (20, "routes[3].redirect.to", "unknown variable `$nope`"),
            (
                21,
                "routes[3].rewrite",
                "only allowed on routes with `upstream` or `static`",
            ),
            (25, "routes[4].policies[0].methods", "at least one method"),
            (26, "routes[4].policies[1].methods[0]", "write `GET`"),
            (
                27,
                "routes[4].policies[2].security_headers.hsts",
                "invalid header value",
            ),
            (
                28,
                "routes[4].policies[3].cors.allow_credentials",
                "cannot be combined",
            ),
            (
                29,
                "routes[4].policies[4].cors.allow_origins",
                "missing required field `allow_origins`",
            ),
            (
                30,
                "routes[4].policies[5].cors.allow_origins[0]",
                "write it alone",
            ),
            (
                30,
                "routes[4].policies[5].cors.allow_headers[1]",
                "must be the only entry",
            ),
            (31, "routes[4].policies[6].cors.allow_origins[0]", "no path"),
            (
                32,
                "routes[4].policies[7].ip_filter.deny[0]",
                "invalid address",
            ),
        ],
    );
}

#[test]
fn relative_static_roots_are_resolved_against_the_config_file() {
    let dir = TempDir::new("relative");
    std::fs::create_dir_all(dir.0.join("site")).unwrap();
    let config = dir.0.join("tollgate.yaml");
    std::fs::write(
        &config,
        "listeners: [{name: web, address: 127.0.0.1:0}]\nroutes: [{name: s, static: {root: site}}]\n",
    )
    .unwrap();
    let c = load(&config).unwrap();
    let RouteTarget::Static(s) = &c.routes[0].target else {
        panic!("not static")
    };
    assert_eq!(s.root, std::fs::canonicalize(dir.0.join("site")).unwrap());
    assert_eq!(s.index, "index.html");
    assert!(!s.listing && !s.precompressed && !s.allow_hidden);
    assert_eq!(s.default_content_type, "application/octet-stream");
}
