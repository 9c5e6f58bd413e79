//! What outside probes found (issue 8): ways around a route's policies
//! (Upgrade smuggling, header names with `_`) and peers that are slow on
//! purpose (a request body that stalls, a client that reads a few bytes at
//! a time). Real sockets on 127.0.0.1 throughout.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use tollgate_testkit::serde_json::{self, Value};
use tollgate_testkit::{
    connect, h2_request, raw_request, read_until, render, request, wait_json_lines, TempDir,
    Tollgate, Upstream,
};

/// The access log lines in `path` once `want` of them are there (5 s at most).
fn log_lines(path: &Path, want: usize) -> Vec<Value> {
    wait_json_lines(path, want, Duration::from_secs(5))
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

/// Sends an upgrade request for `protocol` through `tg` and returns the
/// answer's head (up to the blank line) and what follows, after writing
/// `probe` once the head arrived.
fn upgrade_through(tg: &Tollgate, path: &str, protocol: &str, probe: &[u8]) -> (String, Vec<u8>) {
    let mut stream = connect(tg.addr("web"));
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\n\
         Upgrade: {protocol}\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let answer = read_until(&mut stream, b"\r\n\r\n");
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let mut rest = answer[split..].to_vec();
    if head.starts_with("HTTP/1.1 101") {
        stream.write_all(probe).unwrap();
        rest = read_until(&mut stream, probe);
    }
    (head, rest)
}

/// `Upgrade: h2c` would hand the client a raw HTTP/2 connection to the
/// upstream, past every route and policy: it is forwarded as a plain
/// request (no Upgrade, no Connection: upgrade, no HTTP2-Settings), even to
/// an upstream that would accept it. WebSocket (the default allow-list)
/// still switches; a route's own list replaces the default.
#[test]
fn upgrades_only_to_protocols_the_route_allows() {
    let up = Upstream::upgrade_anything();
    let tg = Tollgate::for_upstream(
        &up,
        r#"
routes:
  - name: custom
    match: {path: {prefix: /custom}}
    upstream: u
    forwarding: {upgrades: [my-proto]}
  - {name: all, upstream: u}
"#,
    );
    let (head, body) = upgrade_through(&tg, "/", "h2c", b"");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, b"plain");
    let seen = up.last_request();
    for name in ["upgrade", "http2-settings"] {
        assert!(
            !seen.headers.contains_key(name),
            "{name} reached the upstream: {:?}",
            seen.headers
        );
    }
    let connection: Vec<_> = seen.headers.get_all("connection").iter().collect();
    assert!(
        !connection
            .iter()
            .any(|v| v.to_str().unwrap().to_ascii_lowercase().contains("upgrade")),
        "{connection:?}"
    );

    let (head, echoed) = upgrade_through(&tg, "/", "websocket", b"ws-bytes");
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert_eq!(echoed, b"ws-bytes");

    let (head, echoed) = upgrade_through(&tg, "/custom", "my-proto", b"mine");
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert_eq!(echoed, b"mine");
    let (head, body) = upgrade_through(&tg, "/custom", "websocket", b"");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, b"plain");
    let (head, _) = upgrade_through(&tg, "/custom", "my-proto, h2c", b"");
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "an offer with h2c in it switched: {head}"
    );
}

/// Header names with `_`: dropped by default (and counted in the access
/// log), forwarded by a listener with `keep_underscore_headers` except
/// lookalikes of fields tollgate sets, refused with 400 by a route with
/// `refuse_underscore_headers`. HTTP/1.1 and HTTP/2 alike.
#[test]
fn header_names_with_underscores() {
    let up = Upstream::echo();
    let dir = TempDir::tagged("probes-underscore");
    let log = dir.path().join("access.log");
    let tg = Tollgate::start(&render(
        r#"
server: {workers: 1, shutdown_timeout: 5s}
access_log: {output: file, path: "{log}"}
listeners:
  - {name: web, address: 127.0.0.1:0}
  - {name: keep, address: 127.0.0.1:0, keep_underscore_headers: true}
upstreams:
  - {name: u, targets: [{address: "{up}"}]}
routes:
  - name: strict
    match: {path: {prefix: /strict}}
    upstream: u
    forwarding: {refuse_underscore_headers: true}
  - {name: all, upstream: u}
"#,
        &[("up", &up.addr()), ("log", &log.display())],
    ));
    let spoof = [
        ("X_Forwarded_For", "6.6.6.6"),
        ("x_forwarded-host", "evil.example"),
        ("Transfer_Encoding", "chunked"),
        ("My_Field", "1"),
    ];
    let names = |r: &tollgate_testkit::RecordedRequest| -> Vec<String> {
        r.headers.keys().map(|k| k.as_str().to_owned()).collect()
    };

    let a = request(tg.addr("web"), "GET", "/a", &spoof, b"");
    assert_eq!(a.status, 200);
    let seen = up.last_request();
    assert!(
        names(&seen).iter().all(|n| !n.contains('_')),
        "{:?}",
        names(&seen)
    );
    assert_eq!(seen.headers["x-forwarded-for"], "127.0.0.1");

    let h2 = h2_request(tg.addr("web"), "GET", "/h2", &spoof, b"");
    assert_eq!(h2.status, 200);
    let seen = up.last_request();
    assert!(
        names(&seen).iter().all(|n| !n.contains('_')),
        "{:?}",
        names(&seen)
    );

    let k = request(tg.addr("keep"), "GET", "/k", &spoof, b"");
    assert_eq!(k.status, 200);
    let seen = up.last_request();
    assert_eq!(seen.headers["my_field"], "1");
    let kept: Vec<String> = names(&seen)
        .into_iter()
        .filter(|n| n.contains('_'))
        .collect();
    assert_eq!(kept, ["my_field"], "lookalikes of managed fields must go");

    let refused = raw_request(
        tg.addr("keep"),
        b"GET /strict HTTP/1.1\r\nHost: t\r\nMy_Field: 1\r\n\r\n",
    );
    assert!(
        refused.starts_with(b"HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&refused)
    );
    let fine = request(tg.addr("web"), "GET", "/strict/ok", &[], b"");
    assert_eq!(fine.status, 200);

    let lines = log_lines(&log, 5);
    let dropped: Vec<_> = lines.iter().map(|l| l["dropped_headers"].clone()).collect();
    assert_eq!(
        dropped,
        [
            Value::from(4),
            Value::from(4),
            Value::from(3),
            Value::Null,
            Value::Null
        ],
        "{lines:?}"
    );
}

/// A client that reads its answer a few hundred bytes at a time makes
/// progress on every write, so `send_timeout` never fires; the minimum
/// send rate closes it after a window or two of waiting on it, and the
/// access log says the client was too slow to read.
#[test]
fn slow_reader_is_closed_below_the_minimum_send_rate() {
    let chunk: &'static str = Box::leak("x".repeat(256 * 1024).into_boxed_str());
    let up = Upstream::streaming(&vec![chunk; 128], Duration::ZERO); // 32 MiB
    let dir = TempDir::tagged("probes-slow-reader");
    let log = dir.path().join("access.log");
    let tg = Tollgate::start(&render(
        r#"
server: {workers: 1, shutdown_timeout: 5s}
access_log: {output: file, path: "{log}"}
listeners:
  - name: web
    address: 127.0.0.1:0
    limits: {send_timeout: 30s, min_send_rate: 4MiB, send_rate_window: 500ms}
upstreams:
  - {name: u, targets: [{address: "{up}"}]}
routes:
  - {name: all, upstream: u}
"#,
        &[("up", &up.addr()), ("log", &log.display())],
    ));
    let mut stream = connect(tg.addr("web"));
    stream
        .write_all(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // The client sees the close only once it has drained the socket
    // buffers (megabytes at this pace), so the log tells when tollgate gave up.
    let started = Instant::now();
    let mut buf = [0u8; 256];
    let mut reads = 0u32;
    let line = loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break None,
            Ok(_) => reads += 1,
        }
        if reads.is_multiple_of(64) {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(l) = text.lines().next() {
                break Some(serde_json::from_str::<Value>(l).unwrap());
            }
        }
        if started.elapsed() > Duration::from_secs(20) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let line = line.unwrap_or_else(|| {
        panic!(
            "a reader taking 256 bytes a millisecond was still served after {:?}",
            started.elapsed()
        )
    });
    assert_eq!(line["timeout"], "client_read", "{line}");
    assert!(
        line["bytes_out"].as_u64().unwrap() < 32 << 20,
        "the whole answer was sent: {line}"
    );
}

/// The same bound over HTTP/2: a client that opens its flow-control window
/// a few hundred bytes at a time (while answering every PING) has its
/// connection closed.
#[test]
fn slow_http2_reader_is_closed_below_the_minimum_send_rate() {
    let chunk: &'static str = Box::leak("x".repeat(256 * 1024).into_boxed_str());
    let up = Upstream::streaming(&vec![chunk; 128], Duration::ZERO); // 32 MiB
    let tg = Tollgate::start(&render(
        r#"
server: {workers: 1, shutdown_timeout: 5s}
access_log: {output: off}
listeners:
  - name: web
    address: 127.0.0.1:0
    limits: {send_timeout: 30s, min_send_rate: 4MiB, send_rate_window: 500ms}
upstreams:
  - {name: u, targets: [{address: "{up}"}]}
routes:
  - {name: all, upstream: u}
"#,
        &[("up", &up.addr())],
    ));
    let addr = tg.addr("web");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (closed, total, took) = rt.block_on(async move {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (client, conn) = h2::client::handshake(tcp).await.unwrap();
        let conn = tokio::spawn(conn);
        let mut client = client.ready().await.unwrap();
        let req = tollgate_testkit::http::Request::get(format!("http://{addr}/big"))
            .body(())
            .unwrap();
        let (resp, _) = client.send_request(req, true).unwrap();
        let mut body = resp.await.unwrap().into_body();
        let started = Instant::now();
        let (mut total, mut owed) = (0usize, 0usize);
        let closed = loop {
            if started.elapsed() > Duration::from_secs(20) {
                break false;
            }
            if owed == 0 {
                match tokio::time::timeout(Duration::from_secs(5), body.data()).await {
                    Ok(Some(Ok(d))) => {
                        total += d.len();
                        owed += d.len();
                    }
                    _ => break true,
                }
            }
            let n = owed.min(256);
            let _ = body.flow_control().release_capacity(n);
            owed -= n;
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        conn.abort();
        (closed, total, started.elapsed())
    });
    assert!(closed, "still served after {took:?} ({total} bytes)");
    assert!(total < 32 << 20, "the whole answer arrived");
}

/// Over HTTP/2 too: a request body that stops arriving is a 408.
#[test]
fn stalled_http2_request_body_is_408() {
    let up = Upstream::echo();
    let tg = Tollgate::for_upstream(
        &up,
        "routes:\n  - {name: slow-body, upstream: u, timeout: 400ms}\n",
    );
    let addr = tg.addr("web");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = rt.block_on(async move {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (client, conn) = h2::client::handshake(tcp).await.unwrap();
        let conn = tokio::spawn(conn);
        let mut client = client.ready().await.unwrap();
        let req = tollgate_testkit::http::Request::post(format!("http://{addr}/upload"))
            .header("content-length", "100")
            .body(())
            .unwrap();
        let (resp, mut body) = client.send_request(req, false).unwrap();
        body.send_data(
            tollgate_testkit::bytes::Bytes::from_static(b"0123456789"),
            false,
        )
        .unwrap();
        // The other 90 bytes never come.
        let status = tokio::time::timeout(Duration::from_secs(10), resp)
            .await
            .expect("no answer within 10 s")
            .map(|r| r.status().as_u16());
        conn.abort();
        status
    });
    assert_eq!(status.expect("an answer, not a reset"), 408);
}
