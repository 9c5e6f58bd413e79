//! Route targets: fixed responses, redirects, and upstream load balancing.

use tollgate_testkit::{get, parse_response, raw_request, Tollgate, Upstream};

fn start(routes: &str) -> Tollgate {
    Tollgate::start_with_defaults(&format!(
        "listeners:\n  - {{name: web, address: 127.0.0.1:0}}\nroutes:\n{routes}"
    ))
}

#[test]
fn respond_sends_status_headers_and_body() {
    let tg = start(
        r#"
  - name: teapot
    match: {path: {exact: /tea}}
    respond:
      status: 418
      headers: {Content-Type: text/plain, X-Brew: earl-grey, Cache-Control: no-cache}
      body: "short and stout\n"
  - {name: empty, match: {path: {exact: /empty}}, respond: {}}
"#,
    );
    let resp = get(tg.addr("web"), "/tea");
    assert_eq!(resp.status, 418);
    assert_eq!(resp.header("content-type"), Some("text/plain"));
    assert_eq!(resp.header("x-brew"), Some("earl-grey"));
    assert_eq!(resp.header("cache-control"), Some("no-cache"));
    assert_eq!(resp.text(), "short and stout\n");
    assert_eq!(resp.header("content-length"), Some("16"));
    let date = resp
        .header("date")
        .expect("answers made by tollgate carry a Date");
    assert!(date.ends_with(" GMT") && date.len() == 29, "{date}");

    let resp = get(tg.addr("web"), "/empty");
    assert_eq!(resp.status, 200);
    assert!(resp.body.is_empty());
    assert_eq!(resp.header("content-length"), Some("0"));
}

#[test]
fn respond_to_head_has_no_body() {
    let tg = start("  - {name: r, respond: {body: hello}}\n");
    let raw = raw_request(
        tg.addr("web"),
        b"HEAD / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.ends_with("\r\n\r\n"),
        "HEAD answer has a body: {text:?}"
    );
}

#[test]
fn redirect_status_and_location() {
    let tg = start(
        r#"
  - {name: default, match: {path: {prefix: /tmp}}, redirect: {to: /elsewhere}}
  - {name: moved, match: {path: {prefix: /old}}, redirect: {to: "https://example.com", status: 301, keep_path: true}}
  - {name: slash, match: {path: {prefix: /docs}}, redirect: {to: "https://docs.example.com/v2/", status: 308, keep_path: true}}
  - {name: fixed, match: {path: {prefix: /fixed}}, redirect: {to: "https://example.com/landing", status: 307}}
"#,
    );
    let resp = get(tg.addr("web"), "/tmp/x");
    assert_eq!(resp.status, 302);
    assert_eq!(resp.header("location"), Some("/elsewhere"));

    let resp = get(tg.addr("web"), "/old/a/b?x=1&y=2");
    assert_eq!(resp.status, 301);
    assert_eq!(
        resp.header("location"),
        Some("https://example.com/old/a/b?x=1&y=2")
    );

    let resp = get(tg.addr("web"), "/docs/intro");
    assert_eq!(resp.status, 308);
    assert_eq!(
        resp.header("location"),
        Some("https://docs.example.com/v2/docs/intro")
    );

    let resp = get(tg.addr("web"), "/fixed/anything?q=1");
    assert_eq!(resp.status, 307);
    assert_eq!(resp.header("location"), Some("https://example.com/landing"));
}

#[test]
fn redirect_expands_path_and_query_variables() {
    let tg = start(
        r#"
  - {name: vars, redirect: {to: "https://example.org$path?from=old&$query", status: 301}}
"#,
    );
    let resp = get(tg.addr("web"), "/a/b?x=1");
    assert_eq!(resp.status, 301);
    assert_eq!(
        resp.header("location"),
        Some("https://example.org/a/b?from=old&x=1")
    );
}

#[test]
fn round_robin_alternates_between_two_targets() {
    let a = Upstream::echo();
    let b = Upstream::echo();
    let tg = Tollgate::in_front_of(&[&a, &b], "");
    let ids: Vec<String> = (0..6)
        .map(|_| {
            let resp = get(tg.addr("web"), "/");
            assert_eq!(resp.status, 200, "{}", resp.text());
            resp.header("x-upstream-id")
                .expect("x-upstream-id")
                .to_owned()
        })
        .collect();
    for pair in ids.windows(2) {
        assert_ne!(pair[0], pair[1], "not alternating: {ids:?}");
    }
    assert_eq!(ids.iter().filter(|i| *i == a.id()).count(), 3, "{ids:?}");
    assert_eq!(ids.iter().filter(|i| *i == b.id()).count(), 3, "{ids:?}");
    assert_eq!(a.request_count(), 3);
    assert_eq!(b.request_count(), 3);
}

#[test]
fn weights_share_traffic() {
    let heavy = Upstream::echo();
    let light = Upstream::echo();
    let tg = Tollgate::in_front_of(&[(&heavy, 3), (&light, 1)], "");
    for _ in 0..8 {
        assert_eq!(get(tg.addr("web"), "/").status, 200);
    }
    assert_eq!(heavy.request_count(), 6);
    assert_eq!(light.request_count(), 2);
}

#[test]
fn upstream_status_and_body_pass_through() {
    let up = Upstream::status(503);
    let tg = Tollgate::in_front_of(&[&up], "");
    let raw = raw_request(
        tg.addr("web"),
        b"GET /down HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    let resp = parse_response(&raw);
    assert_eq!(resp.status, 503);
    assert_eq!(resp.echo().path, "/down");
    assert_eq!(resp.header("x-upstream-id"), Some(up.id()));
}
