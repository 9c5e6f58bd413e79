//! Process lifecycle: graceful shutdown, the access log, connection limits.

use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tollgate_testkit::serde_json::Value;
use tollgate_testkit::{
    connect, get, raw_request_timeout, read_until, read_until_timeout, render, request, Tollgate,
    Upstream,
};

/// Waits up to 5 s for `cond`.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn slow_proxy(up: &Upstream, shutdown_timeout: &str) -> Tollgate {
    Tollgate::start(&render(
        r#"
server: {workers: 1, shutdown_timeout: {drain}}
access_log: {output: off}
listeners:
  - {name: web, address: 127.0.0.1:0}
upstreams:
  - {name: u, targets: [{address: "{up}"}]}
routes:
  - {name: all, upstream: u}
"#,
        &[("up", &up.addr()), ("drain", &shutdown_timeout)],
    ))
}

#[test]
fn graceful_shutdown_finishes_in_flight_requests() {
    let up = Upstream::slow(Duration::from_secs(1));
    let tg = slow_proxy(&up, "5s");
    let addr = tg.addr("web");
    let client = std::thread::spawn(move || get(addr, "/slow"));
    wait_for("the request to reach the upstream", || {
        up.request_count() == 1
    });

    let started = Instant::now();
    let stopper = std::thread::spawn(move || tg.shutdown());
    stopper.join().expect("shutdown panicked");
    let waited = started.elapsed();

    let resp = client.join().expect("client panicked");
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.echo().path, "/slow");
    assert_eq!(
        resp.header("connection"),
        Some("close"),
        "an answer finished during shutdown tells the client not to reuse the connection"
    );
    assert!(
        waited >= Duration::from_millis(500),
        "shutdown returned after {waited:?}, before the request finished"
    );
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
        "still accepting connections after shutdown"
    );
}

#[test]
fn shutdown_drain_is_bounded_by_shutdown_timeout() {
    let up = Upstream::slow(Duration::from_secs(5));
    let tg = slow_proxy(&up, "300ms");
    let addr = tg.addr("web");
    let client = std::thread::spawn(move || {
        raw_request_timeout(
            addr,
            b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
            Duration::from_secs(8),
        )
    });
    wait_for("the request to reach the upstream", || {
        up.request_count() == 1
    });
    let started = Instant::now();
    tg.shutdown();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "shutdown took {:?} with a 300ms drain",
        started.elapsed()
    );
    // The cut-off request gets no (complete) answer.
    let answer = client.join().unwrap();
    assert!(!answer.starts_with(b"HTTP/1.1 200"));
}

#[test]
fn idle_keep_alive_connections_do_not_delay_shutdown() {
    let tg = Tollgate::start_with_defaults(
        "listeners:\n  - {name: web, address: 127.0.0.1:0}\nroutes:\n  - {name: r, respond: {body: pong}}\n",
    );
    let mut idle = connect(tg.addr("web"));
    idle.write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        .unwrap();
    read_until(&mut idle, b"pong");
    let started = Instant::now();
    tg.shutdown();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "an idle connection held shutdown for {:?}",
        started.elapsed()
    );
}

fn temp_log_path() -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!(
        "tollgate-access-{}-{nanos}.log",
        std::process::id()
    ))
}

#[test]
fn access_log_has_one_json_line_per_request() {
    let up = Upstream::echo();
    let log = temp_log_path();
    let tg = Tollgate::start(&render(
        r#"
server: {workers: 1}
access_log: {output: file, path: "{log}"}
listeners:
  - {name: web, address: 127.0.0.1:0}
upstreams:
  - {name: u, targets: [{address: "{up}"}]}
routes:
  - {name: api, match: {path: {prefix: /api}}, upstream: u}
  - {name: hello, match: {path: {exact: /hello}}, respond: {body: "hi there"}}
"#,
        &[("up", &up.addr()), ("log", &log.display())],
    ));
    let addr = tg.addr("web");
    let a = request(addr, "GET", "/api/x?q=1", &[("Host", "Api.Test:81")], b"");
    let b = request(addr, "POST", "/api/post", &[], b"12345");
    let c = get(addr, "/hello");
    let d = get(addr, "/nowhere");
    assert_eq!(
        [a.status, b.status, c.status, d.status],
        [200, 200, 200, 404]
    );

    let mut lines: Vec<Value> = Vec::new();
    wait_for("4 access log lines", || {
        lines = tollgate_testkit::json_lines(&log);
        lines.len() >= 4
    });
    drop(tg);
    let _ = std::fs::remove_file(&log);
    assert_eq!(lines.len(), 4, "{lines:?}");

    let fields = [
        "time",
        "request_id",
        "client",
        "method",
        "host",
        "path",
        "status",
        "bytes_in",
        "bytes_out",
        "duration_ms",
        "route",
        "upstream",
        "upstream_ms",
    ];
    for line in &lines {
        let obj = line.as_object().expect("object");
        for f in fields {
            assert!(obj.contains_key(f), "{f} missing in {line}");
        }
        assert!(line["time"].as_str().unwrap().ends_with('Z'), "{line}");
        assert!(line["duration_ms"].as_f64().unwrap() >= 0.0);
        let client = line["client"].as_str().unwrap();
        assert!(client.starts_with("127.0.0.1:"), "{line}");
    }
    let by_id = |resp: &tollgate_testkit::HttpResponse| {
        let id = resp.header("x-request-id").unwrap();
        lines
            .iter()
            .find(|l| l["request_id"] == id)
            .unwrap_or_else(|| panic!("no line for {id}: {lines:?}"))
            .clone()
    };

    let la = by_id(&a);
    assert_eq!(la["method"], "GET");
    assert_eq!(la["host"], "api.test");
    assert_eq!(la["path"], "/api/x?q=1");
    assert_eq!(la["status"], 200);
    assert_eq!(la["bytes_in"], 0);
    assert_eq!(la["bytes_out"].as_u64(), Some(a.body.len() as u64));
    assert_eq!(la["route"], "api");
    assert_eq!(la["upstream"], up.addr().to_string());
    assert!(la["upstream_ms"].as_f64().is_some(), "{la}");

    let lb = by_id(&b);
    assert_eq!(lb["method"], "POST");
    assert_eq!(lb["bytes_in"], 5);

    // Fixed responses carry no request id (see forwarding.rs): find by path.
    let lc = lines
        .iter()
        .find(|l| l["path"] == "/hello")
        .expect("line for /hello");
    assert_eq!(lc["route"], "hello");
    assert_eq!(lc["bytes_out"], 8);
    assert!(lc["upstream"].is_null() && lc["upstream_ms"].is_null());

    let ld = by_id(&d);
    assert_eq!(ld["status"], 404);
    assert!(ld["route"].is_null(), "{ld}");
}

#[test]
fn max_connections_holds_further_connections_back() {
    let tg = Tollgate::start_with_defaults(
        r#"
listeners:
  - name: web
    address: 127.0.0.1:0
    limits: {max_connections: 2}
routes:
  - {name: r, respond: {body: pong}}
"#,
    );
    let ask = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    let mut first = connect(tg.addr("web"));
    first.write_all(ask).unwrap();
    read_until(&mut first, b"pong");
    let mut second = connect(tg.addr("web"));
    second.write_all(ask).unwrap();
    read_until(&mut second, b"pong");

    let mut third = connect(tg.addr("web"));
    third.write_all(ask).unwrap();
    assert!(
        read_until_timeout(&mut third, b"pong", Duration::from_millis(700)).is_none(),
        "a third connection was served while two were open"
    );
    // Both open connections still work.
    second.write_all(ask).unwrap();
    read_until(&mut second, b"pong");

    drop(first);
    read_until(&mut third, b"pong");
}

/// A client that stops reading is cut off after `send_timeout` instead of
/// holding its connection (and the upstream's) forever: when it finally reads,
/// the answer ends early.
#[test]
fn slow_reader_is_cut_off_after_send_timeout() {
    let chunk: &'static str = Box::leak("x".repeat(256 * 1024).into_boxed_str());
    let chunks = vec![chunk; 128]; // 32 MiB, far more than loopback buffers hold
    let up = Upstream::streaming(&chunks, Duration::ZERO);
    let tg = Tollgate::start_with_defaults(&render(
        r#"
listeners:
  - {name: web, address: 127.0.0.1:0, limits: {send_timeout: 300ms}}
upstreams:
  - {name: u, targets: [{address: "{up}"}]}
routes:
  - {name: all, upstream: u}
"#,
        &[("up", &up.addr())],
    ));
    let mut stream = connect(tg.addr("web"));
    stream
        .write_all(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut total = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let started = Instant::now();
    loop {
        match std::io::Read::read(&mut stream, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the answer kept coming: tollgate did not give up on the slow reader"
        );
    }
    assert!(
        total < 128 * 256 * 1024,
        "the whole answer ({total} bytes) arrived after the client stalled past send_timeout"
    );
}
