//! Reloading the configuration in place: new connections get the new
//! routes, keep-alive connections close after their answer, unchanged
//! upstreams keep their health state and pooled connections, and a reload
//! that would change listeners is refused.

use std::io::Write;

use tollgate_testkit::{connect, parse_response, read_until, render, request, Tollgate, Upstream};

fn config(up: &Upstream, body: &str, passive: bool) -> String {
    let health = if passive {
        "\n    health: {passive: {consecutive_failures: 1, eject_for: 60s}}"
    } else {
        ""
    };
    render(
        r#"
listeners:
  - {name: web, address: 127.0.0.1:0}
upstreams:
  - name: app
    targets: [{address: "{up}"}, {address: "127.0.0.1:1"}]{health}
routes:
  - {name: api, match: {path: {prefix: /api}}, upstream: app}
  - {name: home, respond: {status: 200, body: "{body}"}}
"#,
        &[("up", &up.addr()), ("body", &body), ("health", &health)],
    )
}

#[test]
fn new_routes_apply_and_keep_alive_connections_move_over() {
    let up = Upstream::echo();
    let tg = Tollgate::start_with_defaults(&config(&up, "before", false));
    let mut conn = connect(tg.addr("web"));
    conn.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let first = parse_response(&read_until(&mut conn, b"before"));
    assert_eq!(first.status, 200);

    let summary = tg
        .reload_with_defaults(&config(&up, "after", false))
        .expect("reload");
    assert_eq!(summary.kept, ["app"]);

    // The open connection's next answer is its last: it says so.
    conn.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let second = read_until(&mut conn, b"before");
    let text = String::from_utf8_lossy(&second).to_ascii_lowercase();
    assert!(text.contains("connection: close"), "{text}");

    let fresh = request(tg.addr("web"), "GET", "/", &[], b"");
    assert_eq!(fresh.text(), "after");
}

#[test]
fn unchanged_upstreams_keep_health_and_pooled_connections() {
    let up = Upstream::echo();
    let tg = Tollgate::start_with_defaults(&config(&up, "before", true));
    // Round robin reaches the dead target once: it is ejected.
    for _ in 0..4 {
        let resp = request(tg.addr("web"), "GET", "/api/x", &[], b"");
        assert_eq!(resp.status, 200, "{}", resp.text());
    }
    let states = tg.upstream_states();
    assert!(states[0].targets[1].ejected_for.is_some());
    let connections = up.connection_count();

    let summary = tg
        .reload_with_defaults(&config(&up, "after", true))
        .expect("reload");
    assert_eq!((summary.kept.len(), summary.rebuilt.len()), (1, 0));
    let states = tg.upstream_states();
    assert!(
        states[0].targets[1].ejected_for.is_some(),
        "ejection survives the reload"
    );
    for _ in 0..4 {
        assert_eq!(
            request(tg.addr("web"), "GET", "/api/x", &[], b"").status,
            200
        );
    }
    // Served from the pool kept across the reload: no new upstream connection.
    assert_eq!(up.connection_count(), connections);
}

#[test]
fn changed_upstreams_are_rebuilt_and_listener_changes_refused() {
    let up = Upstream::echo();
    let tg = Tollgate::start_with_defaults(&config(&up, "before", true));
    let summary = tg
        .reload_with_defaults(&config(&up, "after", false))
        .expect("reload");
    assert_eq!(summary.rebuilt, ["app"]);

    let moved = config(&up, "after", false)
        .replace("127.0.0.1:0}", "127.0.0.1:0, limits: {max_connections: 5}}");
    let err = tg.reload_with_defaults(&moved).unwrap_err();
    assert!(err.contains("listeners changed"), "{err}");
    // Still serving the last good configuration.
    assert_eq!(
        request(tg.addr("web"), "GET", "/", &[], b"").text(),
        "after"
    );
}

/// Where a definition sits in the file is no part of it: an upstream with
/// `tls` (whose settings remember their line for error messages) keeps its
/// state when another upstream is added above it.
#[test]
fn an_upstream_moved_in_the_file_is_kept() {
    let yaml = |before: &str| {
        render(
            r#"
listeners:
  - {name: web, address: 127.0.0.1:0}
upstreams:
{before}  - name: secure
    targets: [{address: "127.0.0.1:1"}]
    tls: {verify: false}
routes:
  - {name: home, respond: {status: 200, body: "ok"}}
"#,
            &[("before", &before)],
        )
    };
    let tg = Tollgate::start_with_defaults(&yaml(""));
    let summary = tg
        .reload_with_defaults(&yaml(
            "  - name: other\n    targets: [{address: \"127.0.0.1:2\"}]\n",
        ))
        .expect("reload");
    assert_eq!(summary.kept, ["secure"]);
    assert_eq!(summary.rebuilt, ["other"]);
}

/// Listeners cannot change in a reload, so their per-client tables carry
/// on: a client at its rate limit is still limited after a reload.
#[test]
fn per_client_rates_keep_counting_across_a_reload() {
    let yaml = |body: &str| {
        render(
            r#"
listeners:
  - {name: web, address: 127.0.0.1:0, per_client: {rate: 1/10s, burst: 1}}
routes:
  - {name: home, respond: {status: 200, body: "{body}"}}
"#,
            &[("body", &body)],
        )
    };
    let tg = Tollgate::start_with_defaults(&yaml("before"));
    assert_eq!(request(tg.addr("web"), "GET", "/", &[], b"").status, 200);
    tg.reload_with_defaults(&yaml("after")).expect("reload");
    assert_eq!(request(tg.addr("web"), "GET", "/", &[], b"").status, 429);
}

/// An unchanged HTTP/2 upstream keeps its connection across a reload, as
/// HTTP/1.1 upstreams keep their pools.
#[test]
fn unchanged_h2c_upstreams_keep_their_connection() {
    let up = Upstream::h2c_echo();
    let yaml = |body: &str| {
        render(
            r#"
listeners:
  - {name: web, address: 127.0.0.1:0}
upstreams:
  - {name: app, protocol: h2c, targets: [{address: "{up}"}]}
routes:
  - {name: api, match: {path: {prefix: /api}}, upstream: app}
  - {name: home, respond: {status: 200, body: "{body}"}}
"#,
            &[("up", &up.addr()), ("body", &body)],
        )
    };
    let tg = Tollgate::start_with_defaults(&yaml("before"));
    assert_eq!(
        request(tg.addr("web"), "GET", "/api/1", &[], b"").status,
        200
    );
    let summary = tg.reload_with_defaults(&yaml("after")).expect("reload");
    assert_eq!(summary.kept, ["app"]);
    assert_eq!(
        request(tg.addr("web"), "GET", "/api/2", &[], b"").status,
        200
    );
    assert_eq!(up.connection_count(), 1);
}

/// A tcp listener relays to an upstream by name: adding an upstream above
/// it (which moves its index) is no listener change, and the relay follows.
#[test]
fn a_tcp_listener_follows_its_upstream_when_others_are_added_above() {
    let first = tollgate_testkit::TcpServer::hello();
    let yaml = |before: &str| {
        render(
            r#"
listeners:
  - {name: web, address: 127.0.0.1:0}
  - {name: relay, address: 127.0.0.1:0, protocol: tcp, upstream: db}
upstreams:
{before}  - name: db
    targets: [{address: "{db}"}]
routes:
  - {name: home, respond: {status: 200, body: "ok"}}
"#,
            &[("before", &before), ("db", &first.addr())],
        )
    };
    let tg = Tollgate::start_with_defaults(&yaml(""));
    let summary = tg
        .reload_with_defaults(&yaml(
            "  - name: other\n    targets: [{address: \"127.0.0.1:2\"}]\n",
        ))
        .expect("an upstream added above is no listener change");
    assert_eq!(summary.kept, ["db"]);
    let mut conn = connect(tg.addr("relay"));
    let hello = read_until(&mut conn, b"\n");
    assert_eq!(String::from_utf8_lossy(&hello).trim(), first.id());
}
