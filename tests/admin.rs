//! The admin API (`admin:`) against the real binary: every read endpoint,
//! the bearer token, reload through the API (applied, refused, dry run),
//! cache purge, `/upstreams` seeing a dead target, `tollgate status`.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use tollgate_testkit::{
    get, render, request, unused_addr, HttpResponse, TempDir, TestCa, TollgateProcess, Upstream,
};

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");
const TOKEN: &str = "admin-s3cret-token";

/// A config with the admin API on 127.0.0.1:0 behind the token in `admin.token`.
const CONFIG: &str = r#"
server: {workers: 1, shutdown_timeout: 5s}
access_log: {output: off}
admin:
  address: "{admin}"
  token: {file: admin.token}
listeners: [{name: web, address: "127.0.0.1:0"}]
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
struct Setup {
    dir: TempDir,
    tg: TollgateProcess,
    admin: SocketAddr,
    text: String,
    _ups: Vec<Upstream>,
}

/// Started with the admin API on `admin` (e.g. `127.0.0.1:0`).
fn start_on(admin: &str) -> Setup {
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
    let env = [("GREETING", "hunter2-from-env")];
    let mut tg = TollgateProcess::start(BIN, &config, &env, &["web"]);
    let admin = tg.admin_addr();
    Setup {
        dir,
        tg,
        admin,
        text,
        _ups: ups,
    }
}

fn start() -> Setup {
    start_on("127.0.0.1:0")
}

/// `method path` on the admin API with the right token.
fn call(admin: SocketAddr, method: &str, path: &str) -> HttpResponse {
    let auth = format!("Bearer {TOKEN}");
    request(admin, method, path, &[("authorization", &auth)], b"")
}

fn json(r: &HttpResponse) -> Value {
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "{}",
        r.text()
    );
    r.json()
}

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

#[test]
fn the_token_is_required_and_never_logged() {
    let mut s = start();
    for auth in [None, Some("Bearer wrong-token"), Some("Basic YWRtaW4=")] {
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", *a)).collect();
        for path in ["/status", "/config", "/upstreams"] {
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
fn reload_through_the_api_applies_refuses_and_dry_runs() {
    let s = start();
    let web = s.tg.addr("web");
    let with_new_route = s.text.replace(
        "routes:\n",
        "routes:\n  - {name: fresh, match: {path: {exact: /fresh}}, respond: {body: new}}\n",
    );

    // dry_run: the change is reported, nothing applied.
    s.dir.write("tollgate.yaml", &with_new_route);
    let dry = call(s.admin, "POST", "/reload?dry_run=true");
    assert_eq!(dry.status, 200, "{}", dry.text());
    let dry = json(&dry);
    assert_eq!(
        (dry["applied"].clone(), dry["dry_run"].clone()),
        (false.into(), true.into())
    );
    assert_eq!(dry["changes"]["routes"]["added"][0], "fresh");
    assert_ne!(get(web, "/fresh").text(), "new");
    assert_eq!(
        json(&call(s.admin, "GET", "/status"))["last_reload"],
        Value::Null
    );

    // Applied: the new route answers.
    let applied = call(s.admin, "POST", "/reload");
    assert_eq!(applied.status, 200, "{}", applied.text());
    let applied = json(&applied);
    assert_eq!(applied["applied"], true);
    assert_eq!(applied["changes"]["routes"]["added"][0], "fresh");
    assert_eq!(get(web, "/fresh").text(), "new");
    let status = json(&call(s.admin, "GET", "/status"));
    assert_eq!(status["last_reload"]["result"], "applied");
    assert_eq!(status["routes"], 4);

    // A broken file: located errors, nothing changes.
    let broken = with_new_route.replace("upstream: app}", "upstream: nowhere}");
    s.dir.write("tollgate.yaml", &broken);
    let refused = call(s.admin, "POST", "/reload");
    assert_eq!(refused.status, 422, "{}", refused.text());
    let refused = json(&refused);
    assert_eq!(refused["applied"], false);
    let e = &refused["errors"][0];
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("unknown upstream `nowhere`"),
        "{e}"
    );
    assert_eq!(e["path"], "routes[3].upstream");
    assert!(e["line"].as_u64().unwrap() > 0, "{e}");
    assert_eq!(get(web, "/fresh").text(), "new");
    assert_eq!(
        json(&call(s.admin, "GET", "/status"))["last_reload"]["result"],
        "refused"
    );
    // A dry run of the broken file says the same, with 422.
    assert_eq!(call(s.admin, "POST", "/reload?dry_run=true").status, 422);
}

#[test]
fn cache_purge_empties_the_store() {
    let s = start();
    let web = s.tg.addr("web");
    for path in ["/c/one", "/c/two", "/c/one"] {
        assert_eq!(get(web, path).status, 200);
    }
    let entries =
        |s: &Setup| json(&call(s.admin, "GET", "/caches"))["caches"][0]["entries"].clone();
    assert_eq!(entries(&s), 2);
    let missing = call(s.admin, "POST", "/caches/nothing/purge");
    assert_eq!(missing.status, 404);
    let purged = json(&call(s.admin, "POST", "/caches/cached/purge"));
    assert_eq!(purged["purged"], 2);
    assert_eq!(entries(&s), 0);
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
fn a_drained_target_takes_no_new_requests_across_a_reload_until_enabled() {
    let s = start();
    let web = s.tg.addr("web");
    let (a, b) = (&s._ups[0], &s._ups[1]);
    let target_b = b.addr().to_string();
    let drain = format!("/upstreams/app/targets/{target_b}/drain");
    let r = call(s.admin, "POST", &drain);
    assert_eq!(r.status, 200, "{}", r.text());
    let unknown = call(s.admin, "POST", "/upstreams/app/targets/10.9.9.9:1/drain");
    assert_eq!(unknown.status, 404);

    let send = |n: usize| {
        for _ in 0..n {
            assert_eq!(get(web, "/any").status, 200);
        }
    };
    let (a0, b0) = (a.request_count(), b.request_count());
    send(10);
    assert_eq!(b.request_count(), b0, "a drained target got a request");
    assert_eq!(a.request_count(), a0 + 10);
    let ups = json(&call(s.admin, "GET", "/upstreams"));
    assert_eq!(ups["upstreams"][0]["targets"][1]["drained"], true);
    assert_eq!(ups["drained"][0]["target"], target_b);

    // A reload that changes the upstream keeps the drain.
    s.dir.write(
        "tollgate.yaml",
        s.text
            .replace("  - name: app\n", "  - name: app\n    balance: random\n"),
    );
    let reloaded = call(s.admin, "POST", "/reload");
    assert_eq!(reloaded.status, 200, "{}", reloaded.text());
    assert_eq!(json(&reloaded)["changes"]["upstreams"]["changed"][0], "app");
    send(10);
    assert_eq!(
        b.request_count(),
        b0,
        "the drain did not survive the reload"
    );

    // Enabled again, it takes its share.
    let enable = format!("/upstreams/app/targets/{target_b}/enable");
    assert_eq!(call(s.admin, "POST", &enable).status, 200);
    send(20);
    assert!(b.request_count() > b0, "an enabled target got nothing");
    let ups = json(&call(s.admin, "GET", "/upstreams"));
    assert_eq!(ups["upstreams"][0]["targets"][1]["drained"], false);
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
        "/certificates",
        "/caches",
        "/caches/{name}/purge",
        "/reload",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} is not documented");
    }
    assert!(spec["paths"]["/config"]["put"].is_object());
}

#[test]
fn put_config_validates_applies_and_optionally_writes_the_file() {
    let s = start();
    let web = s.tg.addr("web");
    let path = s.dir.path().join("tollgate.yaml");
    let auth = format!("Bearer {TOKEN}");
    let put = |query: &str, body: &str| {
        request(
            s.admin,
            "PUT",
            &format!("/config{query}"),
            &[
                ("authorization", &auth),
                ("content-type", "application/yaml"),
            ],
            body.as_bytes(),
        )
    };
    let with_route = |name: &str, body: &str| {
        s.text.replace(
            "routes:\n",
            &format!("routes:\n  - {{name: {name}, match: {{path: {{exact: /{name}}}}}, respond: {{body: {body}}}}}\n"),
        )
    };

    // Invalid YAML: located errors, nothing changes.
    let broken = s.text.replace("upstream: app}", "upstream: nowhere}");
    let r = put("", &broken);
    assert_eq!(r.status, 422, "{}", r.text());
    let e = &json(&r)["errors"][0];
    assert!(
        e["text"].as_str().unwrap().contains("tollgate.yaml:"),
        "{e}"
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("unknown upstream `nowhere`"),
        "{e}"
    );
    assert_eq!(get(web, "/hello").text(), "hunter2-from-env");

    // Dry run: valid, reported, not applied.
    let r = put("?dry_run=true", &with_route("dry", "d"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(json(&r)["changes"]["routes"]["added"][0], "dry");
    assert_ne!(get(web, "/dry").text(), "d");

    // Applied without writing: serves at once, the file stays as it was,
    // /config shows what is applied.
    let r = put("", &with_route("one", "first"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(json(&r)["applied"], true);
    assert_eq!(get(web, "/one").text(), "first");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), s.text);
    let config = json(&call(s.admin, "GET", "/config"));
    assert_eq!(config["routes"][0]["name"], "one");

    // Applied and written: the file is replaced, the previous one kept.
    let two = with_route("two", "second");
    let r = put("?write=true", &two);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(json(&r)["written"], true);
    assert_eq!(get(web, "/two").text(), "second");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), two);
    assert_eq!(
        std::fs::read_to_string(s.dir.path().join("tollgate.yaml.prev")).unwrap(),
        s.text
    );
    let wrong = request(
        s.admin,
        "DELETE",
        "/config",
        &[("authorization", &auth)],
        b"",
    );
    assert_eq!(
        (wrong.status, wrong.header("allow")),
        (405, Some("GET, PUT"))
    );
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
