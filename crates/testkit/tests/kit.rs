//! The kit's own servers and clients, tested directly (no tollgate), so a
//! failing tollgate test can be told apart from a broken kit.

use std::io::Write;
use std::time::{Duration, Instant};

use tollgate_testkit::{
    connect, get, h2_get, parse_response, parse_status, raw_request, read_all, read_until, request,
    websocket_accept, Upstream, WEBSOCKET_KEY,
};

#[test]
fn echo_reports_the_request() {
    let up = Upstream::echo();
    let resp = request(
        up.addr(),
        "POST",
        "/a/b?c=d",
        &[("x-one", "1"), ("x-one", "2")],
        b"body!",
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-upstream-id"), Some(up.id()));
    let echo = resp.echo();
    assert_eq!(echo.method, "POST");
    assert_eq!(echo.path, "/a/b?c=d");
    assert_eq!(echo.header_all("x-one"), ["1", "2"]);
    assert_eq!(echo.body_len, 5);
    assert_eq!(echo.body, "body!");
    assert_eq!(up.request_count(), 1);
    assert_eq!(up.connection_count(), 1);
    assert_eq!(up.last_request().body.as_ref(), b"body!");
}

#[test]
fn status_slow_and_extra_headers() {
    let up = Upstream::status(404);
    assert_eq!(get(up.addr(), "/").status, 404);
    let up = Upstream::status(204);
    let resp = get(up.addr(), "/");
    assert_eq!(resp.status, 204);
    assert!(resp.body.is_empty());

    let up = Upstream::slow(Duration::from_millis(300));
    let start = Instant::now();
    assert_eq!(get(up.addr(), "/").status, 200);
    assert!(start.elapsed() >= Duration::from_millis(300));

    let up = Upstream::with_headers(&[("Server", "x"), ("X-A", "b")]);
    let resp = get(up.addr(), "/");
    assert_eq!(resp.header("server"), Some("x"));
    assert_eq!(resp.header("x-a"), Some("b"));
}

#[test]
fn streaming_sends_pieces_over_time() {
    let up = Upstream::streaming(&["one;", "two;", "three."], Duration::from_millis(300));
    let mut s = connect(up.addr());
    s.write_all(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .unwrap();
    let start = Instant::now();
    read_until(&mut s, b"one;");
    assert!(start.elapsed() < Duration::from_millis(250));
    let rest = read_all(&mut s);
    assert!(start.elapsed() >= Duration::from_millis(550));
    assert!(String::from_utf8_lossy(&rest).contains("three."));
    assert_eq!(up.chunk_times().len(), 3);
}

#[test]
fn closing_closes() {
    let up = Upstream::closing();
    let out = raw_request(up.addr(), b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert!(out.is_empty());
    assert_eq!(up.connection_count(), 1);
}

#[test]
fn websocket_echo_handshake_and_bytes() {
    let up = Upstream::websocket_echo();
    let mut s = connect(up.addr());
    write!(
        s,
        "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: {WEBSOCKET_KEY}\r\n\r\n"
    )
    .unwrap();
    let head = read_until(&mut s, b"\r\n\r\n");
    assert_eq!(parse_status(&head), 101);
    let text = String::from_utf8_lossy(&head);
    assert!(text.contains(&websocket_accept(WEBSOCKET_KEY)), "{text}");
    s.write_all(b"ping").unwrap();
    assert_eq!(read_until(&mut s, b"ping"), b"ping");

    let plain = raw_request(up.addr(), b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(parse_status(&plain), 400);
}

#[test]
fn h2c_echo_speaks_http2() {
    let up = Upstream::h2c_echo();
    let resp = h2_get(up.addr(), "/x?y=1");
    assert_eq!(resp.status, 200);
    let echo = resp.echo();
    assert_eq!(echo.version, "HTTP/2.0");
    assert_eq!(echo.path, "/x?y=1");
}

#[test]
fn parse_response_decodes_chunked() {
    let resp = parse_response(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n",
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "abcde");
    assert_eq!(resp.header("x-a"), Some("1"));
}

#[test]
fn upstream_stops_on_drop() {
    let up = Upstream::echo();
    let addr = up.addr();
    drop(up);
    let deadline = Instant::now() + Duration::from_secs(2);
    while std::net::TcpStream::connect(addr).is_ok() {
        assert!(Instant::now() < deadline, "upstream still accepting");
        std::thread::sleep(Duration::from_millis(10));
    }
}
