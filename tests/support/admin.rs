//! What the admin API tests share: a tollgate binary with the admin API
//! behind a token, in front of two upstreams, and a client for it.
//! Included by `tests/admin.rs` and `tests/admin_actions.rs`.

#![allow(dead_code)]

use std::net::SocketAddr;

use serde_json::Value;
use tollgate_testkit::{render, request, HttpResponse, TempDir, TollgateProcess, Upstream};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_tollgate");
pub(crate) const TOKEN: &str = "admin-s3cret-token";
/// The API key of consumer `shop`, given through the environment.
pub(crate) const SHOP_KEY: &str = "shop-key-from-env-s3cret";

/// A config with the admin API on 127.0.0.1:0 behind the token in `admin.token`.
pub(crate) const CONFIG: &str = r#"
server: {workers: 1, shutdown_timeout: 5s}
access_log: {output: off}
admin:
  address: "{admin}"
  token: {file: admin.token}
listeners: [{name: web, address: "127.0.0.1:0"}]
consumers:
  - name: shop
    groups: [internal]
    metadata: {tier: gold}
    api_keys: ["${SHOP_KEY}", "shop-second-key-s3cret"]
    jwt: [{issuer: "https://id.example.com", value: "shop@example.com", claim: email}]
    mtls: [{san: shop.internal}]
upstreams:
  - name: app
    targets: [{address: "{a}"}, {address: "{b}"}]
routes:
  - {name: hello, match: {path: {exact: /hello}}, respond: {body: "${GREETING}"}}
  - name: cached
    match: {path: {prefix: /c/}}
    upstream: app
    policies: [{cache: {}}]
  - {name: all, upstream: app}
"#;

/// A running tollgate with the admin API, its files and its upstreams.
pub(crate) struct Setup {
    pub(crate) dir: TempDir,
    pub(crate) tg: TollgateProcess,
    pub(crate) admin: SocketAddr,
    pub(crate) text: String,
    pub(crate) ups: Vec<Upstream>,
}

/// Started with the admin API on `admin` (e.g. `127.0.0.1:0`).
pub(crate) fn start_on(admin: &str) -> Setup {
    let ups = vec![
        Upstream::with_headers(&[("cache-control", "max-age=600")]),
        Upstream::with_headers(&[("cache-control", "max-age=600")]),
    ];
    let text = render(
        CONFIG,
        &[
            ("a", &ups[0].addr()),
            ("b", &ups[1].addr()),
            ("admin", &admin),
        ],
    );
    let dir = TempDir::new();
    dir.write("admin.token", format!("{TOKEN}\n"));
    let config = dir.write("tollgate.yaml", &text);
    let env = [("GREETING", "hunter2-from-env"), ("SHOP_KEY", SHOP_KEY)];
    let mut tg = TollgateProcess::start(BIN, &config, &env, &["web"]);
    let admin = tg.admin_addr();
    Setup {
        dir,
        tg,
        admin,
        text,
        ups,
    }
}

pub(crate) fn start() -> Setup {
    start_on("127.0.0.1:0")
}

/// `method path` on the admin API with the right token.
pub(crate) fn call(admin: SocketAddr, method: &str, path: &str) -> HttpResponse {
    let auth = format!("Bearer {TOKEN}");
    request(admin, method, path, &[("authorization", &auth)], b"")
}

pub(crate) fn json(r: &HttpResponse) -> Value {
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "{}",
        r.text()
    );
    r.json()
}
