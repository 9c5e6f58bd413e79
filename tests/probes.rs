//! What outside probes found (issue 8): ways around a route's policies
//! (Upgrade smuggling, header names with `_`) and peers that are slow on
//! purpose (a request body that stalls, a client that reads a few bytes at
//! a time). Real sockets on 127.0.0.1 throughout.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use tollgate_testkit::serde_json::{self, Value};
use tollgate_testkit::{connect, read_until, render, TempDir, Tollgate, Upstream};

/// The access log lines in `path` once `want` of them are there (5 s at most).
fn log_lines(path: &Path, want: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        if lines.len() >= want || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A request body that stops arriving is the client's fault: 408 (RFC 9110
/// §15.5.9) after the route's timeout, not a 504 that blames the upstream,
/// and the access log says the client's body was what timed out.
#[test]
fn stalled_request_body_is_408_and_logged_as_the_clients() {
    let up = Upstream::echo();
    let dir = TempDir::tagged("probes-408");
    let log = dir.path().join("access.log");
    let tg = Tollgate::start(&render(
        r#"
server: {workers: 1, shutdown_timeout: 5s}
access_log: {output: file, path: "{log}"}
listeners:
  - {name: web, address: 127.0.0.1:0}
upstreams:
  - {name: u, targets: [{address: "{up}"}]}
routes:
  - {name: slow-body, upstream: u, timeout: 400ms}
"#,
        &[("up", &up.addr()), ("log", &log.display())],
    ));
    let mut stream = connect(tg.addr("web"));
    stream
        .write_all(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789")
        .unwrap();
    // The rest of the body never comes.
    let answer = read_until(&mut stream, b"\r\n\r\n");
    let head = String::from_utf8_lossy(&answer);
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    let lines = log_lines(&log, 1);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["status"], 408, "{}", lines[0]);
    assert_eq!(lines[0]["timeout"], "client_body", "{}", lines[0]);
}

/// The route's timeout with a silent upstream is still a 504, logged as the
/// upstream's.
#[test]
fn silent_upstream_is_still_504() {
    let up = Upstream::slow(Duration::from_secs(3));
    let dir = TempDir::tagged("probes-504");
    let log = dir.path().join("access.log");
    let tg = Tollgate::start(&render(
        r#"
server: {workers: 1, shutdown_timeout: 5s}
access_log: {output: file, path: "{log}"}
listeners:
  - {name: web, address: 127.0.0.1:0}
upstreams:
  - {name: u, targets: [{address: "{up}"}]}
routes:
  - {name: slow-up, upstream: u, timeout: 300ms}
"#,
        &[("up", &up.addr()), ("log", &log.display())],
    ));
    let mut stream = connect(tg.addr("web"));
    stream
        .write_all(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
        .unwrap();
    let answer = read_until(&mut stream, b"\r\n\r\n");
    assert!(answer.starts_with(b"HTTP/1.1 504"), "{answer:?}");
    let lines = log_lines(&log, 1);
    assert_eq!(lines[0]["timeout"], "upstream", "{}", lines[0]);
}
