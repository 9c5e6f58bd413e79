//! Forwarding rules, checked at the echo upstream: hop-by-hop fields,
//! X-Forwarded-*, Forwarded, Via, Host, request ids, path rewrites and
//! hidden response headers.

use tollgate_testkit::{
    get, h2_get, parse_response, raw_request, render, request, Echo, Tollgate, Upstream,
};

/// One listener `web` (untrusted) and one `trusted` (trusts 127.0.0.1), one
/// upstream `u` at `up`, and `routes`.
fn start(up: &Upstream, routes: &str) -> Tollgate {
    Tollgate::start_with_defaults(&render(
        r#"
listeners:
  - {name: web, address: 127.0.0.1:0}
  - {name: trusted, address: 127.0.0.1:0, trusted_proxies: [127.0.0.1]}
upstreams:
  - {name: u, targets: [{address: "{up}"}]}
routes:
{routes}"#,
        &[("up", &up.addr()), ("routes", &routes)],
    ))
}

fn echo_of(tg: &Tollgate, listener: &str, path: &str, headers: &[(&str, &str)]) -> Echo {
    let resp = request(tg.addr(listener), "GET", path, headers, b"");
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.echo()
}

fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[test]
fn hop_by_hop_request_fields_are_removed() {
    let up = Upstream::echo();
    let tg = start(&up, "  - {name: all, upstream: u}\n");
    let raw = raw_request(
        tg.addr("web"),
        b"GET /hop HTTP/1.1\r\nHost: h.test\r\n\
          Connection: close, X-Secret, X-Other\r\n\
          X-Secret: s\r\nX-Other: o\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n\
          Trailer: X-Checksum\r\nUpgrade: h2c\r\nProxy-Authorization: Basic YTpi\r\n\
          Proxy-Connection: keep-alive\r\nX-Keep: kept\r\n\r\n",
    );
    let resp = parse_response(&raw);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let echo = resp.echo();
    for gone in [
        "connection",
        "x-secret",
        "x-other",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
        "proxy-connection",
    ] {
        assert!(!echo.has_header(gone), "{gone} reached upstream: {echo:?}");
    }
    assert_eq!(echo.header("x-keep"), Some("kept"));
    assert_eq!(echo.header("host"), Some("h.test"));
}

#[test]
fn hop_by_hop_response_fields_are_removed() {
    let up = Upstream::with_headers(&[
        ("Keep-Alive", "timeout=5"),
        ("Proxy-Authenticate", "Basic"),
        ("Trailer", "X-Checksum"),
        ("X-End-To-End", "yes"),
    ]);
    let tg = start(&up, "  - {name: all, upstream: u}\n");
    let resp = get(tg.addr("web"), "/");
    assert_eq!(resp.status, 200);
    for gone in ["keep-alive", "proxy-authenticate", "trailer"] {
        assert!(resp.header(gone).is_none(), "{gone} reached the client");
    }
    assert_eq!(resp.header("x-end-to-end"), Some("yes"));
}

#[test]
fn x_forwarded_append_replaces_untrusted_and_appends_trusted() {
    let up = Upstream::echo();
    let tg = start(&up, "  - {name: all, upstream: u}\n");
    let spoof = [
        ("X-Forwarded-For", "6.6.6.6"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "evil.test"),
        ("Host", "app.test:8080"),
    ];

    let echo = echo_of(&tg, "web", "/", &spoof);
    assert_eq!(echo.header_all("x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(echo.header_all("x-forwarded-proto"), ["http"]);
    assert_eq!(echo.header_all("x-forwarded-host"), ["app.test:8080"]);

    let echo = echo_of(&tg, "trusted", "/", &spoof);
    assert_eq!(echo.header_all("x-forwarded-for"), ["6.6.6.6, 127.0.0.1"]);
    assert_eq!(echo.header_all("x-forwarded-proto"), ["https"]);
    assert_eq!(echo.header_all("x-forwarded-host"), ["evil.test"]);

    // Without incoming values, a trusted peer gets ours.
    let echo = echo_of(&tg, "trusted", "/", &[("Host", "app.test")]);
    assert_eq!(echo.header_all("x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(echo.header_all("x-forwarded-proto"), ["http"]);
    assert_eq!(echo.header_all("x-forwarded-host"), ["app.test"]);
}

#[test]
fn x_forwarded_replace_and_off() {
    let up = Upstream::echo();
    let tg = start(
        &up,
        r#"
  - {name: replace, match: {path: {prefix: /replace}}, upstream: u, forwarding: {x_forwarded: replace}}
  - {name: off, match: {path: {prefix: /off}}, upstream: u, forwarding: {x_forwarded: off}}
"#,
    );
    let spoof = [("X-Forwarded-For", "6.6.6.6"), ("Host", "app.test")];

    let echo = echo_of(&tg, "trusted", "/replace", &spoof);
    assert_eq!(echo.header_all("x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(echo.header_all("x-forwarded-proto"), ["http"]);
    assert_eq!(echo.header_all("x-forwarded-host"), ["app.test"]);

    let echo = echo_of(&tg, "web", "/off", &spoof);
    assert_eq!(echo.header_all("x-forwarded-for"), ["6.6.6.6"]);
    assert!(!echo.has_header("x-forwarded-proto"));
    assert!(!echo.has_header("x-forwarded-host"));
    let echo = echo_of(&tg, "web", "/off", &[]);
    assert!(!echo.has_header("x-forwarded-for"));
}

#[test]
fn forwarded_header_modes() {
    let up = Upstream::echo();
    let tg = start(
        &up,
        r#"
  - {name: default, match: {path: {prefix: /default}}, upstream: u}
  - {name: append, match: {path: {prefix: /append}}, upstream: u, forwarding: {forwarded: append}}
  - {name: replace, match: {path: {prefix: /replace}}, upstream: u, forwarding: {forwarded: replace}}
"#,
    );
    let incoming = [("Forwarded", "for=1.2.3.4"), ("Host", "app.test")];

    // Off by default: the header passes untouched.
    let echo = echo_of(&tg, "web", "/default", &incoming);
    assert_eq!(echo.header_all("forwarded"), ["for=1.2.3.4"]);

    let echo = echo_of(&tg, "web", "/append", &incoming);
    assert_eq!(
        echo.header_all("forwarded"),
        ["for=127.0.0.1;proto=http;host=app.test"]
    );
    let echo = echo_of(&tg, "trusted", "/append", &incoming);
    assert_eq!(
        echo.header_all("forwarded"),
        ["for=1.2.3.4, for=127.0.0.1;proto=http;host=app.test"]
    );
    let echo = echo_of(&tg, "trusted", "/replace", &incoming);
    assert_eq!(
        echo.header_all("forwarded"),
        ["for=127.0.0.1;proto=http;host=app.test"]
    );
    // A host with a port is not a token: it is quoted.
    let echo = echo_of(&tg, "web", "/append", &[("Host", "app.test:81")]);
    assert_eq!(
        echo.header_all("forwarded"),
        ["for=127.0.0.1;proto=http;host=\"app.test:81\""]
    );
}

#[test]
fn via_on_request_and_response() {
    let up = Upstream::with_headers(&[("Via", "1.1 origin-cache")]);
    let tg = start(
        &up,
        r#"
  - {name: via, match: {path: {prefix: /via}}, upstream: u}
  - {name: novia, match: {path: {prefix: /novia}}, upstream: u, forwarding: {via: false}}
"#,
    );
    let resp = request(
        tg.addr("web"),
        "GET",
        "/via",
        &[("Via", "1.0 client-proxy")],
        b"",
    );
    assert_eq!(
        resp.echo().header_all("via"),
        ["1.0 client-proxy, 1.1 tollgate"]
    );
    assert_eq!(resp.header_all("via"), ["1.1 origin-cache, 1.1 tollgate"]);

    let resp = h2_get(tg.addr("web"), "/via");
    assert_eq!(resp.echo().header_all("via"), ["2 tollgate"]);

    let resp = get(tg.addr("web"), "/novia");
    assert!(!resp.echo().has_header("via"));
    assert_eq!(resp.header_all("via"), ["1.1 origin-cache"]);
}

#[test]
fn host_preserve_target_and_fixed() {
    let up = Upstream::echo();
    let tg = start(
        &up,
        r#"
  - {name: preserve, match: {path: {prefix: /preserve}}, upstream: u}
  - {name: target, match: {path: {prefix: /target}}, upstream: u, forwarding: {host: target}}
  - {name: fixed, match: {path: {prefix: /fixed}}, upstream: u, forwarding: {host: {fixed: internal.svc}}}
"#,
    );
    let client_host = [("Host", "public.example.com:8443")];
    let echo = echo_of(&tg, "web", "/preserve", &client_host);
    assert_eq!(echo.header_all("host"), ["public.example.com:8443"]);
    let echo = echo_of(&tg, "web", "/target", &client_host);
    assert_eq!(echo.header_all("host"), [up.addr().to_string()]);
    let echo = echo_of(&tg, "web", "/fixed", &client_host);
    assert_eq!(echo.header_all("host"), ["internal.svc"]);
    // X-Forwarded-Host still names what the client asked for.
    assert_eq!(
        echo.header_all("x-forwarded-host"),
        ["public.example.com:8443"]
    );
}

#[test]
fn request_id_is_generated_passed_upstream_and_returned() {
    let up = Upstream::echo();
    let tg = start(&up, "  - {name: all, upstream: u}\n");
    let resp = get(tg.addr("web"), "/");
    let id = resp
        .header("x-request-id")
        .expect("x-request-id")
        .to_owned();
    assert!(is_hex32(&id), "{id:?}");
    assert_eq!(resp.echo().header_all("x-request-id"), [id.as_str()]);

    let other = get(tg.addr("web"), "/");
    assert_ne!(other.header("x-request-id"), Some(id.as_str()));

    let resp = request(
        tg.addr("web"),
        "GET",
        "/",
        &[("X-Request-Id", "client-chosen-1")],
        b"",
    );
    assert_eq!(resp.header_all("x-request-id"), ["client-chosen-1"]);
    assert_eq!(resp.echo().header_all("x-request-id"), ["client-chosen-1"]);
}

#[test]
fn request_id_is_returned_on_fixed_responses_and_redirects() {
    let up = Upstream::echo();
    let tg = start(
        &up,
        r#"
  - {name: fixed, match: {path: {exact: /fixed}}, respond: {body: ok}}
  - {name: moved, match: {path: {exact: /moved}}, redirect: {to: /fixed}}
"#,
    );
    for path in ["/fixed", "/moved"] {
        let resp = get(tg.addr("web"), path);
        let id = resp.header("x-request-id").unwrap_or_default();
        assert!(
            is_hex32(id),
            "{path}: no generated request id in {:?}",
            resp.headers
        );
        let resp = request(
            tg.addr("web"),
            "GET",
            path,
            &[("X-Request-Id", "mine")],
            b"",
        );
        assert_eq!(resp.header_all("x-request-id"), ["mine"], "{path}");
    }
}

#[test]
fn custom_request_id_header_is_kept_when_the_client_sends_it() {
    let up = Upstream::echo();
    let tg = Tollgate::start_with_defaults(&render(
        r#"
defaults:
  forwarding: {request_id_header: X-Trace-Id}
listeners:
  - {name: web, address: 127.0.0.1:0}
upstreams:
  - {name: u, targets: [{address: "{up}"}]}
routes:
  - {name: all, upstream: u}
"#,
        &[("up", &up.addr())],
    ));
    let resp = get(tg.addr("web"), "/");
    let id = resp.header("x-trace-id").expect("x-trace-id").to_owned();
    assert!(is_hex32(&id), "{id:?}");
    assert_eq!(resp.echo().header_all("x-trace-id"), [id.as_str()]);

    let resp = request(
        tg.addr("web"),
        "GET",
        "/",
        &[("X-Trace-Id", "trace-7")],
        b"",
    );
    assert_eq!(resp.echo().header_all("x-trace-id"), ["trace-7"]);
    assert_eq!(resp.header_all("x-trace-id"), ["trace-7"]);
}

#[test]
fn request_id_over_http2() {
    let up = Upstream::echo();
    let tg = start(&up, "  - {name: all, upstream: u}\n");
    let resp = h2_get(tg.addr("web"), "/");
    let id = resp
        .header("x-request-id")
        .expect("x-request-id")
        .to_owned();
    assert!(is_hex32(&id), "{id:?}");
    assert_eq!(resp.echo().header_all("x-request-id"), [id.as_str()]);
}

#[test]
fn rewrites_change_the_path_seen_upstream() {
    let up = Upstream::echo();
    let tg = start(
        &up,
        r#"
  - {name: strip, match: {path: {prefix: /api}}, upstream: u, rewrite: {strip_prefix: /api}}
  - {name: add, match: {path: {prefix: /plain}}, upstream: u, rewrite: {add_prefix: /v2}}
  - name: regex
    match: {path: {prefix: /old}}
    upstream: u
    # A doubled dollar keeps the capture reference from env expansion.
    rewrite: {regex: {pattern: "^/old/(?P<kind>[a-z]+)/([0-9]+)$", replace: "/new/$${kind}/item-$2"}}
  - name: all
    match: {path: {prefix: /both}}
    upstream: u
    rewrite: {strip_prefix: /both, regex: {pattern: "^/x/", replace: "/y/"}, add_prefix: /base}
"#,
    );
    let path = |p: &str| echo_of(&tg, "web", p, &[]).path;
    assert_eq!(path("/api/users?id=7&x=y"), "/users?id=7&x=y");
    assert_eq!(path("/api"), "/");
    assert_eq!(path("/plain/a?q=1"), "/v2/plain/a?q=1");
    assert_eq!(path("/old/book/42?lang=en"), "/new/book/item-42?lang=en");
    assert_eq!(path("/old/book/x"), "/old/book/x");
    assert_eq!(path("/both/x/z"), "/base/y/z");
}

#[test]
fn hidden_response_headers_are_removed() {
    let up = Upstream::with_headers(&[
        ("Server", "Apache/2.4.1"),
        ("X-Powered-By", "PHP/5.2"),
        ("X-Visible", "1"),
    ]);
    let tg = start(
        &up,
        r#"
  - {name: hide, match: {path: {prefix: /hide}}, upstream: u, forwarding: {hide_response_headers: [Server, X-Powered-By]}}
  - {name: show, match: {path: {prefix: /show}}, upstream: u}
"#,
    );
    let resp = get(tg.addr("web"), "/hide");
    assert_eq!(resp.status, 200);
    assert!(resp.header("server").is_none(), "{:?}", resp.headers);
    assert!(resp.header("x-powered-by").is_none(), "{:?}", resp.headers);
    assert_eq!(resp.header("x-visible"), Some("1"));

    let resp = get(tg.addr("web"), "/show");
    assert_eq!(resp.header("server"), Some("Apache/2.4.1"));
    assert_eq!(resp.header("x-powered-by"), Some("PHP/5.2"));
}

#[test]
fn defaults_forwarding_is_inherited_and_overridden_per_field() {
    let up = Upstream::echo();
    let tg = Tollgate::start_with_defaults(&render(
        r#"
defaults:
  forwarding: {x_forwarded: off, via: false}
listeners:
  - {name: web, address: 127.0.0.1:0}
upstreams:
  - {name: u, targets: [{address: "{up}"}]}
routes:
  - {name: inherit, match: {path: {prefix: /inherit}}, upstream: u}
  - {name: override, match: {path: {prefix: /override}}, upstream: u, forwarding: {via: true}}
"#,
        &[("up", &up.addr())],
    ));
    let echo = echo_of(&tg, "web", "/inherit", &[]);
    assert!(!echo.has_header("x-forwarded-for"));
    assert!(!echo.has_header("via"));
    let echo = echo_of(&tg, "web", "/override", &[]);
    assert!(
        !echo.has_header("x-forwarded-for"),
        "x_forwarded not inherited"
    );
    assert_eq!(echo.header_all("via"), ["1.1 tollgate"]);
}
