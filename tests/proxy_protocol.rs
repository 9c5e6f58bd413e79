//! PROXY protocol v1 and v2: sent to targets by `tcp` listeners, accepted
//! from trusted peers on `http` and `tcp` listeners, ignored from others.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use tollgate_net::proxy_protocol::encode;
use tollgate_net::{ProxyAddresses, ProxyVersion};
use tollgate_testkit::{
    connect, parse_response, read_all, read_line, render, TcpServer, Tollgate, Upstream,
};

/// A `tcp` listener (`listener` written into it) in front of a PROXY
/// protocol echo whose upstream sends `send` (`v1`, `v2`).
fn relay_to_proxy_echo(echo: &TcpServer, listener: &str, send: &str) -> Tollgate {
    Tollgate::start_with_defaults(&render(
        r#"
listeners:
  - name: tcp
    address: 127.0.0.1:0
    protocol: tcp
    upstream: pool
{listener}
upstreams:
  - name: pool
    targets: [{address: "{echo}"}]
    proxy_protocol: {send}
"#,
        &[
            ("echo", &echo.addr()),
            ("listener", &listener),
            ("send", &send),
        ],
    ))
}

fn header(version: ProxyVersion, source: &str, destination: &str) -> Vec<u8> {
    let a = ProxyAddresses {
        source: source.parse().unwrap(),
        destination: destination.parse().unwrap(),
    };
    let mut out = Vec::new();
    encode(version, Some(&a), &mut out);
    out
}

/// Whether the peer closed the connection within 3 s without answering.
fn closed_without_answer(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut b = [0u8; 1];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

#[test]
fn tcp_relays_send_the_client_address_in_v1_and_v2() {
    for version in ["v1", "v2"] {
        let echo = TcpServer::proxy_echo();
        let tg = relay_to_proxy_echo(&echo, "", version);
        let mut s = connect(tg.addr("tcp"));
        let me: SocketAddr = s.local_addr().unwrap();
        assert_eq!(
            read_line(&mut s),
            format!("PROXY {me} {}", tg.addr("tcp")),
            "{version}"
        );
        // The stream after the header is the client's.
        s.write_all(b"payload").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        assert_eq!(read_all(&mut s), b"payload");
    }
}

#[test]
fn a_tcp_listener_passes_on_the_address_a_trusted_proxy_names() {
    for (version, send) in [(ProxyVersion::V1, "v2"), (ProxyVersion::V2, "v1")] {
        let echo = TcpServer::proxy_echo();
        let tg = relay_to_proxy_echo(&echo, "    proxy_protocol: {trusted: [127.0.0.0/8]}", send);
        let mut s = connect(tg.addr("tcp"));
        // Header and data in one write: tollgate takes exactly the header.
        let mut bytes = header(version, "203.0.113.7:5555", "198.51.100.1:5432");
        bytes.extend_from_slice(b"data");
        s.write_all(&bytes).unwrap();
        assert_eq!(
            read_line(&mut s),
            "PROXY 203.0.113.7:5555 198.51.100.1:5432",
            "{version:?}"
        );
        s.shutdown(Shutdown::Write).unwrap();
        assert_eq!(read_all(&mut s), b"data");
    }
}

#[test]
fn an_untrusted_peer_s_header_is_just_bytes() {
    let echo = TcpServer::proxy_echo();
    let tg = relay_to_proxy_echo(&echo, "    proxy_protocol: {trusted: [10.0.0.0/8]}", "v1");
    let mut s = connect(tg.addr("tcp"));
    let me = s.local_addr().unwrap();
    let forged = header(ProxyVersion::V1, "203.0.113.7:5555", "198.51.100.1:80");
    s.write_all(&forged).unwrap();
    assert_eq!(read_line(&mut s), format!("PROXY {me} {}", tg.addr("tcp")));
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut s), forged);

    // On an HTTP listener the bytes are a malformed request: 400.
    let up = Upstream::echo();
    let tg = http_with_proxy_protocol(&up, "10.0.0.0/8");
    let mut s = connect(tg.addr("web"));
    s.write_all(b"PROXY TCP4 203.0.113.7 127.0.0.1 5555 80\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(parse_response(&read_all(&mut s)).status, 400);
    assert_eq!(up.request_count(), 0);
}

fn http_with_proxy_protocol(up: &Upstream, trusted: &str) -> Tollgate {
    Tollgate::start_with_defaults(&render(
        r#"
listeners:
  - name: web
    address: 127.0.0.1:0
    proxy_protocol: {trusted: [{trusted}]}
    limits: {header_read_timeout: 500ms}
upstreams:
  - {name: pool, targets: [{address: "{up}"}]}
routes:
  - {name: all, upstream: pool}
"#,
        &[("up", &up.addr()), ("trusted", &trusted)],
    ))
}

#[test]
fn an_http_listener_takes_the_client_address_from_a_trusted_proxy() {
    let up = Upstream::echo();
    let tg = http_with_proxy_protocol(&up, "127.0.0.1");
    for (version, client) in [
        (ProxyVersion::V1, "203.0.113.7"),
        (ProxyVersion::V2, "2001:db8::7"),
    ] {
        let source = if client.contains(':') {
            format!("[{client}]:4000")
        } else {
            format!("{client}:4000")
        };
        let dest = if client.contains(':') {
            "[2001:db8::1]:80"
        } else {
            "198.51.100.1:80"
        };
        let mut bytes = header(version, &source, dest);
        // Two requests on the connection: the header is read once.
        bytes.extend_from_slice(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n");
        let mut s = connect(tg.addr("web"));
        s.write_all(&bytes).unwrap();
        let first = read_response(&mut s);
        assert_eq!(first.status, 200);
        assert_eq!(first.echo().header("x-forwarded-for"), Some(client));
        s.write_all(b"GET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let second = parse_response(&read_all(&mut s));
        assert_eq!(second.echo().header("x-forwarded-for"), Some(client));
    }
}

#[test]
fn a_trusted_peer_without_a_valid_header_is_closed() {
    let up = Upstream::echo();
    let tg = http_with_proxy_protocol(&up, "127.0.0.1");
    // A plain request where the header should be.
    let mut s = connect(tg.addr("web"));
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert!(closed_without_answer(&mut s));
    // A broken header.
    let mut s = connect(tg.addr("web"));
    s.write_all(b"PROXY TCP4 1.2.3.4 nope 1 2\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(closed_without_answer(&mut s));
    // Nothing at all: closed after header_read_timeout.
    let mut s = connect(tg.addr("web"));
    let started = Instant::now();
    assert!(closed_without_answer(&mut s));
    assert!(started.elapsed() >= Duration::from_millis(450));
    assert_eq!(up.request_count(), 0);
}

#[test]
fn the_header_and_the_first_request_share_header_read_timeout() {
    let up = Upstream::echo();
    let tg = http_with_proxy_protocol(&up, "127.0.0.1");
    // 300ms for the header, then 300ms more for the request: each alone is
    // within the 500ms, together they are not.
    let mut s = connect(tg.addr("web"));
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(&header(
        ProxyVersion::V1,
        "203.0.113.7:4000",
        "198.51.100.1:80",
    ))
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(closed_without_answer(&mut s));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(up.request_count(), 0);
    // Within the time, the same exchange is served.
    let mut s = connect(tg.addr("web"));
    std::thread::sleep(Duration::from_millis(150));
    s.write_all(&header(
        ProxyVersion::V1,
        "203.0.113.7:4000",
        "198.51.100.1:80",
    ))
    .unwrap();
    std::thread::sleep(Duration::from_millis(150));
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut s).status, 200);
}

/// One HTTP/1.1 response read off a kept-alive connection (by its
/// Content-Length; the echo always sends one).
fn read_response(s: &mut TcpStream) -> tollgate_testkit::HttpResponse {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).expect("read response");
        assert!(n > 0, "closed before a whole response");
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap());
        if buf.len() >= end + 4 + len {
            return parse_response(&buf[..end + 4 + len]);
        }
    }
}
