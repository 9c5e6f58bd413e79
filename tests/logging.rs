//! The event log of the `tollgate` binary: health changes, certificate
//! reloads and configuration reloads become one line each, with a stable
//! message and fields, in text on stderr or JSON in a file (`log:`), and
//! `RUST_LOG` overrides the level.

use std::time::{Duration, Instant};

use tollgate_testkit::serde_json::{self, Value};
use tollgate_testkit::{
    get, render, tls_connect, TempDir, TestCa, TlsOptions, TollgateProcess, Upstream,
};

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");
const WAIT: Duration = Duration::from_secs(10);

#[test]
fn a_target_going_unhealthy_and_back_is_one_line_each() {
    let up = Upstream::echo();
    let dir = TempDir::new();
    // `level: error` would hide both lines: RUST_LOG brings them back.
    let config = dir.write(
        "tollgate.yaml",
        render(
            r#"
server: {workers: 1}
access_log: {output: off}
log: {level: error}
listeners: [{name: web, address: 127.0.0.1:0}]
upstreams:
  - name: app
    targets: [{address: "{up}"}]
    health:
      active: {path: /health, interval: 50ms, jitter: 0%, timeout: 500ms, healthy: 2, unhealthy: 2}
routes: [{name: r, upstream: app}]
"#,
            &[("up", &up.addr())],
        ),
    );
    let mut tg = TollgateProcess::start(BIN, &config, &[("RUST_LOG", "info")], &["web"]);
    assert_eq!(get(tg.addr("web"), "/").status, 200);

    up.set_status(500);
    let out = tg.wait_for("target unhealthy", WAIT);
    let target = format!("target={}", up.addr());
    for want in [" WARN ", "upstream=app", &target, "probes=2", "reason="] {
        assert!(out.contains(want), "{want:?} in {out}");
    }
    // Probes keep failing for a while: still one line for the change.
    std::thread::sleep(Duration::from_millis(400));
    up.set_status(0);
    let back = tg.wait_for("target healthy", WAIT);
    assert!(back.contains(" INFO ") && back.contains(&target), "{back}");
    let outs = tg
        .seen()
        .iter()
        .filter(|l| l.contains("target unhealthy"))
        .count();
    assert_eq!(outs, 1, "{:#?}", tg.seen());
}

#[test]
fn a_broken_certificate_file_is_kept_out_and_logged() {
    let ca = TestCa::new("tollgate log test CA");
    let dir = TempDir::new();
    let (cert, key) = dir.write_pair("site", &ca.server_cert(&["site.test", "old.site.test"]));
    let config = dir.write(
        "tollgate.yaml",
        render(
            r#"
server: {workers: 1}
access_log: {output: off}
listeners:
  - name: secure
    address: 127.0.0.1:0
    protocol: https
    tls: {certificates: [{cert: "{cert}", key: "{key}"}], reload_interval: 50ms}
routes: [{name: r, respond: {body: hi}}]
"#,
            &[("cert", &cert.display()), ("key", &key.display())],
        ),
    );
    let mut tg = TollgateProcess::start(BIN, &config, &[], &["secure"]);
    let opts = TlsOptions::new(&ca, "site.test");
    let addr = tg.addr("secure");
    let names = || tls_connect(addr, &opts).unwrap().peer_names;
    assert!(names().iter().any(|n| n == "old.site.test"));

    dir.write("site.pem", "-----BEGIN CERTIFICATE-----\nnot base64\n");
    let line = tg.wait_for("certificate reload failed", WAIT);
    let cert_field = format!("cert={}", cert.display());
    for want in [" ERROR ", "listener=secure", &cert_field, "reason="] {
        assert!(line.contains(want), "{want:?} in {line}");
    }
    assert!(line.contains("the previous one stays in use"), "{line}");
    // The old certificate is still what clients get.
    assert!(names().iter().any(|n| n == "old.site.test"));

    dir.write_pair("site", &ca.server_cert(&["site.test", "new.site.test"]));
    let line = tg.wait_for("certificate reloaded", WAIT);
    assert!(
        line.contains(" INFO ") && line.contains("listener=secure"),
        "{line}"
    );
    let deadline = Instant::now() + WAIT;
    while !names().iter().any(|n| n == "new.site.test") {
        assert!(Instant::now() < deadline, "new certificate not served");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The JSON lines of `path` whose message is `message`; waits up to 10 s
/// for at least `count`. Every line of the file must be a JSON object.
fn json_events(path: &std::path::Path, message: &str, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let all: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        let found: Vec<Value> = all
            .into_iter()
            .filter(|v| v["fields"]["message"] == message)
            .collect();
        if found.len() >= count {
            return found;
        }
        assert!(Instant::now() < deadline, "no {message:?} in {text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn reloads_applied_and_refused_are_json_lines_in_the_log_file() {
    let dir = TempDir::new();
    let log = dir.path().join("events.log");
    let text = render(
        r#"
server: {workers: 1}
access_log: {output: off}
log: {format: json, output: "{log}"}
listeners: [{name: web, address: 127.0.0.1:0}]
routes:
  - {name: hello, respond: {body: before}}
"#,
        &[("log", &log.display())],
    );
    let config = dir.write("tollgate.yaml", &text);
    let tg = TollgateProcess::start(BIN, &config, &[], &["web"]);
    assert_eq!(get(tg.addr("web"), "/").text(), "before");
    // The signal handlers are in place once the start-up line is out; a
    // little slack so the first SIGHUP does not race them.
    std::thread::sleep(Duration::from_millis(200));

    dir.write(
        "tollgate.yaml",
        text.replace("routes:", "routes:\n  - {name: bad, upstream: nowhere}"),
    );
    tg.signal("HUP");
    let refused = &json_events(&log, "reload refused", 1)[0];
    assert_eq!(refused["level"], "WARN", "{refused}");
    let fields = &refused["fields"];
    assert_eq!(
        fields["reason"], "the configuration has errors",
        "{refused}"
    );
    assert!(
        fields["errors"]
            .as_str()
            .unwrap()
            .contains("unknown upstream `nowhere`"),
        "{refused}"
    );
    assert_eq!(fields["file"], config.display().to_string());
    assert_eq!(get(tg.addr("web"), "/").text(), "before");

    dir.write("tollgate.yaml", text.replace("before", "after"));
    tg.signal("HUP");
    let applied = &json_events(&log, "reload applied", 1)[0];
    assert_eq!(applied["level"], "INFO", "{applied}");
    // What changed, by name, and what asked for the reload.
    assert_eq!(applied["fields"]["via"], "SIGHUP", "{applied}");
    assert_eq!(
        applied["fields"]["summary"], "routes changed [hello]",
        "{applied}"
    );
    assert_eq!(get(tg.addr("web"), "/").text(), "after");
}
