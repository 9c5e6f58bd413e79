//! Settings added for the outside probes (issue 8): upgrade allow-lists,
//! header names with `_`, the send-rate bound, `CDN-Cache-Control`.

use super::*;

const BASE: &str = r#"
listeners:
  - {name: web, address: 127.0.0.1:0}
  - {name: keep, address: 127.0.0.1:0, keep_underscore_headers: true}
routes:
  - {name: plain, respond: {body: x}}
  - name: strict
    respond: {body: x}
    forwarding: {upgrades: [WebSocket, my-proto], refuse_underscore_headers: true}
"#;

#[test]
fn upgrades_default_to_websocket_and_are_per_route() {
    let c = parse(BASE).unwrap();
    let plain = &c.routes[0].forwarding;
    assert_eq!(plain.upgrades, ["websocket"]);
    assert!(plain.upgrade_allowed("websocket"));
    assert!(plain.upgrade_allowed("WebSocket/13"));
    assert!(!plain.upgrade_allowed("h2c"));
    assert!(!plain.upgrade_allowed("websocket, h2c"));
    assert!(!plain.upgrade_allowed(" , "));
    let strict = &c.routes[1].forwarding;
    assert_eq!(strict.upgrades, ["websocket", "my-proto"]);
    assert!(strict.upgrade_allowed("my-proto, websocket"));
}

#[test]
fn h2c_can_never_be_allowed() {
    expect_errors(
        r#"
listeners:
  - {name: web, address: 127.0.0.1:0}
defaults:
  forwarding: {upgrades: [websocket, H2C]}
routes:
  - {name: r, respond: {body: x}, forwarding: {upgrades: ["web socket"]}}
"#,
        &[
            (
                5,
                "defaults.forwarding.upgrades[1]",
                "`h2c` can never be allowed",
            ),
            (7, "routes[0].forwarding.upgrades[0]", "not a protocol name"),
        ],
    );
}

#[test]
fn underscore_header_options() {
    let c = parse(BASE).unwrap();
    assert!(!c.listeners[0].keep_underscore_headers);
    assert!(c.listeners[1].keep_underscore_headers);
    assert!(!c.routes[0].forwarding.refuse_underscore_headers);
    assert!(c.routes[1].forwarding.refuse_underscore_headers);
    expect_errors(
        r#"
listeners:
  - {name: t, address: 127.0.0.1:0, protocol: tcp, upstream: u, keep_underscore_headers: true}
upstreams:
  - {name: u, targets: [{address: 127.0.0.1:9}]}
"#,
        &[(3, "listeners[0].keep_underscore_headers", "")],
    );
}

#[test]
fn send_rate_bound_defaults_and_overrides() {
    let c = parse(BASE).unwrap();
    assert_eq!(c.listeners[0].limits.min_send_rate, 1024);
    assert_eq!(c.listeners[0].limits.send_rate_window, secs(30));
    let c = parse(
        r#"
listeners:
  - {name: web, address: 127.0.0.1:0, limits: {min_send_rate: 0, send_rate_window: 5s}}
routes:
  - {name: r, respond: {body: x}}
"#,
    )
    .unwrap();
    assert_eq!(c.listeners[0].limits.min_send_rate, 0);
    assert_eq!(c.listeners[0].limits.send_rate_window, secs(5));
    expect_errors(
        r#"
listeners:
  - {name: web, address: 127.0.0.1:0, limits: {send_rate_window: 0s}}
  - {name: t, address: 127.0.0.1:0, protocol: tcp, upstream: u, limits: {min_send_rate: 1KiB}}
upstreams:
  - {name: u, targets: [{address: 127.0.0.1:9}]}
routes:
  - {name: r, respond: {body: x}}
"#,
        &[
            (
                3,
                "listeners[0].limits.send_rate_window",
                "longer than zero",
            ),
            (
                4,
                "listeners[1].limits.min_send_rate",
                "`http` listeners only",
            ),
        ],
    );
}

#[test]
fn cache_obeys_cdn_cache_control_unless_told_otherwise() {
    let c = parse(
        r#"
listeners:
  - {name: web, address: 127.0.0.1:0}
routes:
  - {name: a, respond: {body: x}, policies: [{cache: {}}]}
  - {name: b, respond: {body: x}, policies: [{cache: {targeted_cache_control: [Edge-Cache-Control, CDN-Cache-Control]}}]}
  - {name: c, respond: {body: x}, policies: [{cache: {targeted_cache_control: []}}]}
"#,
    )
    .unwrap();
    let targets = |i: usize| match &c.routes[i].policies[0] {
        Policy::Cache(p) => p.targeted_cache_control.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(targets(0), ["cdn-cache-control"]);
    assert_eq!(targets(1), ["edge-cache-control", "cdn-cache-control"]);
    assert!(targets(2).is_empty());
}
