//! Route policy chains: order (defaults, then the route's own, named ones
//! inlined), and the `headers` policy with its variables, checked at the
//! echo upstream and on the answers.

use tollgate_testkit::{request, Tollgate, Upstream};

#[test]
fn request_rules_reach_the_upstream_with_variables_rendered() {
    let up = Upstream::echo();
    let tg = Tollgate::for_upstream(
        &up,
        r#"
routes:
  - name: users
    match: {path: {regex: "/users/([0-9]+)/(\\w+)"}}
    upstream: u
    policies:
      - headers:
          request:
            remove: [X-Debug]
            set: {X-Client: "$client_ip", X-User: "$1", X-Where: "$method $host$path?$query"}
            add: {X-Tag: "from-$http_x_source"}
"#,
    );
    let resp = request(
        tg.addr("web"),
        "GET",
        "/users/42/posts?a=1",
        &[
            ("Host", "API.test"),
            ("X-Debug", "1"),
            ("X-Source", "app"),
            ("X-Tag", "first"),
        ],
        b"",
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let echo = resp.echo();
    assert!(!echo.has_header("x-debug"));
    assert_eq!(echo.header("x-client"), Some("127.0.0.1"));
    assert_eq!(echo.header("x-user"), Some("42"));
    assert_eq!(
        echo.header("x-where"),
        Some("GET api.test/users/42/posts?a=1")
    );
    assert_eq!(echo.header_all("x-tag"), ["first", "from-app"]);
}

#[test]
fn response_rules_apply_to_upstream_and_fixed_answers_in_reverse_order() {
    let up = Upstream::with_headers(&[("Server", "backend/1.0"), ("X-Powered-By", "php")]);
    let tg = Tollgate::for_upstream(
        &up,
        r#"
policies:
  branded:
    headers: {response: {set: {Server: tollgate}, add: {X-Layer: named}}}
defaults:
  policies:
    - headers: {response: {add: {X-Layer: defaults}, set: {X-Id: "req-$request_id"}}}
routes:
  - name: api
    match: {path: {prefix: /api}}
    upstream: u
    policies:
      - use: branded
      - headers: {response: {remove: [X-Powered-By], add: {X-Layer: route}}}
  - name: fixed
    respond: {status: 204}
    policies: [{use: branded}]
"#,
    );
    let resp = request(
        tg.addr("web"),
        "GET",
        "/api/x",
        &[("X-Request-Id", "abc")],
        b"",
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.header("server"), Some("tollgate"));
    assert_eq!(resp.header("x-powered-by"), None);
    // Response phases run last listed first: route, named, defaults.
    assert_eq!(resp.header_all("x-layer"), ["route", "named", "defaults"]);
    assert_eq!(resp.header("x-id"), Some("req-abc"));

    let fixed = request(tg.addr("web"), "GET", "/other", &[], b"");
    assert_eq!(fixed.status, 204);
    assert_eq!(fixed.header("server"), Some("tollgate"));
    assert_eq!(fixed.header_all("x-layer"), ["named", "defaults"]);
}
