//! Access log lines for what is not a plain request: WebSocket tunnels
//! (one line when they end), HTTP/2 answers (bytes actually sent and the
//! time to the end of the body, also when the client cancels), and L4
//! connections and UDP sessions (one line each, off per listener).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tollgate_testkit::bytes::Bytes;
use tollgate_testkit::http::Request;
use tollgate_testkit::serde_json::Value;
use tollgate_testkit::{
    connect, read_line, read_until, render, udp_exchange, TcpServer, TempDir, Tollgate, UdpServer,
    Upstream, WEBSOCKET_KEY,
};

const WAIT: Duration = Duration::from_secs(10);

/// tollgate from `body` (listeners, upstreams, routes) with its access
/// log in a file of `dir`; returns it and the log's path.
fn start(dir: &TempDir, body: &str) -> (Tollgate, PathBuf) {
    let log = dir.path().join("access.log");
    let yaml = format!(
        "server: {{workers: 1, shutdown_timeout: 5s}}\naccess_log: {{output: file, path: \"{}\"}}\n{body}",
        log.display()
    );
    (Tollgate::start(&yaml), log)
}

/// The lines of `log` that `pick` selects; waits (up to 10 s) until there
/// are `count`, then a little longer to see that no more come.
fn lines(log: &Path, count: usize, pick: impl Fn(&Value) -> bool) -> Vec<Value> {
    let read = || -> Vec<Value> {
        tollgate_testkit::json_lines(log)
            .into_iter()
            .filter(|v| pick(v))
            .collect()
    };
    let deadline = Instant::now() + WAIT;
    while read().len() < count {
        assert!(
            Instant::now() < deadline,
            "fewer than {count} lines: {:?}",
            read()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    read()
}

#[test]
fn a_websocket_tunnel_gets_one_line_when_it_ends() {
    let dir = TempDir::new();
    let up = Upstream::websocket_echo();
    let (tg, log) = start(
        &dir,
        &render(
            r#"
listeners: [{name: web, address: 127.0.0.1:0}]
upstreams: [{name: ws, targets: [{address: "{up}"}]}]
routes: [{name: chat, upstream: ws}]
"#,
            &[("up", &up.addr())],
        ),
    );
    let mut stream = connect(tg.addr("web"));
    write!(
        stream,
        "GET /chat HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {WEBSOCKET_KEY}\r\n\r\n"
    )
    .unwrap();
    read_until(&mut stream, b"\r\n\r\n");
    let mut sent = 0;
    for msg in [&b"\x81\x05hello"[..], b"second message"] {
        stream.write_all(msg).unwrap();
        assert_eq!(read_until(&mut stream, msg), msg);
        sent += msg.len();
    }
    // Open for a while: the line's duration covers the whole tunnel.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        std::fs::read_to_string(&log).unwrap_or_default().is_empty(),
        "a line before the tunnel ended"
    );
    stream.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);

    let found = lines(&log, 1, |v| v["path"] == "/chat");
    assert_eq!(found.len(), 1, "{found:?}");
    let line = &found[0];
    assert_eq!(line["status"], 101, "{line}");
    assert_eq!(line["bytes_in"], sent, "{line}");
    assert_eq!(line["bytes_out"], sent, "{line}");
    assert_eq!(line["end"], "closed", "{line}");
    assert_eq!(line["route"], "chat", "{line}");
    assert!(line["duration_ms"].as_f64().unwrap() >= 300.0, "{line}");
}

/// An HTTP/2 GET of `path`; reads the whole body, or (`abort_after`) stops
/// after that many bytes and cancels the stream. Returns the bytes read.
fn h2_download(addr: SocketAddr, path: &str, abort_after: Option<usize>) -> usize {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        tokio::time::timeout(WAIT, async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let (client, conn) = h2::client::handshake(tcp).await.expect("h2 handshake");
            let conn = tokio::spawn(conn);
            let mut client = client.ready().await.expect("ready");
            let req = Request::builder()
                .uri(format!("http://{addr}{path}"))
                .body(())
                .unwrap();
            let (resp, _) = client.send_request(req, true).expect("send");
            let mut body = resp.await.expect("response").into_body();
            let mut read = 0;
            while let Some(chunk) = body.data().await {
                let chunk: Bytes = chunk.expect("data");
                read += chunk.len();
                let _ = body.flow_control().release_capacity(chunk.len());
                if abort_after.is_some_and(|n| read >= n) {
                    break;
                }
            }
            // Dropping the body resets the stream (CANCEL); the
            // connection stays up long enough to send it.
            drop(body);
            tokio::time::sleep(Duration::from_millis(200)).await;
            conn.abort();
            read
        })
        .await
        .expect("HTTP/2 download took longer than 10s")
    })
}

#[test]
fn http2_lines_have_the_bytes_sent_and_the_time_to_the_end_of_the_body() {
    let dir = TempDir::new();
    // Ten 16 KiB chunks, 100 ms apart: about a second for the whole body.
    let chunk = "x".repeat(16 * 1024);
    let up = Upstream::streaming(&[chunk.as_str(); 10], Duration::from_millis(100));
    let (tg, log) = start(
        &dir,
        &render(
            r#"
listeners: [{name: web, address: 127.0.0.1:0}]
upstreams: [{name: slow, targets: [{address: "{up}"}]}]
routes: [{name: download, upstream: slow}]
"#,
            &[("up", &up.addr())],
        ),
    );
    let total = 10 * 16 * 1024;
    assert_eq!(h2_download(tg.addr("web"), "/full", None), total);
    let full = &lines(&log, 1, |v| v["path"] == "/full")[0];
    assert_eq!(full["bytes_out"], total, "{full}");
    assert_eq!(full["end"], "complete", "{full}");
    assert!(full["duration_ms"].as_f64().unwrap() >= 800.0, "{full}");

    let read = h2_download(tg.addr("web"), "/cancelled", Some(1));
    assert!(read < total);
    let cut = &lines(&log, 1, |v| v["path"] == "/cancelled")[0];
    assert_eq!(cut["end"], "aborted", "{cut}");
    let sent = cut["bytes_out"].as_u64().unwrap();
    assert!(sent > 0 && sent < total as u64, "{cut}");
}

#[test]
fn l4_connections_and_udp_sessions_get_one_line_each_unless_turned_off() {
    let dir = TempDir::new();
    let echo = TcpServer::echo();
    let udp = UdpServer::echo();
    let (tg, log) = start(
        &dir,
        &render(
            r#"
listeners:
  - {name: tcp, address: 127.0.0.1:0, protocol: tcp, upstream: echo}
  - {name: quiet, address: 127.0.0.1:0, protocol: tcp, upstream: echo, access_log: false}
  - {name: dead, address: 127.0.0.1:0, protocol: tcp, upstream: nobody}
  - {name: dns, address: 127.0.0.1:0, protocol: udp, upstream: udp, idle_timeout: 300ms}
upstreams:
  - {name: echo, targets: [{address: "{echo}"}]}
  - {name: nobody, targets: [{address: "127.0.0.1:1"}]}
  - {name: udp, targets: [{address: "{udp}"}]}
"#,
            &[("echo", &echo.addr()), ("udp", &udp.addr())],
        ),
    );
    for name in ["tcp", "quiet"] {
        let mut s = connect(tg.addr(name));
        s.write_all(b"ping\n").unwrap();
        assert_eq!(read_line(&mut s), "ping");
        s.shutdown(Shutdown::Write).unwrap();
        let _ = s.read_to_end(&mut Vec::new());
    }
    let mut s = connect(tg.addr("dead"));
    let _ = s.read_to_end(&mut Vec::new());
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    assert!(udp_exchange(&socket, tg.addr("dns"), b"hi", WAIT).is_some());

    let found = lines(&log, 3, |v| v.get("listener").is_some());
    assert_eq!(found.len(), 3, "{found:?}");
    let by = |name: &str| found.iter().find(|v| v["listener"] == name).cloned();
    assert!(by("quiet").is_none(), "{found:?}");

    let tcp = by("tcp").expect("tcp line");
    assert_eq!(tcp["upstream"], "echo", "{tcp}");
    assert_eq!(tcp["target"], echo.addr().to_string(), "{tcp}");
    assert_eq!(tcp["bytes_in"], 5, "{tcp}");
    assert_eq!(tcp["bytes_out"], 5, "{tcp}");
    assert_eq!(tcp["end"], "closed", "{tcp}");
    assert!(
        tcp["client"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{tcp}"
    );
    assert!(tcp["duration_ms"].as_f64().is_some(), "{tcp}");

    let dead = by("dead").expect("dead line");
    assert_eq!(dead["end"], "no_target", "{dead}");
    assert!(dead["target"].is_null(), "{dead}");

    let session = by("dns").expect("udp line");
    assert_eq!(session["upstream"], "udp", "{session}");
    assert_eq!(session["bytes_in"], 2, "{session}");
    assert!(session["bytes_out"].as_u64().unwrap() > 0, "{session}");
    assert_eq!(session["end"], "idle_timeout", "{session}");
}

#[test]
fn chosen_request_fields_are_written_on_both_protocols() {
    let dir = TempDir::new();
    let up = Upstream::echo();
    let log = dir.path().join("access.log");
    let tg = Tollgate::start(&render(
        r#"
server: {workers: 1, shutdown_timeout: 5s}
access_log: {output: file, path: "{log}", headers: [user-agent, x-client-version]}
listeners: [{name: web, address: "127.0.0.1:0"}]
upstreams: [{name: u, targets: [{address: "{up}"}]}]
routes: [{name: all, upstream: u}]
"#,
        &[("log", &log.display()), ("up", &up.addr())],
    ));
    let web = tg.addr("web");
    let r = tollgate_testkit::request(
        web,
        "GET",
        "/one",
        &[("user-agent", "probe/1"), ("x-client-version", "7")],
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(tollgate_testkit::h2_get(web, "/two").status, 200);
    let lines = lines(&log, 2, |_| true);
    let by_path = |p: &str| lines.iter().find(|l| l["path"] == p).expect(p).clone();
    let one = by_path("/one");
    assert_eq!(one["headers"]["user-agent"], "probe/1");
    assert_eq!(one["headers"]["x-client-version"], "7");
    let two = by_path("/two");
    assert_eq!(two["headers"]["x-client-version"], Value::Null);
    assert!(two["headers"]
        .as_object()
        .unwrap()
        .contains_key("user-agent"));
}

#[test]
fn upstream_time_is_split_into_connect_head_and_body() {
    let dir = TempDir::new();
    let slow = Upstream::slow(Duration::from_millis(200));
    let streaming = Upstream::streaming(&["a", "b", "c"], Duration::from_millis(150));
    let (tg, log) = start(
        &dir,
        &render(
            r#"
listeners: [{name: web, address: 127.0.0.1:0}]
upstreams:
  - {name: slow, targets: [{address: "{slow}"}]}
  - {name: streaming, targets: [{address: "{streaming}"}]}
routes:
  - {name: s, match: {path: {prefix: /slow}}, upstream: slow}
  - {name: b, upstream: streaming}
"#,
            &[("slow", &slow.addr()), ("streaming", &streaming.addr())],
        ),
    );
    let web = tg.addr("web");
    assert_eq!(tollgate_testkit::get(web, "/slow").status, 200);
    assert_eq!(tollgate_testkit::get(web, "/body").status, 200);
    let lines = lines(&log, 2, |_| true);
    let ms = |line: &Value, key: &str| {
        line[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key}: {line}"))
    };
    let by_path = |p: &str| lines.iter().find(|l| l["path"] == p).expect(p).clone();
    // The head waited 200ms; connecting on loopback takes far less.
    let head = by_path("/slow");
    assert!(ms(&head, "upstream_ms") >= 190.0, "{head}");
    assert!(ms(&head, "upstream_connect_ms") < 190.0, "{head}");
    assert!(
        ms(&head, "upstream_body_ms") < ms(&head, "upstream_ms"),
        "{head}"
    );
    // The body came in three chunks 150ms apart, after the head.
    let body = by_path("/body");
    assert!(ms(&body, "upstream_body_ms") >= 250.0, "{body}");
    assert!(
        ms(&body, "upstream_ms") < ms(&body, "upstream_body_ms"),
        "{body}"
    );
}
