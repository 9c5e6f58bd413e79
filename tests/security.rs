//! Security filtering over real sockets: IP filters on routes and
//! listeners (clients on 127.0.0.1 and 127.0.0.2, and ::1 when the host
//! has it), the `methods` policy, path normalization that keeps route
//! restrictions from being bypassed, per-client connection and rate caps,
//! security response headers, and CORS.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use tollgate_testkit::{
    connect, connect_from, get, parse_response, parse_status, raw_request, raw_request_from,
    render, request, Tollgate, Upstream,
};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

fn start(up: &Upstream, rest: &str) -> Tollgate {
    Tollgate::start_with_defaults(&render(
        "upstreams:\n  - {name: u, targets: [{address: \"{up}\"}]}\n{rest}",
        &[("up", &up.addr()), ("rest", &rest)],
    ))
}

fn get_from(from: IpAddr, addr: SocketAddr, path: &str) -> Vec<u8> {
    raw_request_from(
        from,
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// Reads until EOF, a reset or `bound`; returns what arrived and whether
/// the server closed.
fn read_to_eof(stream: &mut TcpStream, bound: Duration) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + bound;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (out, false);
        }
        stream.set_read_timeout(Some(left)).expect("timeout");
        match stream.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (out, false)
            }
            Err(_) => return (out, true),
        }
    }
}

/// Sends a GET on `stream` (the write may fail on a connection refused
/// already) and reads to EOF within 5 s: what arrived, and whether it closed.
fn send_get(mut stream: TcpStream) -> (Vec<u8>, bool) {
    let _ = stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    read_to_eof(&mut stream, Duration::from_secs(5))
}

fn ipv6_loopback() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

#[test]
fn ip_filter_on_a_route_answers_403() {
    let up = Upstream::echo();
    let tg = start(
        &up,
        r#"
listeners: [{name: web, address: 127.0.0.1:0}]
routes:
  - name: admin
    match: {path: {prefix: /admin}}
    upstream: u
    policies:
      - ip_filter: {allow: [127.0.0.0/8], deny: [127.0.0.2]}
  - name: open
    upstream: u
"#,
    );
    let addr = tg.addr("web");
    assert_eq!(parse_status(&get_from(LOCAL, addr, "/admin/x")), 200);
    let refused = parse_response(&get_from(OTHER, addr, "/admin/x"));
    assert_eq!(refused.status, 403);
    assert_eq!(refused.json()["error"], "forbidden");
    assert!(refused.json()["request_id"].is_string());
    assert_eq!(refused.header("content-type"), Some("application/json"));
    assert_eq!(parse_status(&get_from(OTHER, addr, "/open")), 200);
    assert_eq!(
        up.request_count_except("/open"),
        1,
        "the refused request never reached the upstream"
    );
}

#[test]
fn ip_filter_on_a_listener_closes_refused_connections_unread() {
    let up = Upstream::echo();
    let tg = start(
        &up,
        r#"
listeners:
  - {name: web, address: 127.0.0.1:0, ip_filter: {deny: [127.0.0.2/32]}}
routes: [{name: all, upstream: u}]
"#,
    );
    let addr = tg.addr("web");
    assert_eq!(parse_status(&get_from(LOCAL, addr, "/")), 200);
    let (bytes, closed) = send_get(connect_from(OTHER, addr));
    assert!(closed, "refused connection is closed");
    assert!(
        bytes.is_empty(),
        "nothing is answered: {:?}",
        String::from_utf8_lossy(&bytes)
    );
    assert_eq!(up.request_count(), 1);
}

#[test]
fn ip_filter_over_ipv6_loopback() {
    if !ipv6_loopback() {
        eprintln!("skipped: no IPv6 loopback");
        return;
    }
    let up = Upstream::echo();
    let tg = start(
        &up,
        r#"
listeners:
  - {name: v6, address: "[::1]:0", ip_filter: {allow: ["::1"]}}
  - {name: v6deny, address: "[::1]:0", ip_filter: {deny: ["::/0"]}}
routes: [{name: all, upstream: u}]
"#,
    );
    assert_eq!(get(tg.addr("v6"), "/").status, 200);
    let (bytes, closed) = send_get(connect(tg.addr("v6deny")));
    assert!(closed && bytes.is_empty());
}

#[test]
fn methods_policy_answers_405_with_allow() {
    let up = Upstream::echo();
    let tg = start(
        &up,
        r#"
listeners: [{name: web, address: 127.0.0.1:0}]
routes:
  - name: read-only
    upstream: u
    policies: [{methods: [GET, OPTIONS]}]
"#,
    );
    let addr = tg.addr("web");
    assert_eq!(get(addr, "/x").status, 200);
    assert_eq!(
        request(addr, "HEAD", "/x", &[], b"").status,
        200,
        "GET brings HEAD"
    );
    let post = request(addr, "POST", "/x", &[], b"data");
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, OPTIONS, HEAD"));
    assert_eq!(post.json()["error"], "method not allowed");
    assert_eq!(up.request_count(), 2);
}

const BYPASS_ROUTES: &str = r#"
routes:
  - name: admin
    match: {path: {prefix: /admin}}
    respond: {status: 200, body: "admin area"}
    policies: [{ip_filter: {deny: ["0.0.0.0/0", "::/0"]}}]
  - name: public
    match: {path: {prefix: /public}}
    upstream: u
"#;

#[test]
fn normalization_keeps_restricted_routes_from_being_bypassed() {
    let up = Upstream::echo();
    let tg = start(
        &up,
        &format!("listeners: [{{name: web, address: 127.0.0.1:0}}]\n{BYPASS_ROUTES}"),
    );
    let addr = tg.addr("web");
    for path in [
        "/admin",
        "/public/../admin",
        "/public/%2e%2e/admin",
        "/public/.%2E/admin/x",
        "/public/./../admin",
        "//admin",
        "/%61dmin",
        "/%61%64%6D%69%6E/x",
        "/public//..//admin",
    ] {
        let resp = get(addr, path);
        assert_eq!(resp.status, 403, "{path} must reach the restricted route");
    }
    for (path, upstream_sees) in [
        ("/public/./a//b/", "/public/a/b/"),
        ("/public/%7Euser/%41", "/public/~user/A"),
        ("/public/a%2fb", "/public/a%2Fb"),
        ("/public/x/../y?q=%2e%2e", "/public/y?q=%2e%2e"),
    ] {
        let resp = get(addr, path);
        assert_eq!(resp.status, 200, "{path}");
        assert_eq!(resp.echo().path, upstream_sees, "{path}");
    }
    for path in [
        "/../admin",
        "/public/../../admin",
        "/public/%00",
        "/public/%zz",
    ] {
        let answer = raw_request(
            addr,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        );
        assert_eq!(parse_status(&answer), 400, "{path}");
    }
}

#[test]
fn encoded_slash_and_normalization_settings() {
    let up = Upstream::echo();
    let tg = start(
        &up,
        &format!(
            r#"
listeners:
  - {{name: keep, address: 127.0.0.1:0}}
  - {{name: reject, address: 127.0.0.1:0, encoded_slash: reject}}
  - {{name: decode, address: 127.0.0.1:0, encoded_slash: decode}}
  - {{name: raw, address: 127.0.0.1:0, normalize_path: false}}
{BYPASS_ROUTES}"#
        ),
    );
    let status = |l: &str, path: &str| {
        parse_status(&raw_request(
            tg.addr(l),
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        ))
    };
    assert_eq!(
        get(tg.addr("keep"), "/public/a%2Fb").echo().path,
        "/public/a%2Fb"
    );
    assert_eq!(status("reject", "/public/a%2Fb"), 400);
    assert_eq!(status("reject", "/public/a\\b"), 400);
    assert_eq!(
        get(tg.addr("decode"), "/public/a%2Fb").echo().path,
        "/public/a/b"
    );
    assert_eq!(
        status("decode", "/public%2F..%2Fadmin"),
        403,
        "decoded, then normalized"
    );
    // Without normalization the path is routed and forwarded as sent.
    let raw = get(tg.addr("raw"), "/public/../admin");
    assert_eq!(raw.status, 200);
    assert_eq!(raw.echo().path, "/public/../admin");
}

#[test]
fn per_client_connection_cap_closes_extra_connections() {
    let up = Upstream::echo();
    let tg = start(
        &up,
        r#"
listeners:
  - {name: web, address: 127.0.0.1:0, per_client: {max_connections: 2}}
routes: [{name: all, upstream: u}]
"#,
    );
    let addr = tg.addr("web");
    let keep = |from| {
        let mut s = connect_from(from, addr);
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("write");
        let head = tollgate_testkit::read_until(&mut s, b"\r\n\r\n");
        assert!(head.starts_with(b"HTTP/1.1 200"));
        s
    };
    let a = keep(LOCAL);
    let _b = keep(LOCAL);
    let (bytes, closed) = send_get(connect_from(LOCAL, addr));
    assert!(
        closed && bytes.is_empty(),
        "over the cap: closed unanswered"
    );
    let _other = keep(OTHER);
    drop(a);
    // The slot is released when tollgate sees the connection close.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = get_from(LOCAL, addr, "/");
        if !answer.is_empty() {
            assert_eq!(parse_status(&answer), 200);
            break;
        }
        assert!(Instant::now() < deadline, "slot not released");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn per_client_rate_answers_429_with_retry_after() {
    let up = Upstream::echo();
    let tg = start(
        &up,
        r#"
listeners:
  - {name: web, address: 127.0.0.1:0, per_client: {rate: 1/10s, burst: 2}}
routes: [{name: all, upstream: u}]
"#,
    );
    let addr = tg.addr("web");
    assert_eq!(parse_status(&get_from(LOCAL, addr, "/")), 200);
    assert_eq!(parse_status(&get_from(LOCAL, addr, "/")), 200);
    let limited = parse_response(&get_from(LOCAL, addr, "/"));
    assert_eq!(limited.status, 429);
    assert_eq!(limited.json()["error"], "too many requests");
    let retry: u64 = limited
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((9..=10).contains(&retry), "{retry}");
    assert_eq!(
        parse_status(&get_from(OTHER, addr, "/")),
        200,
        "another client is not limited"
    );
    assert_eq!(up.request_count(), 3);
}

#[test]
fn security_headers_are_added_without_overwriting_the_upstream() {
    let up = Upstream::with_headers(&[("X-Frame-Options", "SAMEORIGIN")]);
    let tg = start(
        &up,
        r#"
listeners: [{name: web, address: 127.0.0.1:0}]
routes:
  - name: default
    match: {path: {prefix: /default}}
    upstream: u
    policies: [{security_headers: {}}]
  - name: custom
    match: {path: {prefix: /custom}}
    upstream: u
    policies:
      - security_headers: {frame_options: "off", referrer_policy: no-referrer, content_security_policy: "default-src 'self'"}
  - name: overwrite
    match: {path: {prefix: /overwrite}}
    upstream: u
    policies: [{security_headers: {overwrite: true}}]
  - name: fixed
    respond: {status: 204}
    policies: [{security_headers: {}}]
"#,
    );
    let addr = tg.addr("web");
    let r = get(addr, "/default");
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        r.header("x-frame-options"),
        Some("SAMEORIGIN"),
        "the upstream's value stays"
    );
    assert_eq!(
        r.header("referrer-policy"),
        Some("strict-origin-when-cross-origin")
    );
    assert_eq!(
        r.header("strict-transport-security"),
        None,
        "no HSTS over plain HTTP"
    );
    let r = get(addr, "/custom");
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(
        r.header("content-security-policy"),
        Some("default-src 'self'")
    );
    assert_eq!(r.header_all("x-frame-options"), ["SAMEORIGIN"]);
    let r = get(addr, "/overwrite");
    assert_eq!(r.header_all("x-frame-options"), ["DENY"]);
    let r = get(addr, "/fixed");
    assert_eq!(r.status, 204);
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
}

#[test]
fn cors_preflights_are_answered_at_the_edge() {
    let up = Upstream::with_headers(&[("Access-Control-Allow-Origin", "*")]);
    let tg = start(
        &up,
        r#"
listeners: [{name: web, address: 127.0.0.1:0}]
routes:
  - name: api
    match: {path: {prefix: /api}}
    upstream: u
    policies:
      - cors:
          allow_origins: ["https://app.example.com", "https://*.example.org"]
          allow_methods: [GET, PUT, DELETE]
          allow_headers: [Content-Type, X-Token]
          expose_headers: [X-Request-Id]
          allow_credentials: true
          max_age: 1h
  - name: public
    match: {path: {prefix: /public}}
    upstream: u
    policies: [{cors: {allow_origins: ["*"]}}]
"#,
    );
    let addr = tg.addr("web");
    let pre = request(
        addr,
        "OPTIONS",
        "/api/items",
        &[
            ("Origin", "https://a.example.org"),
            ("Access-Control-Request-Method", "PUT"),
            ("Access-Control-Request-Headers", "content-type, x-token"),
        ],
        b"",
    );
    assert_eq!(pre.status, 204);
    assert_eq!(
        pre.header("access-control-allow-origin"),
        Some("https://a.example.org")
    );
    assert_eq!(
        pre.header("access-control-allow-methods"),
        Some("GET, PUT, DELETE")
    );
    assert_eq!(
        pre.header("access-control-allow-headers"),
        Some("content-type, x-token")
    );
    assert_eq!(pre.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(pre.header("access-control-max-age"), Some("3600"));
    assert!(pre.header("vary").is_some_and(|v| v.contains("origin")));
    assert_eq!(up.request_count(), 0, "preflights never reach the upstream");

    for (origin, method, headers) in [
        ("https://evil.example.com", "PUT", ""),
        ("https://example.org", "PUT", ""),
        ("https://app.example.com", "PATCH", ""),
        ("https://app.example.com", "PUT", "x-secret"),
    ] {
        let mut fields = vec![
            ("Origin", origin),
            ("Access-Control-Request-Method", method),
        ];
        if !headers.is_empty() {
            fields.push(("Access-Control-Request-Headers", headers));
        }
        let denied = request(addr, "OPTIONS", "/api/items", &fields, b"");
        assert_eq!(denied.status, 204, "{origin} {method} {headers}");
        assert_eq!(
            denied.header("access-control-allow-origin"),
            None,
            "{origin} {method} {headers}"
        );
        assert_eq!(denied.header("access-control-allow-methods"), None);
    }
    assert_eq!(up.request_count(), 0);

    let actual = request(
        addr,
        "GET",
        "/api/items",
        &[("Origin", "https://app.example.com")],
        b"",
    );
    assert_eq!(actual.status, 200);
    assert_eq!(
        actual.header_all("access-control-allow-origin"),
        ["https://app.example.com"]
    );
    assert_eq!(
        actual.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(
        actual.header("access-control-expose-headers"),
        Some("x-request-id")
    );
    assert!(actual
        .header_all("vary")
        .iter()
        .any(|v| v.eq_ignore_ascii_case("origin")));

    let foreign = request(
        addr,
        "GET",
        "/api/items",
        &[("Origin", "https://evil.com")],
        b"",
    );
    assert_eq!(
        foreign.status, 200,
        "the request itself is not blocked; the browser hides it"
    );
    assert_eq!(
        foreign.header("access-control-allow-origin"),
        None,
        "the upstream's `*` is removed"
    );
    assert!(foreign
        .header_all("vary")
        .iter()
        .any(|v| v.eq_ignore_ascii_case("origin")));

    let no_origin = get(addr, "/api/items");
    assert_eq!(
        no_origin.header("access-control-allow-origin"),
        Some("*"),
        "not CORS: untouched"
    );

    let star = request(
        addr,
        "GET",
        "/public/x",
        &[("Origin", "https://any.test")],
        b"",
    );
    assert_eq!(star.header("access-control-allow-origin"), Some("*"));
    assert_eq!(star.header("access-control-allow-credentials"), None);
    assert!(star.header("vary").is_none());
}

#[test]
fn redirect_locations_use_path_captures_and_variables() {
    let up = Upstream::echo();
    let tg = start(
        &up,
        r#"
listeners: [{name: web, address: 127.0.0.1:0}]
routes:
  - name: moved
    match: {path: {regex: "/old/([a-z]+)/([0-9]+)"}}
    redirect: {to: "https://$host/new/$2/$1?from=$path&$query", status: 308}
  - name: https
    match: {path: {prefix: /secure}}
    redirect: {to: "https://$host", status: 301, keep_path: true}
"#,
    );
    let addr = tg.addr("web");
    let r = request(
        addr,
        "GET",
        "/old/users/42?x=1",
        &[("Host", "Example.com:8080")],
        b"",
    );
    assert_eq!(r.status, 308);
    assert_eq!(
        r.header("location"),
        Some("https://example.com/new/42/users?from=/old/users/42&x=1")
    );
    let r = request(
        addr,
        "GET",
        "/secure/a?b=1",
        &[("Host", "example.com")],
        b"",
    );
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location"),
        Some("https://example.com/secure/a?b=1")
    );
}

#[test]
fn security_config_errors_name_field_and_place() {
    let err = tollgate_config::parse_str(
        r#"listeners:
  - {name: web, address: 127.0.0.1:0, per_client: {burst: 3}, encoded_slash: maybe}
routes:
  - name: r
    respond: {}
    policies:
      - cors: {allow_origins: ["*"], allow_credentials: true}
      - ip_filter: {allow: [300.0.0.1]}
"#,
        "sec.yaml",
    )
    .expect_err("invalid");
    let text = err.to_string();
    for want in [
        "sec.yaml:2:",
        "listeners[0].per_client: per_client needs `max_connections`, `rate` or both",
        "listeners[0].per_client.burst: `burst` needs a `rate`",
        "listeners[0].encoded_slash: expected `keep`, `reject` or `decode`",
        "sec.yaml:7:",
        "routes[0].policies[0].cors.allow_credentials: `allow_credentials: true` cannot be combined",
        "routes[0].policies[1].ip_filter.allow[0]: invalid address `300.0.0.1`",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
}
