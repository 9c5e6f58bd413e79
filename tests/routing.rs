//! Route selection: host, path, method, header and query conditions,
//! precedence, listener restriction, and the 404 when nothing matches.
//! Every route answers with its own name as the body.

use tollgate_testkit::{request, HttpResponse, Tollgate};

/// `GET path` with `Host: host` and extra headers; returns the response.
fn get_host(tg: &Tollgate, host: &str, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    send(tg, "web", "GET", host, path, headers)
}

fn send(
    tg: &Tollgate,
    listener: &str,
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> HttpResponse {
    let mut all = vec![("host", host)];
    all.extend_from_slice(headers);
    request(tg.addr(listener), method, path, &all, b"")
}

/// The route that answered (each route's body is its name).
fn route(resp: &HttpResponse) -> String {
    assert_eq!(resp.status, 200, "unexpected answer: {}", resp.text());
    resp.text()
}

const ONE_LISTENER: &str = "listeners:\n  - {name: web, address: 127.0.0.1:0}\n";

fn start(routes: &str) -> Tollgate {
    Tollgate::start_with_defaults(&format!("{ONE_LISTENER}routes:\n{routes}"))
}

#[test]
fn exact_host_beats_wildcard_beats_no_host() {
    // File order is the reverse of precedence, so file order cannot explain a pass.
    let tg = start(
        r#"
  - {name: any-host, respond: {body: any-host}}
  - {name: wildcard, match: {hosts: ["*.example.com"]}, respond: {body: wildcard}}
  - {name: exact, match: {hosts: [api.example.com]}, respond: {body: exact}}
"#,
    );
    assert_eq!(route(&get_host(&tg, "api.example.com", "/", &[])), "exact");
    assert_eq!(
        route(&get_host(&tg, "www.example.com", "/", &[])),
        "wildcard"
    );
    assert_eq!(
        route(&get_host(&tg, "a.b.example.com", "/", &[])),
        "wildcard"
    );
    // The wildcard needs at least one label in front.
    assert_eq!(route(&get_host(&tg, "example.com", "/", &[])), "any-host");
    assert_eq!(route(&get_host(&tg, "other.org", "/", &[])), "any-host");
    assert_eq!(
        route(&get_host(&tg, "notexample.com", "/", &[])),
        "any-host"
    );
}

#[test]
fn host_is_matched_without_port_and_case_insensitively() {
    let tg = start(
        r#"
  - {name: any-host, respond: {body: any-host}}
  - {name: exact, match: {hosts: [api.example.com]}, respond: {body: exact}}
"#,
    );
    assert_eq!(
        route(&get_host(&tg, "API.Example.COM:8080", "/", &[])),
        "exact"
    );
}

#[test]
fn host_is_ranked_before_path() {
    let tg = start(
        r#"
  - {name: by-path, match: {path: {exact: /p}}, respond: {body: by-path}}
  - {name: by-host, match: {hosts: [h.test]}, respond: {body: by-host}}
"#,
    );
    assert_eq!(route(&get_host(&tg, "h.test", "/p", &[])), "by-host");
    assert_eq!(route(&get_host(&tg, "other.test", "/p", &[])), "by-path");
}

#[test]
fn exact_path_beats_regex_beats_longer_prefix_beats_shorter_prefix() {
    let tg = start(
        r#"
  - {name: no-path, respond: {body: no-path}}
  - {name: prefix-short, match: {path: {prefix: /api}}, respond: {body: prefix-short}}
  - {name: prefix-long, match: {path: {prefix: /api/v1}}, respond: {body: prefix-long}}
  - {name: regex, match: {path: {regex: "/api/v1/users/[0-9]+"}}, respond: {body: regex}}
  - {name: exact, match: {path: {exact: /api/v1/users/42}}, respond: {body: exact}}
"#,
    );
    let r = |p: &str| route(&get_host(&tg, "h.test", p, &[]));
    assert_eq!(r("/api/v1/users/42"), "exact");
    assert_eq!(r("/api/v1/users/7"), "regex");
    assert_eq!(r("/api/v1/users/x"), "prefix-long");
    assert_eq!(r("/api/v1"), "prefix-long");
    assert_eq!(r("/api/v2"), "prefix-short");
    assert_eq!(r("/api"), "prefix-short");
    // Segment boundary: /api does not match /apix, /api/v1 not /api/v1x.
    assert_eq!(r("/apix"), "no-path");
    assert_eq!(r("/api/v1x"), "prefix-short");
    // The regex must match the whole path.
    assert_eq!(r("/x/api/v1/users/7"), "no-path");
    assert_eq!(r("/api/v1/users/7/x"), "prefix-long");
    // Query strings do not take part in path matching.
    assert_eq!(r("/api/v1/users/42?q=1"), "exact");
}

#[test]
fn prefix_ending_in_slash_matches_anything_below() {
    let tg = start(
        r#"
  - {name: no-path, respond: {body: no-path}}
  - {name: slash, match: {path: {prefix: /static/}}, respond: {body: slash}}
"#,
    );
    assert_eq!(route(&get_host(&tg, "h", "/static/a.css", &[])), "slash");
    assert_eq!(route(&get_host(&tg, "h", "/static", &[])), "no-path");
}

#[test]
fn method_header_and_query_conditions() {
    let tg = start(
        r#"
  - {name: any, match: {path: {prefix: /m}}, respond: {body: any}}
  - {name: post, match: {path: {prefix: /m}, methods: [POST, PUT]}, respond: {body: post}}
  - name: canary
    match: {path: {prefix: /m}, headers: [{name: X-Canary, value: "yes"}]}
    respond: {body: canary}
  - name: version
    match: {path: {prefix: /m}, headers: [{name: x-version, regex: "v[0-9]+"}]}
    respond: {body: version}
  - name: debug
    match: {path: {prefix: /m}, headers: [{name: X-Debug, present: true}]}
    respond: {body: debug}
  - name: mode
    match: {path: {prefix: /m}, query: [{name: mode, value: "fast lane"}]}
    respond: {body: mode}
  - name: flag
    match: {path: {prefix: /m}, query: [{name: flag, present: true}]}
    respond: {body: flag}
  - name: post-canary
    match: {path: {prefix: /m}, methods: [POST], headers: [{name: X-Canary, value: "yes"}]}
    respond: {body: post-canary}
"#,
    );
    let r = |method: &str, path: &str, headers: &[(&str, &str)]| {
        route(&send(&tg, "web", method, "h.test", path, headers))
    };
    assert_eq!(r("GET", "/m", &[]), "any");
    assert_eq!(r("POST", "/m", &[]), "post");
    assert_eq!(r("PUT", "/m", &[]), "post");
    assert_eq!(r("DELETE", "/m", &[]), "any");
    assert_eq!(r("GET", "/m", &[("x-canary", "yes")]), "canary");
    assert_eq!(r("GET", "/m", &[("X-Canary", "no")]), "any");
    assert_eq!(r("GET", "/m", &[("X-Canary", "YES")]), "any");
    assert_eq!(r("GET", "/m", &[("X-Version", "v12")]), "version");
    // Header regexes are anchored to the whole value.
    assert_eq!(r("GET", "/m", &[("X-Version", "v12-beta")]), "any");
    assert_eq!(r("GET", "/m", &[("X-Debug", "")]), "debug");
    assert_eq!(r("GET", "/m?mode=fast+lane", &[]), "mode");
    assert_eq!(r("GET", "/m?a=1&mode=fast%20lane", &[]), "mode");
    assert_eq!(r("GET", "/m?mode=slow", &[]), "any");
    assert_eq!(r("GET", "/m?flag", &[]), "flag");
    // Two conditions beat one.
    assert_eq!(r("POST", "/m", &[("X-Canary", "yes")]), "post-canary");
}

#[test]
fn ties_go_to_file_order() {
    let tg = start(
        r#"
  - {name: first, match: {path: {prefix: /tie}}, respond: {body: first}}
  - {name: second, match: {path: {prefix: /tie}}, respond: {body: second}}
  - {name: by-method, match: {path: {prefix: /cond}, methods: [GET]}, respond: {body: by-method}}
  - name: by-header
    match: {path: {prefix: /cond}, headers: [{name: X-A, present: true}]}
    respond: {body: by-header}
"#,
    );
    assert_eq!(route(&get_host(&tg, "h", "/tie", &[])), "first");
    assert_eq!(
        route(&get_host(&tg, "h", "/cond", &[("X-A", "1")])),
        "by-method"
    );

    // The same routes the other way round.
    let tg = start(
        r#"
  - {name: second, match: {path: {prefix: /tie}}, respond: {body: second}}
  - {name: first, match: {path: {prefix: /tie}}, respond: {body: first}}
"#,
    );
    assert_eq!(route(&get_host(&tg, "h", "/tie", &[])), "second");
}

#[test]
fn routes_restricted_to_a_listener() {
    let tg = Tollgate::start_with_defaults(
        r#"
listeners:
  - {name: web, address: 127.0.0.1:0}
  - {name: admin, address: 127.0.0.1:0}
routes:
  - {name: everywhere, match: {path: {prefix: /}}, respond: {body: everywhere}}
  - {name: admin-only, listeners: [admin], match: {path: {prefix: /admin}}, respond: {body: admin-only}}
  - {name: web-only, listeners: [web], match: {path: {exact: /web}}, respond: {body: web-only}}
"#,
    );
    let r = |l: &str, p: &str| send(&tg, l, "GET", "h", p, &[]);
    assert_eq!(route(&r("admin", "/admin/x")), "admin-only");
    assert_eq!(route(&r("web", "/admin/x")), "everywhere");
    assert_eq!(route(&r("web", "/web")), "web-only");
    assert_eq!(route(&r("admin", "/web")), "everywhere");
}

#[test]
fn no_match_is_404_json_with_request_id() {
    let tg = Tollgate::start_with_defaults(
        r#"
listeners:
  - {name: web, address: 127.0.0.1:0}
  - {name: other, address: 127.0.0.1:0}
routes:
  - {name: only, listeners: [other], respond: {body: only}}
  - {name: api, match: {path: {prefix: /api}, methods: [POST]}, respond: {body: api}}
"#,
    );
    for path in ["/", "/api"] {
        let resp = get_host(&tg, "h.test", path, &[]);
        assert_eq!(resp.status, 404, "{path}: {}", resp.text());
        assert_eq!(resp.header("content-type"), Some("application/json"));
        let body = resp.json();
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}"
        );
        let id = body["request_id"].as_str().expect("request_id");
        assert_eq!(id.len(), 32, "{body}");
        assert_eq!(resp.header("x-request-id"), Some(id));
    }
}
