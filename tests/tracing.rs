//! Tracing: W3C `traceparent` / `tracestate` propagated to upstreams, a
//! server span per request and a client span per upstream attempt, sent
//! with OTLP over HTTP to the testkit's receiver and decoded there with
//! the OpenTelemetry protobuf types; sampling, a full export queue, a
//! collector that is down, the trace id in the access log.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tollgate_testkit::serde_json::Value;
use tollgate_testkit::{
    get, h2_get, render, request, unused_addr, wait_json_lines, OtlpReceiver, ReceivedSpan, Reply,
    TempDir, Tollgate, Upstream,
};

const WAIT: Duration = Duration::from_secs(10);
const PARENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN: &str = "00f067aa0ba902b7";

/// tollgate in front of `up` (route `api` on `/api/`), exporting to
/// `endpoint` with `tracing` settings added to the block.
fn start(up: &Upstream, endpoint: &str, tracing: &str, upstream_extra: &str) -> Tollgate {
    Tollgate::start(&render(
        r#"
server: {workers: 1, shutdown_timeout: 5s}
access_log: {output: off}
tracing:
  otlp: {endpoint: "{endpoint}", timeout: 2s}
  batch_delay: 20ms
  service_name: edge-test
{tracing}
listeners: [{name: web, address: 127.0.0.1:0}]
upstreams:
  - name: u
    targets: [{address: "{up}"}]
{extra}
routes:
  - {name: api, match: {path: {prefix: /api}}, upstream: u}
"#,
        &[
            ("endpoint", &endpoint),
            ("tracing", &tracing),
            ("up", &up.addr()),
            ("extra", &upstream_extra),
        ],
    ))
}

/// The `traceparent` an upstream request carried, split in its four parts.
fn sent_traceparent(req: &tollgate_testkit::RecordedRequest) -> Vec<String> {
    let v = req
        .headers
        .get("traceparent")
        .expect("the upstream gets a traceparent")
        .to_str()
        .unwrap();
    assert_eq!(v.len(), 55, "{v}");
    v.split('-').map(str::to_string).collect()
}

fn by_kind<'s>(spans: &'s [ReceivedSpan], kind: &str) -> Vec<&'s ReceivedSpan> {
    spans.iter().filter(|s| s.kind() == kind).collect()
}

#[test]
fn spans_link_the_callers_span_the_server_span_and_the_client_span() {
    let up = Upstream::echo();
    let otlp = OtlpReceiver::start();
    let tg = start(&up, &otlp.endpoint(), "", "");
    let incoming = format!("00-{PARENT_TRACE}-{PARENT_SPAN}-01");
    let resp = request(
        tg.addr("web"),
        "GET",
        "/api/users?id=7",
        &[
            ("traceparent", &incoming),
            ("tracestate", "vendor=abc"),
            ("user-agent", "trace-test/1"),
        ],
        b"",
    );
    assert_eq!(resp.status, 200);
    let spans = otlp.wait_spans(2, WAIT);
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let server = by_kind(&spans, "server")[0];
    let client = by_kind(&spans, "client")[0];

    // One trace: the caller's; the caller's span is the server span's parent,
    // the server span the client span's parent.
    assert_eq!(server.trace_id(), PARENT_TRACE);
    assert_eq!(client.trace_id(), PARENT_TRACE);
    assert_eq!(server.parent_id(), PARENT_SPAN);
    assert_eq!(client.parent_id(), server.span_id());
    assert_ne!(server.span_id(), PARENT_SPAN);
    // The upstream got tollgate's field, not the client's: the client span
    // as parent, sampled, and the caller's tracestate as it came.
    let seen = up.last_request();
    let parts = sent_traceparent(&seen);
    assert_eq!(parts, ["00", PARENT_TRACE, &client.span_id(), "01"]);
    assert_eq!(
        seen.headers.get("tracestate").unwrap().to_str().unwrap(),
        "vendor=abc"
    );
    assert_eq!(server.span.trace_state, "vendor=abc");

    // Names and attributes per the OpenTelemetry HTTP conventions.
    assert_eq!(server.span.name, "GET /api/*");
    assert_eq!(server.service_name, "edge-test");
    for (key, want) in [
        ("http.request.method", "GET"),
        ("url.path", "/api/users"),
        ("url.scheme", "http"),
        ("http.route", "/api/*"),
        ("http.response.status_code", "200"),
        ("network.peer.address", "127.0.0.1"),
        ("client.address", "127.0.0.1"),
        ("network.protocol.version", "1.1"),
        ("user_agent.original", "trace-test/1"),
        ("tollgate.route", "api"),
    ] {
        assert_eq!(server.attr(key).as_deref(), Some(want), "server {key}");
    }
    assert_eq!(server.attr("server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(server.attr("error.type"), None);
    assert_eq!(client.span.name, "GET");
    let port = up.addr().port().to_string();
    for (key, want) in [
        ("http.request.method", "GET"),
        ("server.address", "127.0.0.1"),
        ("server.port", port.as_str()),
        ("http.response.status_code", "200"),
    ] {
        assert_eq!(client.attr(key).as_deref(), Some(want), "client {key}");
    }
    assert_eq!(
        client.attr("url.full"),
        Some(format!("http://{}/api/users?id=7", up.addr()))
    );
    assert_eq!(client.attr("http.request.resend_count"), None);
    // The client span lies within the server span.
    assert!(client.span.start_time_unix_nano >= server.span.start_time_unix_nano);
    assert!(client.span.end_time_unix_nano <= server.span.end_time_unix_nano);
}

#[test]
fn a_missing_or_invalid_traceparent_starts_a_new_trace() {
    let up = Upstream::echo();
    let otlp = OtlpReceiver::start();
    let tg = start(&up, &otlp.endpoint(), "", "");
    // An all-zero parent id is invalid: ignored with its tracestate.
    let invalid = format!("00-{PARENT_TRACE}-0000000000000000-01");
    let headers = [("traceparent", invalid.as_str()), ("tracestate", "v=1")];
    assert_eq!(
        request(tg.addr("web"), "GET", "/api/a", &headers, b"").status,
        200
    );
    assert_eq!(get(tg.addr("web"), "/api/b").status, 200);
    let spans = otlp.wait_spans(4, WAIT);
    let servers = by_kind(&spans, "server");
    assert_eq!(servers.len(), 2);
    for s in &servers {
        assert_ne!(s.trace_id(), PARENT_TRACE);
        assert_ne!(s.trace_id(), "0".repeat(32));
        assert_eq!(s.parent_id(), "", "a new trace's server span is its root");
    }
    assert_ne!(servers[0].trace_id(), servers[1].trace_id());
    for seen in up.requests() {
        let parts = sent_traceparent(&seen);
        assert!(servers.iter().any(|s| s.trace_id() == parts[1]));
        assert_eq!(parts[3], "01");
        assert!(seen.headers.get("tracestate").is_none());
    }
}

#[test]
fn each_retry_is_its_own_client_span_with_its_resend_count() {
    // The first request fails with 503, every later one succeeds.
    let calls = Arc::new(AtomicUsize::new(0));
    let n = calls.clone();
    let up = Upstream::scripted(move |_| match n.fetch_add(1, Ordering::SeqCst) {
        0 => Reply::new(503),
        _ => Reply::ok("fine"),
    });
    let otlp = OtlpReceiver::start();
    let tg = start(
        &up,
        &otlp.endpoint(),
        "",
        "    retries: {attempts: 2, on: [503], min_per_second: 100, backoff: {base: 1ms, max: 1ms}}",
    );
    assert_eq!(get(tg.addr("web"), "/api/x").status, 200);
    let spans = otlp.wait_spans(3, WAIT);
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let server = by_kind(&spans, "server")[0];
    let clients = by_kind(&spans, "client");
    assert_eq!(clients.len(), 2);
    let first = clients
        .iter()
        .find(|c| c.attr("http.request.resend_count").is_none())
        .expect("the first attempt");
    let retry = clients
        .iter()
        .find(|c| c.attr("http.request.resend_count").as_deref() == Some("1"))
        .expect("the retry");
    assert_eq!(
        first.attr("http.response.status_code").as_deref(),
        Some("503")
    );
    assert_eq!(first.attr("error.type").as_deref(), Some("503"));
    assert_eq!(first.span.status.as_ref().unwrap().code, 2, "status ERROR");
    assert_eq!(
        retry.attr("http.response.status_code").as_deref(),
        Some("200")
    );
    for c in &clients {
        assert_eq!(c.parent_id(), server.span_id());
    }
    // Each attempt carried its own span as the parent.
    let sent: Vec<String> = up
        .requests()
        .iter()
        .map(|r| sent_traceparent(r)[2].clone())
        .collect();
    assert_eq!(sent, [first.span_id(), retry.span_id()]);
}

#[test]
fn sampling_ratio_zero_records_only_traces_the_caller_sampled() {
    let up = Upstream::echo();
    let otlp = OtlpReceiver::start();
    let tg = start(&up, &otlp.endpoint(), "  sample_ratio: 0", "");
    for _ in 0..5 {
        assert_eq!(get(tg.addr("web"), "/api/x").status, 200);
    }
    // Not recorded, but the context still travels, marked unsampled.
    for seen in up.requests() {
        assert_eq!(sent_traceparent(&seen)[3], "00");
    }
    // A caller that sampled its trace is followed (parent-based): its two
    // spans arrive, and nothing queued before them did.
    let incoming = format!("00-{PARENT_TRACE}-{PARENT_SPAN}-01");
    let headers = [("traceparent", incoming.as_str())];
    assert_eq!(
        request(tg.addr("web"), "GET", "/api/y", &headers, b"").status,
        200
    );
    let spans = otlp.wait_spans(2, WAIT);
    std::thread::sleep(Duration::from_millis(200));
    let spans_later = otlp.spans();
    assert_eq!(spans_later.len(), 2, "{spans_later:#?}");
    assert!(spans.iter().all(|s| s.trace_id() == PARENT_TRACE));
    // And an unsampled caller is followed too, at any ratio.
    drop(tg);
    let tg = start(&up, &otlp.endpoint(), "  sample_ratio: 1", "");
    let unsampled = format!("00-{PARENT_TRACE}-{PARENT_SPAN}-00");
    let headers = [("traceparent", unsampled.as_str())];
    assert_eq!(
        request(tg.addr("web"), "GET", "/api/z", &headers, b"").status,
        200
    );
    for _ in 0..3 {
        assert_eq!(get(tg.addr("web"), "/api/x").status, 200);
    }
    let spans = otlp.wait_spans(2 + 6, WAIT);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(otlp.spans().len(), 8, "{spans:#?}");
}

#[test]
fn http2_requests_get_spans_too() {
    let up = Upstream::echo();
    let otlp = OtlpReceiver::start();
    let tg = start(&up, &otlp.endpoint(), "", "");
    assert_eq!(h2_get(tg.addr("web"), "/api/h2").status, 200);
    let spans = otlp.wait_spans(2, WAIT);
    let server = by_kind(&spans, "server")[0];
    assert_eq!(
        server.attr("network.protocol.version").as_deref(),
        Some("2")
    );
    assert_eq!(by_kind(&spans, "client")[0].parent_id(), server.span_id());
}

#[test]
fn a_full_queue_drops_spans_and_counts_them_without_slowing_requests() {
    let up = Upstream::echo();
    let otlp = OtlpReceiver::start();
    // The collector holds every export far longer than a client waits: a
    // request that waited for export would fail the test.
    otlp.stall(Duration::from_secs(60));
    let tg = start(&up, &otlp.endpoint(), "  queue: 2\n  batch: 1", "");
    let started = Instant::now();
    for _ in 0..10 {
        assert_eq!(get(tg.addr("web"), "/api/x").status, 200);
    }
    assert!(started.elapsed() < Duration::from_secs(8));
    // 20 spans: the exporter takes one per 2s timeout, two wait queued.
    let dropped = tg.counter("tollgate_trace_spans_dropped").unwrap();
    assert!((13..=20).contains(&dropped), "{dropped}");
    assert_eq!(tg.counter("tollgate_trace_spans_exported"), Some(0));
}

#[test]
fn a_collector_that_is_down_leaves_requests_unaffected() {
    let up = Upstream::echo();
    let endpoint = format!("http://{}/v1/traces", unused_addr());
    let tg = start(&up, &endpoint, "", "");
    for _ in 0..20 {
        assert_eq!(get(tg.addr("web"), "/api/x").status, 200);
    }
    assert_eq!(up.request_count(), 20);
    // The lost spans are counted as failed exports, none as dropped.
    let started = Instant::now();
    while tg.counter("tollgate_trace_spans_failed").unwrap() < 40 {
        assert!(started.elapsed() < WAIT, "failed exports not counted");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(tg.counter("tollgate_trace_spans_dropped"), Some(0));
}

#[test]
fn the_access_log_carries_the_trace_id() {
    let up = Upstream::echo();
    let otlp = OtlpReceiver::start();
    let dir = TempDir::new();
    let log = dir.path().join("access.log");
    let tg = Tollgate::start(&render(
        r#"
server: {workers: 1, shutdown_timeout: 5s}
access_log: {output: file, path: "{log}"}
tracing: {otlp: {endpoint: "{endpoint}"}, sample_ratio: 0}
listeners: [{name: web, address: 127.0.0.1:0}]
upstreams: [{name: u, targets: [{address: "{up}"}]}]
routes: [{name: all, upstream: u}]
"#,
        &[
            ("log", &log.display()),
            ("endpoint", &otlp.endpoint()),
            ("up", &up.addr()),
        ],
    ));
    let incoming = format!("00-{PARENT_TRACE}-{PARENT_SPAN}-00");
    let headers = [("traceparent", incoming.as_str())];
    assert_eq!(
        request(tg.addr("web"), "GET", "/a", &headers, b"").status,
        200
    );
    assert_eq!(get(tg.addr("web"), "/b").status, 200);
    let lines: Vec<Value> = wait_json_lines(&log, 2, WAIT);
    assert_eq!(lines[0]["trace_id"], PARENT_TRACE);
    // Unsampled, a new trace still has its id logged, the one sent upstream.
    let new_id = lines[1]["trace_id"].as_str().unwrap().to_string();
    assert_eq!(new_id.len(), 32);
    assert_eq!(sent_traceparent(&up.requests()[1])[1], new_id);
}

#[test]
fn spans_are_exported_in_batches_not_one_request_per_span() {
    let up = Upstream::echo();
    let otlp = OtlpReceiver::start();
    let tg = Tollgate::start(&render(
        r#"
server: {workers: 2, shutdown_timeout: 5s}
access_log: {output: off}
tracing:
  otlp: {endpoint: "{endpoint}", timeout: 5s}
  batch: 50
  batch_delay: 1s
listeners: [{name: web, address: 127.0.0.1:0}]
upstreams: [{name: u, targets: [{address: "{up}"}]}]
routes: [{name: all, upstream: u}]
"#,
        &[("endpoint", &otlp.endpoint()), ("up", &up.addr())],
    ));
    for i in 0..100 {
        assert_eq!(get(tg.addr("web"), &format!("/r{i}")).status, 200);
    }
    // Every span arrives: 100 server spans and 100 client spans.
    let spans = otlp.wait_spans(200, Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(otlp.spans().len(), 200, "{spans:#?}");
    let ids: std::collections::HashSet<String> = spans.iter().map(|s| s.span_id()).collect();
    assert_eq!(ids.len(), 200);
    // In few export requests: at most 50 spans each (so at least 4),
    // gathered per `batch_delay` or full batch, never one POST per span.
    let exports = otlp.exports();
    assert!((4..=25).contains(&exports), "{exports} exports");
    assert_eq!(tg.counter("tollgate_trace_spans_exported"), Some(200));
    assert_eq!(tg.counter("tollgate_trace_spans_dropped"), Some(0));
}
