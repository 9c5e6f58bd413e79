//! The upstream side: connection pooling, h2c, body streaming both ways,
//! `Expect: 100-continue`, timeouts and failures, WebSocket tunnels, and
//! HTTP/2 clients.

use std::io::Write;
use std::time::{Duration, Instant};

use tollgate_testkit::{
    connect, get, h2_get, h2_request, parse_response, parse_status, raw_request, read_all,
    read_until, render, request, unused_addr, websocket_accept, Tollgate, Upstream, WEBSOCKET_KEY,
};

/// tollgate with listener `web` and one upstream `u` (extra upstream
/// settings in `upstream_extra`, e.g. `protocol: h2c`) at `addr`, and
/// `routes` (default: everything to `u`).
fn proxy_to(addr: std::net::SocketAddr, upstream_extra: &str, routes: Option<&str>) -> Tollgate {
    Tollgate::start_with_defaults(&render(
        r#"
listeners:
  - {name: web, address: 127.0.0.1:0}
upstreams:
  - {name: u, targets: [{address: "{addr}"}]{extra}}
routes:
{routes}"#,
        &[
            ("addr", &addr),
            ("extra", &upstream_extra),
            (
                "routes",
                &routes.unwrap_or("  - {name: all, upstream: u}\n"),
            ),
        ],
    ))
}

fn assert_json_error(resp: &tollgate_testkit::HttpResponse, status: u16) {
    assert_eq!(resp.status, status, "{}", resp.text());
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let body = resp.json();
    assert!(body["error"].is_string(), "{body}");
    assert_eq!(
        body["request_id"].as_str(),
        resp.header("x-request-id"),
        "{body}"
    );
}

#[test]
fn keep_alive_connections_are_pooled() {
    let up = Upstream::echo();
    let tg = proxy_to(up.addr(), "", None);
    for i in 0..5 {
        let resp = get(tg.addr("web"), &format!("/req/{i}"));
        assert_eq!(resp.status, 200);
        assert_eq!(resp.echo().path, format!("/req/{i}"));
    }
    assert_eq!(up.request_count(), 5);
    assert_eq!(up.connection_count(), 1, "upstream connection not reused");
}

#[test]
fn pool_max_idle_zero_disables_pooling() {
    let up = Upstream::echo();
    let tg = proxy_to(up.addr(), ", pool: {max_idle: 0}", None);
    for _ in 0..3 {
        assert_eq!(get(tg.addr("web"), "/").status, 200);
    }
    assert_eq!(up.connection_count(), 3);
}

#[test]
fn h2c_upstream() {
    let up = Upstream::h2c_echo();
    let tg = proxy_to(up.addr(), ", protocol: h2c", None);
    for i in 0..3 {
        let resp = get(tg.addr("web"), &format!("/h2/{i}?x=1"));
        assert_eq!(resp.status, 200, "{}", resp.text());
        let echo = resp.echo();
        assert_eq!(echo.version, "HTTP/2.0");
        assert_eq!(echo.path, format!("/h2/{i}?x=1"));
        assert_eq!(resp.header("x-upstream-id"), Some(up.id()));
    }
    let body = vec![b'z'; 200_000];
    let resp = request(tg.addr("web"), "POST", "/upload", &[], &body);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.echo().body_len, 200_000);
    assert_eq!(up.connection_count(), 1, "h2c session not shared");
}

#[test]
fn request_body_with_content_length_is_forwarded() {
    let up = Upstream::echo();
    let tg = proxy_to(up.addr(), "", None);
    let body: Vec<u8> = (0..1 << 20).map(|i| b'a' + (i % 26) as u8).collect();
    let resp = request(tg.addr("web"), "POST", "/upload", &[], &body);
    assert_eq!(resp.status, 200);
    let echo = resp.echo();
    assert_eq!(echo.body_len, 1 << 20);
    assert_eq!(echo.header("content-length"), Some("1048576"));
    assert_eq!(up.last_request().body.as_ref(), body.as_slice());
}

#[test]
fn chunked_request_body_is_forwarded() {
    let up = Upstream::echo();
    let tg = proxy_to(up.addr(), "", None);
    let mut stream = connect(tg.addr("web"));
    stream
        .write_all(
            b"POST /chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let piece = vec![b'q'; 64 * 1024];
    for _ in 0..16 {
        write!(stream, "{:x}\r\n", piece.len()).unwrap();
        stream.write_all(&piece).unwrap();
        stream.write_all(b"\r\n").unwrap();
    }
    stream.write_all(b"0\r\n\r\n").unwrap();
    let resp = parse_response(&read_all(&mut stream));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.echo().body_len, 1 << 20);
    assert_eq!(up.last_request().body.len(), 1 << 20);
}

#[test]
fn response_body_is_streamed() {
    let up = Upstream::streaming(
        &["first-piece;", "second;", "third;", "last."],
        Duration::from_millis(400),
    );
    let tg = proxy_to(up.addr(), "", None);
    let start = Instant::now();
    let mut stream = connect(tg.addr("web"));
    stream
        .write_all(b"GET /stream HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .unwrap();
    let first = read_until(&mut stream, b"first-piece;");
    let first_at = Instant::now();
    let rest = read_all(&mut stream);
    let times = up.chunk_times();
    assert_eq!(times.len(), 4);
    assert!(
        first_at < times[3],
        "the first piece only arrived after the last was sent"
    );
    assert!(
        first_at - start < Duration::from_millis(1000),
        "first piece took {:?}",
        first_at - start
    );
    let text = String::from_utf8_lossy(&[first, rest].concat()).into_owned();
    assert!(text.contains("last."), "{text}");
}

#[test]
fn expect_100_continue() {
    let up = Upstream::echo();
    let tg = proxy_to(up.addr(), "", None);
    let mut stream = connect(tg.addr("web"));
    stream
        .write_all(
            b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let interim = read_until(&mut stream, b"\r\n\r\n");
    assert!(
        interim.starts_with(b"HTTP/1.1 100 Continue\r\n"),
        "{:?}",
        String::from_utf8_lossy(&interim)
    );
    assert_eq!(up.request_count(), 0);
    stream.write_all(b"hello").unwrap();
    let resp = parse_response(&read_all(&mut stream));
    assert_eq!(resp.status, 200, "{}", resp.text());
    let echo = resp.echo();
    assert_eq!(echo.body, "hello");
    assert!(!echo.has_header("expect"), "Expect forwarded upstream");
}

#[test]
fn slow_upstream_beyond_response_header_timeout_is_504() {
    let up = Upstream::slow(Duration::from_secs(3));
    let tg = proxy_to(up.addr(), ", timeouts: {response_header: 300ms}", None);
    let start = Instant::now();
    let resp = get(tg.addr("web"), "/");
    assert_json_error(&resp, 504);
    assert!(start.elapsed() < Duration::from_millis(2500));
}

#[test]
fn route_timeout_is_504() {
    let up = Upstream::slow(Duration::from_secs(3));
    let tg = proxy_to(
        up.addr(),
        "",
        Some("  - {name: all, upstream: u, timeout: 300ms}\n"),
    );
    let start = Instant::now();
    let resp = get(tg.addr("web"), "/");
    assert_json_error(&resp, 504);
    assert!(start.elapsed() < Duration::from_millis(2500));
}

#[test]
fn dead_upstream_is_502() {
    let tg = proxy_to(unused_addr(), "", None);
    assert_json_error(&get(tg.addr("web"), "/"), 502);
    // The connection to the client stays usable for the next request.
    assert_json_error(&get(tg.addr("web"), "/"), 502);
}

#[test]
fn upstream_closing_without_answer_is_502() {
    let up = Upstream::closing();
    let tg = proxy_to(up.addr(), "", None);
    assert_json_error(&get(tg.addr("web"), "/"), 502);
    assert!(up.connection_count() >= 1);
}

#[test]
fn websocket_upgrade_is_tunnelled() {
    let up = Upstream::websocket_echo();
    let tg = proxy_to(up.addr(), "", None);
    let mut stream = connect(tg.addr("web"));
    write!(
        stream,
        "GET /chat HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {WEBSOCKET_KEY}\r\n\r\n"
    )
    .unwrap();
    let head = read_until(&mut stream, b"\r\n\r\n");
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert_eq!(parse_status(&head), 101, "{text}");
    assert!(text.contains("upgrade: websocket"), "{text}");
    assert!(
        text.contains(&format!(
            "sec-websocket-accept: {}",
            websocket_accept(WEBSOCKET_KEY).to_ascii_lowercase()
        )),
        "{text}"
    );
    let seen = up.last_request();
    assert_eq!(seen.headers["upgrade"], "websocket");
    assert_eq!(seen.path, "/chat");

    for msg in [
        &b"\x81\x05hello"[..],
        b"second message",
        &[0u8, 255, 13, 10],
    ] {
        stream.write_all(msg).unwrap();
        let back = read_until(&mut stream, msg);
        assert_eq!(back, msg);
    }
}

#[test]
fn an_idle_websocket_tunnel_is_closed_after_read_idle() {
    let up = Upstream::websocket_echo();
    let tg = proxy_to(up.addr(), ", timeouts: {read_idle: 300ms}", None);
    let mut stream = connect(tg.addr("web"));
    write!(
        stream,
        "GET /chat HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {WEBSOCKET_KEY}\r\n\r\n"
    )
    .unwrap();
    assert_eq!(parse_status(&read_until(&mut stream, b"\r\n\r\n")), 101);
    // Traffic keeps it open past the idle time…
    for _ in 0..4 {
        std::thread::sleep(std::time::Duration::from_millis(150));
        stream.write_all(b"ping").unwrap();
        assert_eq!(read_until(&mut stream, b"ping"), b"ping");
    }
    // …silence closes it.
    let started = std::time::Instant::now();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(std::io::Read::read(&mut stream, &mut buf).unwrap_or(0), 0);
    let waited = started.elapsed();
    assert!(waited < std::time::Duration::from_secs(2), "{waited:?}");
}

#[test]
fn http2_client_to_tollgate() {
    let up = Upstream::echo();
    let tg = proxy_to(
        up.addr(),
        "",
        Some(
            "  - {name: fixed, match: {path: {exact: /fixed}}, respond: {status: 201, body: made}}\n  - {name: all, upstream: u}\n",
        ),
    );
    let resp = h2_get(tg.addr("web"), "/fixed");
    assert_eq!(resp.version, tollgate_testkit::http::Version::HTTP_2);
    assert_eq!(resp.status, 201);
    assert_eq!(resp.text(), "made");

    let resp = h2_request(
        tg.addr("web"),
        "POST",
        "/up?x=1",
        &[("host", "app.test"), ("x-test", "1")],
        &vec![b'b'; 100_000],
    );
    assert_eq!(resp.version, tollgate_testkit::http::Version::HTTP_2);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let echo = resp.echo();
    assert_eq!(echo.method, "POST");
    assert_eq!(echo.path, "/up?x=1");
    assert_eq!(echo.version, "HTTP/1.1");
    assert_eq!(echo.header("host"), Some("app.test"));
    assert_eq!(echo.header("x-test"), Some("1"));
    assert_eq!(echo.body_len, 100_000);
}

#[test]
fn http10_client_gets_close_delimited_streaming_answer() {
    let up = Upstream::streaming(&["a", "b"], Duration::from_millis(50));
    let tg = proxy_to(up.addr(), "", None);
    let raw = raw_request(tg.addr("web"), b"GET / HTTP/1.0\r\nHost: h\r\n\r\n");
    let resp = parse_response(&raw);
    assert_eq!(resp.status, 200);
    assert!(resp.header("transfer-encoding").is_none());
    assert_eq!(resp.text(), "ab");
}

/// A raw HTTP/1.1 upstream that answers every connection with `answer` as
/// soon as the request head arrived, then holds the connection open
/// without reading any body for `hold`.
fn answering_after_head(answer: &'static [u8], hold: Duration) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                read_until(&mut stream, b"\r\n\r\n");
                let _ = stream.write_all(answer);
                std::thread::sleep(hold);
            });
        }
    });
    addr
}

#[test]
fn early_final_answer_from_an_h1_upstream_reaches_the_client_at_once() {
    let up = answering_after_head(
        b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 8\r\n\r\ntoo big\n",
        Duration::from_secs(15),
    );
    let tg = proxy_to(up, "", None);
    let mut client = connect(tg.addr("web"));
    // Announces 8 MiB (under the route's limit), sends 64 KiB of it, then
    // waits for the answer.
    client
        .write_all(b"POST /upload HTTP/1.1\r\nhost: a\r\ncontent-length: 8388608\r\n\r\n")
        .unwrap();
    client.write_all(&vec![b'x'; 64 * 1024]).unwrap();
    let started = Instant::now();
    let got = read_until(&mut client, b"too big\n");
    let resp = parse_response(&got);
    assert_eq!(resp.status, 413, "{}", String::from_utf8_lossy(&got));
    assert_eq!(resp.text(), "too big\n");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the answer came without waiting for the body: {:?}",
        started.elapsed()
    );
    // The rest of the body will not be read: the connection closes.
    assert_eq!(resp.header("connection"), Some("close"));
}

/// A raw HTTP/1.1 upstream that answers each connection with 103, 102 and
/// 100 interim heads, then after `pause` a cacheable 200 `hello`.
fn interim_upstream(
    pause: Duration,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let served = std::sync::Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut stream) = stream else { return };
            count.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                read_until(&mut stream, b"\r\n\r\n");
                let _ = stream.write_all(
                    b"HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n\
                      HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n",
                );
                std::thread::sleep(pause);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
                );
            });
        }
    });
    (addr, served)
}

#[test]
fn interim_answers_are_forwarded_at_once_and_never_cached() {
    let (up, served) = interim_upstream(Duration::from_millis(800));
    let tg = proxy_to(
        up,
        "",
        Some("  - name: all\n    upstream: u\n    policies: [{cache: {}}]\n"),
    );
    let mut client = connect(tg.addr("web"));
    client
        .write_all(b"GET /page HTTP/1.1\r\nhost: a\r\n\r\n")
        .unwrap();
    let early = read_until(&mut client, b"rel=preload\r\n\r\n");
    let early_text = String::from_utf8_lossy(&early).into_owned();
    assert!(
        early_text.starts_with("HTTP/1.1 103 Early Hints\r\n"),
        "{early_text}"
    );
    assert!(
        !early_text.contains("200 OK"),
        "the hint arrived before the final answer: {early_text}"
    );
    let mut all = early;
    all.extend_from_slice(&read_until(&mut client, b"hello"));
    let text = String::from_utf8_lossy(&all).into_owned();
    let at_102 = text.find("HTTP/1.1 102 Processing\r\n\r\n").expect(&text);
    let at_100 = text.find("HTTP/1.1 100 Continue\r\n\r\n").expect(&text);
    let at_200 = text.find("HTTP/1.1 200 OK\r\n").expect(&text);
    assert!(at_102 < at_100 && at_100 < at_200, "in order: {text}");
    let last = parse_response(&all[at_200..]);
    assert_eq!(last.text(), "hello");
    assert_eq!(last.header("content-length"), Some("5"));

    // The cached copy answers without the interim heads.
    let again = raw_request(
        tg.addr("web"),
        b"GET /page HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n",
    );
    let again_text = String::from_utf8_lossy(&again).into_owned();
    assert!(
        again_text.starts_with("HTTP/1.1 200 OK\r\n"),
        "{again_text}"
    );
    assert!(
        again_text.contains("hit"),
        "served from the cache: {again_text}"
    );
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1);

    // HTTP/1.0 clients get the final answer only (RFC 9110 §15.2).
    let old = raw_request(tg.addr("web"), b"GET /other HTTP/1.0\r\nhost: a\r\n\r\n");
    let old_text = String::from_utf8_lossy(&old).into_owned();
    assert!(old_text.starts_with("HTTP/1.1 200 OK\r\n"), "{old_text}");
}

/// What an HTTP/2 client saw of one `GET path`: the interim answers in the
/// order they came (status, `link`), then the final status, its
/// `cache-status` and body.
struct H2Seen {
    interim: Vec<(u16, Option<String>)>,
    status: u16,
    cache_status: Option<String>,
    body: Vec<u8>,
}

/// One `GET path` over HTTP/2 (prior knowledge) with the `h2` crate, which,
/// unlike hyper's client, hands interim answers over
/// (`poll_informational` returns them only while the final head has not
/// arrived, so what it returns came before it).
fn h2_get_with_interim(addr: std::net::SocketAddr, path: &str) -> H2Seen {
    use tollgate_testkit::bytes::Bytes;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let uri = format!("http://{addr}{path}");
    rt.block_on(async move {
        tokio::time::timeout(Duration::from_secs(10), async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let (client, conn) = h2::client::handshake(tcp).await.expect("h2 handshake");
            let conn = tokio::spawn(conn);
            let mut client: h2::client::SendRequest<Bytes> = client.ready().await.expect("ready");
            let req = tollgate_testkit::http::Request::builder()
                .uri(uri)
                .body(())
                .expect("request");
            let (mut answer, _) = client.send_request(req, true).expect("send");
            let mut interim = Vec::new();
            while let Some(head) = std::future::poll_fn(|cx| answer.poll_informational(cx)).await {
                let head = head.expect("interim answer");
                let link = head
                    .headers()
                    .get("link")
                    .map(|v| v.to_str().unwrap().to_owned());
                interim.push((head.status().as_u16(), link));
            }
            let resp = answer.await.expect("final answer");
            let status = resp.status().as_u16();
            let cache_status = resp
                .headers()
                .get("cache-status")
                .map(|v| v.to_str().unwrap().to_owned());
            let mut recv = resp.into_body();
            let mut body = Vec::new();
            while let Some(data) = recv.data().await {
                let data = data.expect("body");
                let _ = recv.flow_control().release_capacity(data.len());
                body.extend_from_slice(&data);
            }
            conn.abort();
            H2Seen {
                interim,
                status,
                cache_status,
                body,
            }
        })
        .await
        .expect("HTTP/2 exchange took longer than 10s")
    })
}

#[test]
fn interim_answers_reach_http2_clients_and_are_never_cached() {
    let (up, served) = interim_upstream(Duration::from_millis(300));
    let tg = proxy_to(
        up,
        "",
        Some("  - name: all\n    upstream: u\n    policies: [{cache: {}}]\n"),
    );
    let seen = h2_get_with_interim(tg.addr("web"), "/page");
    assert_eq!(
        seen.interim,
        vec![
            (103, Some("</style.css>; rel=preload".to_owned())),
            (102, None),
            (100, None),
        ],
        "the interim answers, in order, before the final one"
    );
    assert_eq!(seen.status, 200);
    assert_eq!(seen.body, b"hello");

    // The cached copy answers without the interim answers.
    let again = h2_get_with_interim(tg.addr("web"), "/page");
    assert!(again.interim.is_empty(), "{:?}", again.interim);
    assert_eq!(again.status, 200);
    assert_eq!(again.body, b"hello");
    assert!(
        again
            .cache_status
            .as_deref()
            .is_some_and(|s| s.contains("hit")),
        "served from the cache: {:?}",
        again.cache_status
    );
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// An h2c upstream (the `h2` crate's server, which can send interim
/// answers) answering every request with 103 (a `link` field) and 100,
/// then after `pause` a cacheable 200 `hello` ending in a trailer; counts
/// the requests it served.
fn h2c_interim_upstream(
    pause: Duration,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tollgate_testkit::bytes::Bytes;
    use tollgate_testkit::http::Response;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let served = std::sync::Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            // Bounded: the test needs one connection; a few more cost nothing.
            for _ in 0..4 {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let count = count.clone();
                tokio::spawn(async move {
                    let Ok(mut conn) = h2::server::handshake(tcp).await else {
                        return;
                    };
                    while let Some(Ok((_req, mut respond))) = conn.accept().await {
                        count.fetch_add(1, Ordering::SeqCst);
                        tokio::spawn(async move {
                            let hint = Response::builder()
                                .status(103)
                                .header("link", "</app.js>; rel=preload")
                                .body(())
                                .unwrap();
                            respond.send_informational(hint).unwrap();
                            let go_on = Response::builder().status(100).body(()).unwrap();
                            respond.send_informational(go_on).unwrap();
                            tokio::time::sleep(pause).await;
                            let head = Response::builder()
                                .status(200)
                                .header("cache-control", "max-age=60")
                                .body(())
                                .unwrap();
                            let mut tx = respond.send_response(head, false).unwrap();
                            tx.send_data(Bytes::from_static(b"hello"), false).unwrap();
                            let mut trailers = tollgate_testkit::http::HeaderMap::new();
                            trailers.insert("x-done", "yes".parse().unwrap());
                            let _ = tx.send_trailers(trailers);
                        });
                    }
                });
            }
        });
    });
    (addr, served)
}

#[test]
fn interim_answers_from_an_h2_upstream_reach_http2_and_http11_clients() {
    let (up, served) = h2c_interim_upstream(Duration::from_millis(200));
    let tg = proxy_to(up, ", protocol: h2c", None);
    let seen = h2_get_with_interim(tg.addr("web"), "/h2");
    assert_eq!(
        seen.interim,
        vec![
            (103, Some("</app.js>; rel=preload".to_owned())),
            (100, None)
        ],
        "the interim answers, in order, before the final one"
    );
    assert_eq!(seen.status, 200);
    assert_eq!(seen.body, b"hello");

    let mut client = connect(tg.addr("web"));
    client
        .write_all(b"GET /h1 HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
        .unwrap();
    let all = read_all(&mut client);
    let text = String::from_utf8_lossy(&all).into_owned();
    let at_103 = text.find("HTTP/1.1 103 Early Hints\r\n").expect(&text);
    let at_100 = text.find("HTTP/1.1 100 Continue\r\n\r\n").expect(&text);
    let at_200 = text.find("HTTP/1.1 200 OK\r\n").expect(&text);
    assert!(at_103 < at_100 && at_100 < at_200, "in order: {text}");
    assert!(text[at_103..at_100].contains("rel=preload"), "{text}");
    assert!(text[at_200..].contains("hello"), "{text}");

    // With a request body the HTTP/1.1 connection is busy until the body
    // is sent: the interim answers come after that, still before the final.
    let mut client = connect(tg.addr("web"));
    client
        .write_all(
            b"POST /up HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\nconnection: close\r\n\r\nabcde",
        )
        .unwrap();
    let all = read_all(&mut client);
    let text = String::from_utf8_lossy(&all).into_owned();
    let at_103 = text.find("HTTP/1.1 103 Early Hints\r\n").expect(&text);
    let at_200 = text.find("HTTP/1.1 200 OK\r\n").expect(&text);
    assert!(at_103 < at_200, "in order: {text}");
    assert!(text[at_200..].contains("hello"), "{text}");
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 3);
}
