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
