//! What tracing costs per span and per unsampled request (release mode:
//! `cargo run --release -p tollgate-ops --example cost_trace`).
//!
//! - Sampled: one thread builds and submits spans shaped like a server
//!   span, in bursts at about the rate a busy worker makes them, to a
//!   tracer exporting to a collector in this process that answers 200.
//!   Reported: the submitting thread's CPU and the `tollgate-otlp`
//!   thread's CPU per span (from `/proc/self/task/*/stat`), and how often
//!   the exporter thread was switched to (its context switches).
//! - Encoding alone: a batch of 512 spans written as one export request.
//! - Unsampled: what a request not recorded pays here (ids, the sampling
//!   decision, the upstream's `traceparent`), in ns per request.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use tollgate_config::{OtlpEndpoint, Tracing};
use tollgate_ops::trace::{
    encode_request, new_span_id, new_trace_id, traceparent, unix_nanos_now, Attr, Sampler,
    SpanKind, SpanRecord, Tracer,
};

const SPANS: usize = 400_000;
const BURST: usize = 64;
const UNSAMPLED: usize = 2_000_000;

fn main() {
    let collector = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = collector.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in collector.incoming().flatten() {
            std::thread::spawn(move || answer_posts(conn));
        }
    });
    let config = Tracing {
        otlp: OtlpEndpoint {
            host: "127.0.0.1".into(),
            port,
            path: "/v1/traces".into(),
            timeout: Duration::from_secs(10),
        },
        sample_ratio: 1.0,
        service_name: "cost".into(),
        queue: 2048,
        batch: 512,
        batch_delay: Duration::from_millis(200),
    };
    let tracer = Tracer::start(&config, None).expect("tracer");
    sampled(
        "buffers (now)",
        |span| tracer.submit(span),
        || tracer.stats().dropped,
    );
    drop(tracer);
    std::thread::sleep(Duration::from_millis(300));
    encode_only();
    unsampled();
}

/// A minimal OTLP collector: reads each POST's body and answers 200.
fn answer_posts(conn: TcpStream) {
    let mut out = conn.try_clone().expect("clone");
    let mut r = BufReader::new(conn);
    loop {
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err()
            || out
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .is_err()
        {
            return;
        }
    }
}

/// Submits a span shaped like tollgate's server span (the same
/// attribute kinds), built the way the proxy builds it: borrowed, with
/// the clock read at both ends.
fn submit_server_span(submit: &impl Fn(&SpanRecord<'_>)) {
    let start = unix_nanos_now();
    let attributes = [
        ("http.request.method", Attr::Str("GET")),
        ("url.path", Attr::Str("/api/users/42")),
        ("url.scheme", Attr::Str("http")),
        ("server.address", Attr::Str("example.test")),
        ("client.address", Attr::Str("127.0.0.1")),
        ("network.peer.address", Attr::Str("127.0.0.1")),
        ("network.peer.port", Attr::Int(50_000)),
        ("network.protocol.version", Attr::Str("1.1")),
        ("http.route", Attr::Parts(&["/api/", "*"])),
        ("tollgate.route", Attr::Str("api")),
        ("http.response.status_code", Attr::Int(200)),
    ];
    submit(&SpanRecord {
        trace_id: new_trace_id(),
        span_id: new_span_id(),
        parent: None,
        trace_state: "",
        name: &["GET", " ", "/api/", "*"],
        kind: SpanKind::Server,
        start,
        end: unix_nanos_now(),
        attributes: &attributes,
        error: false,
    });
}

fn sampled(what: &str, submit: impl Fn(&SpanRecord<'_>), dropped: impl Fn() -> u64) {
    let before = threads();
    let started = Instant::now();
    let mut sent = 0;
    while sent < SPANS {
        for _ in 0..BURST {
            submit_server_span(&submit);
        }
        sent += BURST;
        // ~64k spans/s: two spans per request at ~32k requests/s.
        std::thread::sleep(Duration::from_millis(1));
    }
    let wall = started.elapsed();
    // Let the exporter send what is left before reading its CPU.
    std::thread::sleep(Duration::from_millis(600));
    let after = threads();
    let per = |a: u64, b: u64| (a - b) as f64 * 1e9 / ticks_per_second() / SPANS as f64;
    println!(
        "sampled, {what}: {SPANS} spans in {:.2}s; submitting thread {:.0} ns/span, \
         tollgate-otlp {:.0} ns/span, exporter context switches {}, dropped {}",
        wall.as_secs_f64(),
        per(after.caller, before.caller),
        per(after.exporter, before.exporter),
        after.exporter_switches - before.exporter_switches,
        dropped(),
    );
}

/// What encoding alone costs: a batch of 512 server spans as one export
/// request, in ns per span.
fn encode_only() {
    let attributes = [
        ("http.request.method", Attr::Str("GET")),
        ("url.path", Attr::Str("/api/users/42")),
        ("http.response.status_code", Attr::Int(200)),
    ];
    let record = |i: u8| SpanRecord {
        trace_id: [i | 1; 16],
        span_id: [i | 1; 8],
        parent: None,
        trace_state: "",
        name: &["GET", " ", "/api/", "*"],
        kind: SpanKind::Server,
        start: 1,
        end: 2,
        attributes: &attributes,
        error: false,
    };
    let batch: Vec<SpanRecord<'_>> = (0..=255u8).chain(0..=255u8).map(record).collect();
    let rounds = 2_000;
    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(encode_request(&batch, "cost"));
    }
    let ns = started.elapsed().as_nanos() as f64 / (rounds * batch.len()) as f64;
    println!("encode only: {ns:.0} ns/span (batches of {})", batch.len());
}

fn unsampled() {
    let sampler = Sampler::new(0.0);
    let started = Instant::now();
    let mut keep = 0usize;
    for _ in 0..UNSAMPLED {
        let trace_id = new_trace_id();
        let sampled = sampler.sampled(None, &trace_id);
        let server = new_span_id();
        let client = new_span_id();
        let header = traceparent(&trace_id, &client, sampled);
        keep = keep.wrapping_add(header.len() + usize::from(server[0]));
    }
    let ns = started.elapsed().as_nanos() as f64 / UNSAMPLED as f64;
    println!("unsampled: {ns:.0} ns/request (ids, decision, traceparent) [{keep}]");
}

/// CPU ticks of the calling thread and of the exporter thread, and the
/// exporter's context switches.
struct Threads {
    caller: u64,
    exporter: u64,
    exporter_switches: u64,
}

fn threads() -> Threads {
    let mut t = Threads {
        caller: cpu_ticks("/proc/thread-self"),
        exporter: 0,
        exporter_switches: 0,
    };
    for task in std::fs::read_dir("/proc/self/task")
        .expect("tasks")
        .flatten()
    {
        let dir = task.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim() == "tollgate-otlp" {
            t.exporter += cpu_ticks(dir.to_str().expect("utf-8"));
            let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
            t.exporter_switches += status
                .lines()
                .filter(|l| l.contains("ctxt_switches"))
                .filter_map(|l| l.split(':').nth(1)?.trim().parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    t
}

/// utime + stime of one task (`stat` fields 14 and 15).
fn cpu_ticks(task: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("{task}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the `(comm)`, field 3 is index 0: utime is 14, stime 15.
    fields
        .get(11)
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
}

/// Clock ticks per second as `/proc` counts them (100 on Linux).
fn ticks_per_second() -> f64 {
    100.0
}
