//! The admin API (`admin:`) against the real binary: the read endpoints,
//! the bearer token, `/readyz` while draining, a dead target in
//! `/upstreams`, `tollgate status`, and the OpenAPI file. Actions (reload,
//! `PUT /config`, drains, purges) are in `admin_actions.rs`.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use tollgate_testkit::{
    get, render, request, unused_addr, TempDir, TestCa, TollgateProcess, Upstream,
};

#[path = "support/admin.rs"]
mod support;
use support::*;

#[test]
fn read_endpoints_answer_json() {
    let s = start();
    assert_eq!(get(s.admin, "/healthz").status, 200);
    let ready = get(s.admin, "/readyz");
    assert_eq!(
        (ready.status, json(&ready)["ready"].clone()),
        (200, true.into())
    );

    let status = json(&call(s.admin, "GET", "/status"));
    assert_eq!(status["pid"], s.tg.pid());
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(status["workers"], 1);
    assert_eq!(status["routes"], 3);
    assert_eq!(status["listeners"][0]["name"], "web");
    assert_eq!(
        status["listeners"][0]["address"],
        s.tg.addr("web").to_string()
    );
    assert_eq!(status["config"]["hash"].as_str().unwrap().len(), 16);
    assert_eq!(status["last_reload"], Value::Null);

    let routes = json(&call(s.admin, "GET", "/routes"));
    let names: Vec<&str> = routes["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["hello", "cached", "all"]);
    assert_eq!(routes["routes"][1]["path"]["prefix"], "/c/");
    assert_eq!(routes["routes"][1]["target"]["upstream"], "app");
    assert_eq!(routes["routes"][1]["policies"][0], "cache");

    let ups = json(&call(s.admin, "GET", "/upstreams"));
    let app = &ups["upstreams"][0];
    assert_eq!(
        (app["name"].as_str(), app["total"].as_u64()),
        (Some("app"), Some(2))
    );
    assert_eq!(app["targets"][0]["healthy"], true);
    assert_eq!(app["targets"][0]["weight"], 1);
    assert!(app["targets"][0]["resolved"].as_array().unwrap().len() == 1);

    let caches = json(&call(s.admin, "GET", "/caches"));
    assert_eq!(caches["caches"][0]["name"], "cached");
    assert_eq!(caches["caches"][0]["entries"], 0);
    assert_eq!(call(s.admin, "GET", "/certificates").status, 200);

    // Unknown paths are 404, known ones with another method 405 + Allow.
    assert_eq!(call(s.admin, "GET", "/nope").status, 404);
    let wrong = call(s.admin, "GET", "/reload");
    assert_eq!((wrong.status, wrong.header("allow")), (405, Some("POST")));
}

#[test]
fn config_is_shown_without_secrets() {
    let s = start();
    // The route really answers with the value from the environment...
    assert_eq!(get(s.tg.addr("web"), "/hello").text(), "hunter2-from-env");
    let r = call(s.admin, "GET", "/config");
    let text = r.text();
    let config = json(&r);
    // ...but /config shows the reference, never what it expanded to.
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!text.contains(TOKEN), "{text}");
    assert_eq!(config["routes"][0]["respond"]["body"], "${GREETING}");
    assert_eq!(config["admin"]["token"], "<redacted>");
    assert_eq!(config["listeners"][0]["name"], "web");
}

/// `/consumers` says who may call and with which kinds of credential,
/// never a credential (not a key, not its digest).
#[test]
fn consumers_are_listed_without_their_credentials() {
    let s = start();
    let r = call(s.admin, "GET", "/consumers");
    assert_eq!(r.status, 200);
    let text = r.text();
    for secret in [SHOP_KEY, "shop-second-key-s3cret", "s3cret"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let body = json(&r);
    let shop = &body["consumers"][0];
    assert_eq!(shop["name"], "shop");
    assert_eq!(shop["groups"][0], "internal");
    assert_eq!(shop["metadata"]["tier"], "gold");
    assert_eq!(shop["api_keys"], 2);
    assert_eq!(shop["jwt"][0]["claim"], "email");
    assert_eq!(shop["jwt"][0]["value"], "shop@example.com");
    assert_eq!(shop["mtls"][0]["san"], "shop.internal");
    // Not even the digest a `sha256:` key would be written as.
    let digest = sha256_hex(SHOP_KEY.as_bytes());
    assert!(!text.contains(&digest), "{text}");
    let r = request(s.admin, "GET", "/consumers", &[], b"");
    assert_eq!(r.status, 401, "behind the token like the rest");
}

/// Lower-case hex SHA-256, as a `sha256:` key would be written.
fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    digest.as_ref().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[test]
fn the_token_is_required_and_never_logged() {
    let mut s = start();
    for auth in [None, Some("Bearer wrong-token"), Some("Basic YWRtaW4=")] {
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", *a)).collect();
        for path in ["/status", "/config", "/upstreams", "/metrics"] {
            let r = request(s.admin, "GET", path, &headers, b"");
            assert_eq!(r.status, 401, "{path} with {auth:?}");
            assert!(
                r.header("www-authenticate").unwrap().starts_with("Bearer"),
                "{path}"
            );
            assert!(!r.text().contains(TOKEN));
        }
        let r = request(s.admin, "POST", "/reload", &headers, b"");
        assert_eq!(r.status, 401);
    }
    assert_eq!(call(s.admin, "GET", "/status").status, 200);
    assert_eq!(call(s.admin, "GET", "/metrics").status, 200);
    // A reload logs its outcome; nothing the process wrote holds the token.
    assert_eq!(call(s.admin, "POST", "/reload").status, 200);
    s.tg.wait_for("reload applied", Duration::from_secs(10));
    assert!(s.tg.seen().iter().all(|l| !l.contains(TOKEN)));
}

#[test]
fn a_non_loopback_admin_address_without_token_is_refused_at_start() {
    let dir = TempDir::new();
    let config = dir.write(
        "tollgate.yaml",
        "admin:\n  address: \"0.0.0.0:0\"\nlisteners: [{name: web, address: \"127.0.0.1:0\"}]\n\
         routes: [{name: r, respond: {}}]\n",
    );
    let out = Command::new(BIN)
        .args(["run", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tollgate.yaml:2:12: admin.address: 0.0.0.0:0 is not a loopback address"),
        "{err}"
    );
}

#[test]
fn upstreams_show_a_killed_target_unhealthy_with_its_reason() {
    let up = Upstream::echo();
    let doomed = Upstream::echo();
    let doomed_addr = doomed.addr();
    let dir = TempDir::new();
    let config = dir.write(
        "tollgate.yaml",
        render(
            r#"
server: {workers: 1, shutdown_timeout: 5s}
access_log: {output: off}
admin: {address: "127.0.0.1:0"}
listeners: [{name: web, address: "127.0.0.1:0"}]
upstreams:
  - name: app
    targets: [{address: "{a}"}, {address: "{b}"}]
    health:
      active: {type: tcp, interval: 100ms, timeout: 500ms, unhealthy: 1, healthy: 1}
routes: [{name: all, upstream: app}]
"#,
            &[("a", &up.addr()), ("b", &doomed_addr)],
        ),
    );
    let mut tg = TollgateProcess::start(BIN, &config, &[], &["web"]);
    let admin = tg.admin_addr();
    drop(doomed);
    let deadline = Instant::now() + Duration::from_secs(20);
    let target = loop {
        let ups = get(admin, "/upstreams").json();
        let t = ups["upstreams"][0]["targets"][1].clone();
        if t["healthy"] == false {
            break t;
        }
        assert!(Instant::now() < deadline, "never unhealthy: {ups}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(target["address"], doomed_addr.to_string());
    assert_eq!(target["available"], false);
    let reason = target["reason"].as_str().unwrap();
    assert!(reason.starts_with("active check failed"), "{reason}");
    let ups = get(admin, "/upstreams").json();
    assert_eq!(ups["upstreams"][0]["available"], 1);
    assert_eq!(ups["upstreams"][0]["targets"][0]["healthy"], true);
}

#[test]
fn tollgate_status_prints_a_summary() {
    // `-c` finds the admin API by the file's address, so it needs a real port.
    let s = start_on(&unused_addr().to_string());
    let config = s.dir.path().join("tollgate.yaml");
    // `-c` reads the file like `run` does, so it needs the same environment.
    let out = Command::new(BIN)
        .args(["status", "-c"])
        .arg(&config)
        .env("GREETING", "x")
        .env("SHOP_KEY", "y")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(&format!("(pid {})", s.tg.pid())), "{text}");
    assert!(
        text.contains(&format!("web http {}", s.tg.addr("web"))),
        "{text}"
    );
    assert!(text.contains("routes: 3"), "{text}");
    assert!(text.contains("app: 2/2 targets available"), "{text}");
    assert!(text.contains("last reload: none since start"), "{text}");

    // A file whose admin port is chosen at start cannot say where to ask.
    let zero = s.dir.write(
        "zero.yaml",
        s.text.replace(&s.admin.to_string(), "127.0.0.1:0"),
    );
    let out = Command::new(BIN)
        .args(["status", "-c"])
        .arg(&zero)
        .env("GREETING", "x")
        .env("SHOP_KEY", "y")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has port 0"));

    // --admin with a wrong token file: the refusal is said plainly.
    let bad = s.dir.write("bad.token", "nope");
    let out = Command::new(BIN)
        .args(["status", "--admin", &s.admin.to_string(), "--token-file"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused the token (401)"));
}

#[test]
fn certificates_show_names_and_expiry() {
    let ca = TestCa::new("admin test CA");
    let dir = TempDir::new();
    let (cert, key) = dir.write_pair("site", &ca.server_cert(&["site.test"]));
    let config = dir.write(
        "tollgate.yaml",
        render(
            r#"
server: {workers: 1, shutdown_timeout: 5s}
access_log: {output: off}
admin: {address: "127.0.0.1:0"}
listeners:
  - name: web
    address: "127.0.0.1:0"
    protocol: https
    tls: {certificates: [{cert: "{cert}", key: "{key}"}]}
routes: [{name: r, respond: {}}]
"#,
            &[("cert", &cert.display()), ("key", &key.display())],
        ),
    );
    let mut tg = TollgateProcess::start(BIN, &config, &[], &["web"]);
    let certs = get(tg.admin_addr(), "/certificates").json();
    let c = &certs["certificates"][0];
    assert_eq!(c["listener"], "web");
    assert_eq!(c["default"], true);
    assert_eq!(c["dns_names"][0], "site.test");
    assert!(c["not_after"].as_str().unwrap().ends_with('Z'), "{c}");
    assert!(c["expires_in_seconds"].as_i64().unwrap() > 0, "{c}");
    // The key file is named nowhere in the answer.
    assert!(!certs.to_string().contains("site.key"), "{certs}");
}

#[test]
fn the_openapi_file_documents_every_endpoint() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/admin-api.yaml"))
        .unwrap();
    let spec: Value = serde_saphyr::from_str(&doc).unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    for path in [
        "/healthz",
        "/readyz",
        "/status",
        "/config",
        "/routes",
        "/upstreams",
        "/upstreams/{name}/targets/{address}/drain",
        "/upstreams/{name}/targets/{address}/enable",
        "/upstreams/{name}/targets/{address}/weight",
        "/dashboard/data",
        "/",
        "/certificates",
        "/caches",
        "/caches/{name}/purge",
        "/consumers",
        "/reload",
        "/upgrade",
        "/metrics",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} is not documented");
    }
    assert!(spec["paths"]["/config"]["put"].is_object());
    let weight = &spec["paths"]["/upstreams/{name}/targets/{address}/weight"];
    assert!(weight["post"].is_object() && weight["delete"].is_object());
}

#[test]
fn readyz_says_503_while_draining() {
    let slow = Upstream::slow(Duration::from_secs(3));
    let dir = TempDir::new();
    let config = dir.write(
        "tollgate.yaml",
        render(
            r#"
server: {workers: 1, shutdown_timeout: 10s}
access_log: {output: off}
admin: {address: "127.0.0.1:0"}
listeners: [{name: web, address: "127.0.0.1:0"}]
upstreams: [{name: app, targets: [{address: "{a}"}]}]
routes: [{name: all, upstream: app}]
"#,
            &[("a", &slow.addr())],
        ),
    );
    let mut tg = TollgateProcess::start(BIN, &config, &[], &["web"]);
    let admin = tg.admin_addr();
    assert_eq!(get(admin, "/readyz").status, 200);
    let web = tg.addr("web");
    let in_flight = std::thread::spawn(move || get(web, "/slow").status);
    let deadline = Instant::now() + Duration::from_secs(10);
    while slow.request_count() == 0 {
        assert!(
            Instant::now() < deadline,
            "the request never reached the upstream"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    tg.signal("TERM");
    tg.wait_for("shutting down", Duration::from_secs(10));
    let r = get(admin, "/readyz");
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.json()["ready"], false);
    // The request in flight still finishes.
    assert_eq!(in_flight.join().unwrap(), 200);
}
