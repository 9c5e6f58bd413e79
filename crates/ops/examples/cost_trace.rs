//! What tracing costs per span and per unsampled request (release mode:
//! `cargo run --release -p tollgate-ops --example cost_trace`).
//!
//! - Sampled: one thread builds and submits spans shaped like a server
//!   span, in bursts at about the rate a busy worker makes them, to a
//!   tracer exporting to a collector in this process that answers 200.
//!   Reported: the submitting thread's CPU and the `tollgate-otlp`
//!   thread's CPU per span (from `/proc/self/task/*/stat`), and how often
//!   the exporter thread was switched to (its context switches).
//! - The same through a `std::sync::mpsc::sync_channel` drained by a
//!   thread named `tollgate-otlp` that gathers batches as the exporter did
//!   before per-thread buffers (encoding each batch, not sending it): the
//!   hand-off this crate replaced, for comparison.
//! - Unsampled: what a request not recorded pays here (ids, the sampling
//!   decision, the upstream's `traceparent`), in ns per request.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant, SystemTime};

use tollgate_config::{OtlpEndpoint, Tracing};
use tollgate_ops::trace::{
    encode_request, new_span_id, new_trace_id, traceparent, Attr, Sampler, SpanKind, SpanRecord,
    Tracer,
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
    channel(&config);
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

/// A span shaped like tollgate's server span (the same attribute kinds).
fn server_span() -> SpanRecord {
    let start = SystemTime::now();
    SpanRecord {
        trace_id: new_trace_id(),
        span_id: new_span_id(),
        parent: None,
        trace_state: None,
        name: "GET /api/*".to_string(),
        kind: SpanKind::Server,
        start,
        end: SystemTime::now(),
        attributes: vec![
            ("http.request.method", "GET".into()),
            ("url.path", "/api/users/42".to_string().into()),
            ("url.scheme", "http".into()),
            ("server.address", "example.test".to_string().into()),
            ("client.address", "127.0.0.1".to_string().into()),
            ("network.peer.address", "127.0.0.1".to_string().into()),
            ("network.peer.port", Attr::Int(50_000)),
            ("network.protocol.version", "1.1".into()),
            ("http.route", "/api/*".to_string().into()),
            ("tollgate.route", "api".to_string().into()),
            ("http.response.status_code", Attr::Int(200)),
        ],
        error: false,
    }
}

/// The hand-off before per-thread buffers: a bounded channel whose every
/// `try_send` may wake the exporter thread.
fn channel(config: &Tracing) {
    let (tx, rx) = sync_channel::<SpanRecord>(config.queue);
    let (batch, delay, name) = (
        config.batch,
        config.batch_delay,
        config.service_name.clone(),
    );
    let exporter = std::thread::Builder::new()
        .name("tollgate-otlp".into())
        .spawn(move || {
            let mut spans = Vec::with_capacity(batch);
            while let Ok(first) = rx.recv() {
                spans.push(first);
                let until = Instant::now() + delay;
                while spans.len() < batch {
                    let left = until.saturating_duration_since(Instant::now());
                    match rx.recv_timeout(left) {
                        Ok(span) => spans.push(span),
                        Err(_) => break,
                    }
                }
                std::hint::black_box(encode_request(&spans, &name));
                spans.clear();
            }
        })
        .expect("thread");
    let dropped = AtomicU64::new(0);
    sampled(
        "channel (before)",
        |span| {
            if tx.try_send(span).is_err() {
                dropped.fetch_add(1, Ordering::Relaxed);
            }
        },
        || dropped.load(Ordering::Relaxed),
    );
    drop(tx);
    exporter.join().expect("exporter");
}

fn sampled(what: &str, submit: impl Fn(SpanRecord), dropped: impl Fn() -> u64) {
    let before = threads();
    let started = Instant::now();
    let mut sent = 0;
    while sent < SPANS {
        for _ in 0..BURST {
            submit(server_span());
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
