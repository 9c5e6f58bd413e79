//! gRPC end to end: a real tonic server and client with tollgate between
//! them, over h2c and over TLS (both hops): every kind of call, statuses
//! with trailing metadata, deadlines, large messages, and tollgate's own
//! errors arriving as gRPC statuses.

use std::time::{Duration, Instant};

use tollgate_testkit::tonic::Code;
use tollgate_testkit::{
    render, run, unused_addr, EchoMsg, GrpcClient, GrpcServer, TempDir, TestCa, TlsOptions,
    Tollgate,
};

/// tollgate with listener `web` in front of an h2c gRPC server.
fn h2c_proxy(server: &GrpcServer, route_extra: &str) -> Tollgate {
    Tollgate::start_with_defaults(&render(
        r#"
listeners:
  - {name: web, address: 127.0.0.1:0}
upstreams:
  - {name: grpc, protocol: h2c, targets: [{address: "{up}"}]}
routes:
  - {name: all, upstream: grpc, max_body: 16MiB{extra}}
"#,
        &[("up", &server.addr()), ("extra", &route_extra)],
    ))
}

/// Every kind of call through a client connected to tollgate.
async fn exercise(client: &mut GrpcClient) {
    let answer = client.unary(EchoMsg::text("hi"), None).await.unwrap();
    assert_eq!(answer.text, "echo:hi");

    let texts = client.server_stream(3).await.unwrap();
    assert_eq!(texts, ["0", "1", "2"]);

    let joined = client.client_stream(&["a", "b", "c"]).await.unwrap();
    assert_eq!(joined, "a,b,c");

    // Ping-pong: one message in flight at a time, the send side open all
    // along; each answer must arrive before the next message is sent.
    let (tx, mut answers) = client.bidi().await.unwrap();
    for i in 0..5 {
        tx.send(EchoMsg::text(&format!("ping{i}"))).await.unwrap();
        let next = tokio::time::timeout(Duration::from_secs(5), answers.message())
            .await
            .expect("answer while the request stream is still open")
            .unwrap()
            .expect("a message");
        assert_eq!(next.text, format!("echo:ping{i}"));
    }
    drop(tx);
    assert!(answers.message().await.unwrap().is_none(), "clean end");

    // An error status with custom trailing metadata passes unchanged.
    let status = client.unary(EchoMsg::text("fail"), None).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(status.message(), "bad input");
    assert_eq!(status.metadata().get("x-detail").unwrap(), "why");

    // 4 MiB each way.
    let data: Vec<u8> = (0..4 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let msg = EchoMsg {
        text: "big".into(),
        data: data.clone(),
        delay_ms: 0,
    };
    let answer = client.unary(msg, None).await.unwrap();
    assert_eq!(answer.data.len(), data.len());
    assert!(answer.data == data, "payload intact");
}

#[test]
fn every_kind_of_call_over_h2c() {
    let server = GrpcServer::h2c();
    let tg = h2c_proxy(&server, "");
    run(async {
        let mut client = GrpcClient::h2c(tg.addr("web")).await;
        exercise(&mut client).await;
    });
}

#[test]
fn every_kind_of_call_over_tls() {
    let ca = TestCa::new("grpc CA");
    let dir = TempDir::new();
    let ca_file = dir.write("ca.pem", ca.cert_pem());
    let (cert, key) = dir.write_pair("front", &ca.server_cert(&["grpc.test"]));
    let server = GrpcServer::tls(&ca.server_cert(&["backend.internal"]));
    let tg = Tollgate::start_with_defaults(&render(
        r#"
listeners:
  - name: tls
    address: 127.0.0.1:0
    protocol: https
    tls: {certificates: [{cert: "{cert}", key: "{key}"}]}
upstreams:
  - name: grpc
    protocol: h2
    targets: [{address: "{up}"}]
    tls: {ca: "{ca}", server_name: backend.internal}
routes:
  - {name: all, upstream: grpc, max_body: 16MiB}
"#,
        &[
            ("cert", &cert.display()),
            ("key", &key.display()),
            ("up", &server.addr()),
            ("ca", &ca_file.display()),
        ],
    ));
    run(async {
        let opts = TlsOptions::new(&ca, "grpc.test");
        let mut client = GrpcClient::tls(tg.addr("tls"), &opts).await;
        exercise(&mut client).await;
    });
}

#[test]
fn grpc_timeout_is_the_deadline_and_expires_as_deadline_exceeded() {
    let server = GrpcServer::h2c();
    let tg = h2c_proxy(&server, ", timeout: 30s");
    run(async {
        let mut client = GrpcClient::h2c(tg.addr("web")).await;
        let slow = EchoMsg {
            text: "slow".into(),
            data: Vec::new(),
            delay_ms: 10_000,
        };
        let started = Instant::now();
        let status = client
            .unary(slow, Some(Duration::from_millis(300)))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "the client's deadline, not the route's 30 s nor the server's 10 s: {:?}",
            started.elapsed()
        );
        // A deadline longer than the call leaves it alone.
        let quick = EchoMsg {
            text: "quick".into(),
            data: Vec::new(),
            delay_ms: 10,
        };
        let answer = client.unary(quick, Some(Duration::from_secs(20))).await;
        assert_eq!(answer.unwrap().text, "echo:quick");
    });
}

#[test]
fn tollgate_errors_arrive_as_grpc_statuses() {
    let tg = Tollgate::start_with_defaults(&render(
        r#"
listeners:
  - {name: web, address: 127.0.0.1:0}
upstreams:
  - {name: dead, protocol: h2c, targets: [{address: "{dead}"}]}
routes:
  - {name: dead, match: {path: {prefix: /test.Echo/}}, upstream: dead}
"#,
        &[("dead", &unused_addr())],
    ));
    run(async {
        let mut client = GrpcClient::h2c(tg.addr("web")).await;
        let status = client.unary(EchoMsg::text("x"), None).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert!(!status.message().is_empty(), "{status:?}");
    });
    // No route: UNIMPLEMENTED, as a gRPC status rather than a JSON 404.
    let resp = tollgate_testkit::h2_request(
        tg.addr("web"),
        "POST",
        "/other.Service/Call",
        &[("content-type", "application/grpc"), ("te", "trailers")],
        &[0, 0, 0, 0, 0],
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("grpc-status"), Some("12"));
    assert_eq!(resp.header("content-type"), Some("application/grpc"));
    assert!(resp.body.is_empty(), "trailers-only");
    // A plain request still gets the JSON error.
    let resp = tollgate_testkit::h2_get(tg.addr("web"), "/nothing");
    assert_eq!(resp.status, 404);
    assert!(resp.header("grpc-status").is_none());
}

/// The gateway's refusals reach gRPC clients as statuses: no key is
/// UNAUTHENTICATED, a known consumer outside the ACL is PERMISSION_DENIED.
#[test]
fn auth_refusals_arrive_as_grpc_statuses() {
    let server = GrpcServer::h2c();
    let tg = Tollgate::start_with_defaults(&render(
        r#"
listeners:
  - {name: web, address: 127.0.0.1:0}
consumers:
  - {name: outsider, groups: [guests], api_keys: [k-outsider]}
upstreams:
  - {name: grpc, protocol: h2c, targets: [{address: "{up}"}]}
routes:
  - name: all
    upstream: grpc
    policies:
      - key_auth: {}
      - acl: {allow: {groups: [staff]}}
"#,
        &[("up", &server.addr())],
    ));
    let call = |key: Option<&'static str>| {
        let mut headers = vec![("content-type", "application/grpc"), ("te", "trailers")];
        if let Some(k) = key {
            headers.push(("x-api-key", k));
        }
        tollgate_testkit::h2_request(
            tg.addr("web"),
            "POST",
            "/test.Echo/Unary",
            &headers,
            &[0, 0, 0, 0, 0],
        )
    };
    let no_key = call(None);
    assert_eq!(no_key.status, 200);
    assert_eq!(no_key.header("grpc-status"), Some("16"), "UNAUTHENTICATED");
    let outsider = call(Some("k-outsider"));
    assert_eq!(outsider.status, 200);
    assert_eq!(
        outsider.header("grpc-status"),
        Some("7"),
        "PERMISSION_DENIED"
    );
}

/// A rate limit's refusal reaches gRPC clients as RESOURCE_EXHAUSTED.
#[test]
fn rate_limit_refusals_arrive_as_resource_exhausted() {
    let server = GrpcServer::h2c();
    let tg = Tollgate::start_with_defaults(&render(
        r#"
listeners:
  - {name: web, address: 127.0.0.1:0}
upstreams:
  - {name: grpc, protocol: h2c, targets: [{address: "{up}"}]}
routes:
  - name: all
    upstream: grpc
    policies:
      - rate_limit: {limits: [1/min], key: client_ip}
"#,
        &[("up", &server.addr())],
    ));
    run(async {
        let mut client = GrpcClient::h2c(tg.addr("web")).await;
        let answer = client.unary(EchoMsg::text("first"), None).await.unwrap();
        assert_eq!(answer.text, "echo:first");
        let status = client
            .unary(EchoMsg::text("second"), None)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    });
}

/// An h2c server that answers every stream by resetting it with `reason`.
fn resetting_h2_server(reason: h2::Reason) -> std::net::SocketAddr {
    let rt = tollgate_testkit::runtime();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut conn) = h2::server::handshake(stream).await else {
                    return;
                };
                while let Some(Ok((_req, mut respond))) = conn.accept().await {
                    respond.send_reset(reason);
                }
            });
        }
    });
    addr
}

/// A server speaking raw HTTP/2 that, once a request's HEADERS arrived,
/// refuses everything with GOAWAY (last stream 0, `code`) and closes.
fn goaway_server(code: u32) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tollgate_testkit::runtime();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                // Frames start after the 24-byte preface; wait for a HEADERS (type 1).
                let headers_seen = |buf: &[u8]| {
                    let mut at = 24;
                    while buf.len() >= at + 9 {
                        if buf[at + 3] == 1 {
                            return true;
                        }
                        at +=
                            9 + u32::from_be_bytes([0, buf[at], buf[at + 1], buf[at + 2]]) as usize;
                    }
                    false
                };
                while !headers_seen(&buf) {
                    let mut chunk = [0u8; 4096];
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let mut out = vec![0, 0, 0, 4, 0, 0, 0, 0, 0]; // empty SETTINGS
                out.extend_from_slice(&[0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
                out.extend_from_slice(&code.to_be_bytes());
                let _ = stream.write_all(&out).await;
                tokio::time::sleep(Duration::from_millis(500)).await;
            });
        }
    });
    addr
}

#[test]
fn bad_gateway_names_the_upstreams_reset_or_goaway() {
    for (up, expected) in [
        (
            resetting_h2_server(h2::Reason::REFUSED_STREAM),
            "RST_STREAM REFUSED_STREAM",
        ),
        (goaway_server(0xb), "GOAWAY ENHANCE_YOUR_CALM"),
    ] {
        let tg = Tollgate::start_with_defaults(&render(
            r#"
listeners:
  - {name: web, address: 127.0.0.1:0}
upstreams:
  - {name: u, protocol: h2c, targets: [{address: "{up}"}]}
routes:
  - {name: all, upstream: u}
"#,
            &[("up", &up)],
        ));
        let resp = tollgate_testkit::get(tg.addr("web"), "/");
        assert_eq!(resp.status, 502, "{}", resp.text());
        let error = resp.json()["error"].as_str().unwrap().to_owned();
        assert!(error.contains(expected), "{expected}: {error}");
        assert!(error.contains("by the upstream"), "{error}");
    }
}

#[test]
fn access_log_records_grpc_status_of_grpc_calls() {
    let dir = TempDir::new();
    let log = dir.path().join("access.log");
    let server = GrpcServer::h2c();
    let tg = Tollgate::start(&render(
        r#"
server: {workers: 1}
access_log: {output: file, path: "{log}"}
listeners:
  - {name: web, address: 127.0.0.1:0}
  - {name: live, address: 127.0.0.1:0}
upstreams:
  - {name: dead, protocol: h2c, targets: [{address: "{dead}"}]}
  - {name: live, protocol: h2c, targets: [{address: "{live}"}]}
routes:
  - {name: dead, listeners: [web], upstream: dead}
  - {name: live, listeners: [live], upstream: live}
"#,
        &[
            ("dead", &unused_addr()),
            ("live", &server.addr()),
            ("log", &log.display()),
        ],
    ));
    run(async {
        let mut client = GrpcClient::h2c(tg.addr("web")).await;
        let status = client.unary(EchoMsg::text("x"), None).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
    });
    let plain = tollgate_testkit::h2_get(tg.addr("web"), "/plain");
    assert_eq!(plain.status, 502);
    // A streamed answer's status comes in its trailers.
    run(async {
        let mut client = GrpcClient::h2c(tg.addr("live")).await;
        assert_eq!(client.server_stream(2).await.unwrap(), ["0", "1"]);
    });
    let lines = tollgate_testkit::wait_json_lines(&log, 3, Duration::from_secs(10));
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["path"], "/test.Echo/Unary");
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[0]["grpc_status"], 14);
    assert!(lines[1].get("grpc_status").is_none(), "{:?}", lines[1]);
    assert_eq!(lines[2]["route"], "live");
    assert_eq!(lines[2]["grpc_status"], 0, "{:?}", lines[2]);
}
