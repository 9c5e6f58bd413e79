//! The access log: one JSON object per request (or L4 connection), per line. Each worker
//! buffers lines and hands them to the shared sink in batches, so a busy
//! proxy makes one write per batch, not per request.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tollgate_core::push_json_string;

use crate::time::format_rfc3339_millis;

/// Bytes a worker buffers before writing them out.
const FLUSH_AT: usize = 32 * 1024;

/// The shared destination of access log lines.
pub struct AccessLog {
    sink: Option<Mutex<Box<dyn Write + Send>>>,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLog")
            .field("enabled", &self.sink.is_some())
            .finish()
    }
}

impl AccessLog {
    /// Opens the destination the configuration names.
    pub fn open(cfg: &tollgate_config::AccessLog) -> io::Result<Arc<Self>> {
        let sink: Option<Box<dyn Write + Send>> = match cfg {
            tollgate_config::AccessLog::Off => None,
            tollgate_config::AccessLog::Stdout => Some(Box::new(io::stdout())),
            tollgate_config::AccessLog::File(path) => Some(Box::new(
                OpenOptions::new().create(true).append(true).open(path)?,
            )),
        };
        Ok(Arc::new(Self {
            sink: sink.map(Mutex::new),
        }))
    }

    /// Whether lines are written at all (skip building them when not).
    pub fn enabled(&self) -> bool {
        self.sink.is_some()
    }

    fn write_batch(&self, batch: &str) {
        if let Some(sink) = &self.sink {
            let mut w = sink.lock().unwrap_or_else(|p| p.into_inner());
            // A full disk or closed stdout must not take the proxy down; lines are lost.
            let _ = w.write_all(batch.as_bytes());
            let _ = w.flush();
        }
    }
}

/// What is logged about one request.
#[derive(Debug, Clone)]
pub struct AccessRecord<'a> {
    /// When the request head was received.
    pub start: SystemTime,
    /// Request id.
    pub request_id: &'a str,
    /// Client address.
    pub client: SocketAddr,
    /// Method.
    pub method: &'a str,
    /// Host the client asked for.
    pub host: &'a str,
    /// Path and query as received.
    pub path: &'a str,
    /// Status sent.
    pub status: u16,
    /// Request body bytes received.
    pub bytes_in: u64,
    /// Response body bytes sent.
    pub bytes_out: u64,
    /// Time from head received to last byte sent.
    pub duration: Duration,
    /// Route name, when one matched.
    pub route: Option<&'a str>,
    /// Upstream target address, when one was used.
    pub upstream: Option<&'a str>,
    /// Time from sending upstream to its response head.
    pub upstream_time: Option<Duration>,
    /// Time the answering attempt took to get a connection (about none
    /// when an idle one was reused); written with `upstream_time`.
    pub upstream_connect_time: Option<Duration>,
    /// Time from the upstream's response head to the last byte sent to the
    /// client; written with `upstream_time`.
    pub upstream_body_time: Option<Duration>,
    /// How the exchange ended, when the server knows: `complete`,
    /// `aborted` (the client went away mid-answer), `error` (the upstream
    /// failed mid-answer); a WebSocket tunnel: `closed`, `idle_timeout`,
    /// `error`. Written only when set.
    pub end: Option<&'a str>,
    /// The gRPC status of a gRPC call: from the answer's head (tollgate's
    /// own errors, Trailers-Only answers) or, on HTTP/2, from the trailers
    /// that end a streamed answer; written only for gRPC calls.
    pub grpc_status: Option<u16>,
    /// Which side was too slow when a timeout ended the exchange:
    /// `client_body` (request body, 408), `client_read` (a slow reader cut
    /// off while the answer was written), `upstream` (504); the field is
    /// left out of the line when no timeout fired.
    pub timeout: Option<&'a str>,
    /// Request fields dropped for a `_` in their name; the field is left
    /// out of the line when none was.
    pub dropped_headers: u16,
    /// The consumer an auth policy identified.
    pub consumer: Option<&'a str>,
    /// Which auth policy identified it, or why one refused (`key_auth:invalid`).
    pub auth: Option<&'a str>,
    /// The limiting policy that refused the request (`rate_limit:<name>`).
    pub limit: Option<&'a str>,
    /// The W3C trace id (32 hex digits) when tracing is on, sampled or
    /// not; the field is left out of the line otherwise.
    pub trace_id: Option<&'a str>,
    /// The request fields `access_log.headers` names, with their values
    /// as received (`None`: absent); the field is left out when none is named.
    pub headers: &'a [(http::HeaderName, Option<http::HeaderValue>)],
}

/// What is logged about one L4 connection (`tcp`, `tls_passthrough`) or
/// UDP session, when it ends.
#[derive(Debug, Clone)]
pub struct L4Record<'a> {
    /// When the connection was accepted (the session's first datagram).
    pub start: SystemTime,
    /// Listener name.
    pub listener: &'a str,
    /// Client address (the one a PROXY header names, when trusted).
    pub client: SocketAddr,
    /// Upstream name, when one was chosen.
    pub upstream: Option<&'a str>,
    /// Target address, when one was connected.
    pub target: Option<&'a str>,
    /// Bytes from the client to the target.
    pub bytes_in: u64,
    /// Bytes from the target to the client.
    pub bytes_out: u64,
    /// From accept to the end.
    pub duration: Duration,
    /// How it ended: `closed`, `idle_timeout`, `error`, `no_target`, …
    pub end: &'a str,
}

/// A worker's batch of lines on its way to the shared log.
#[derive(Debug)]
pub struct AccessLogBuffer {
    log: Arc<AccessLog>,
    buf: Mutex<String>,
}

impl AccessLogBuffer {
    /// A buffer for one worker.
    pub fn new(log: Arc<AccessLog>) -> Self {
        Self {
            log,
            buf: Mutex::new(String::new()),
        }
    }

    /// Whether records are wanted.
    pub fn enabled(&self) -> bool {
        self.log.enabled()
    }

    /// Adds one record; writes the batch out once it is large.
    pub fn record(&self, r: &AccessRecord<'_>) {
        if !self.log.enabled() {
            return;
        }
        let mut buf = self.buf.lock().unwrap_or_else(|p| p.into_inner());
        write_record(r, &mut buf);
        if buf.len() >= FLUSH_AT {
            let batch = std::mem::take(&mut *buf);
            drop(buf);
            self.log.write_batch(&batch);
        }
    }

    /// Adds one L4 connection's line; writes the batch out once it is large.
    pub fn record_l4(&self, r: &L4Record<'_>) {
        if !self.log.enabled() {
            return;
        }
        let mut buf = self.buf.lock().unwrap_or_else(|p| p.into_inner());
        write_l4_record(r, &mut buf);
        if buf.len() >= FLUSH_AT {
            let batch = std::mem::take(&mut *buf);
            drop(buf);
            self.log.write_batch(&batch);
        }
    }

    /// Writes out whatever is buffered (called on a timer and at shutdown).
    pub fn flush(&self) {
        let batch = {
            let mut buf = self.buf.lock().unwrap_or_else(|p| p.into_inner());
            if buf.is_empty() {
                return;
            }
            std::mem::take(&mut *buf)
        };
        self.log.write_batch(&batch);
    }
}

fn write_record(r: &AccessRecord<'_>, out: &mut String) {
    out.push_str("{\"time\":\"");
    format_rfc3339_millis(r.start, out);
    out.push_str("\",\"request_id\":");
    push_json_string(out, r.request_id);
    let _ = write!(out, ",\"client\":\"{}\",\"method\":", r.client);
    push_json_string(out, r.method);
    out.push_str(",\"host\":");
    push_json_string(out, r.host);
    out.push_str(",\"path\":");
    push_json_string(out, r.path);
    let _ = write!(
        out,
        ",\"status\":{},\"bytes_in\":{},\"bytes_out\":{},\"duration_ms\":{:.3}",
        r.status,
        r.bytes_in,
        r.bytes_out,
        r.duration.as_secs_f64() * 1000.0
    );
    out.push_str(",\"route\":");
    push_opt(out, r.route);
    out.push_str(",\"upstream\":");
    push_opt(out, r.upstream);
    match r.upstream_time {
        Some(t) => {
            let _ = write!(out, ",\"upstream_ms\":{:.3}", t.as_secs_f64() * 1000.0);
            let ms = |d: Option<Duration>| d.unwrap_or_default().as_secs_f64() * 1000.0;
            let _ = write!(
                out,
                ",\"upstream_connect_ms\":{:.3},\"upstream_body_ms\":{:.3}",
                ms(r.upstream_connect_time),
                ms(r.upstream_body_time)
            );
        }
        None => out.push_str(",\"upstream_ms\":null"),
    }
    out.push_str(",\"consumer\":");
    push_opt(out, r.consumer);
    out.push_str(",\"auth\":");
    push_opt(out, r.auth);
    out.push_str(",\"limit\":");
    push_opt(out, r.limit);
    if let Some(end) = r.end {
        out.push_str(",\"end\":");
        push_json_string(out, end);
    }
    if let Some(code) = r.grpc_status {
        let _ = write!(out, ",\"grpc_status\":{code}");
    }
    if r.dropped_headers > 0 {
        let _ = write!(out, ",\"dropped_headers\":{}", r.dropped_headers);
    }
    if let Some(t) = r.timeout {
        out.push_str(",\"timeout\":");
        push_json_string(out, t);
    }
    if let Some(id) = r.trace_id {
        out.push_str(",\"trace_id\":");
        push_json_string(out, id);
    }
    if !r.headers.is_empty() {
        out.push_str(",\"headers\":{");
        for (i, (name, value)) in r.headers.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_json_string(out, name.as_str());
            out.push(':');
            match value {
                Some(v) => push_json_string(out, &String::from_utf8_lossy(v.as_bytes())),
                None => out.push_str("null"),
            }
        }
        out.push('}');
    }
    out.push_str("}\n");
}

fn write_l4_record(r: &L4Record<'_>, out: &mut String) {
    out.push_str("{\"time\":\"");
    format_rfc3339_millis(r.start, out);
    out.push_str("\",\"listener\":");
    push_json_string(out, r.listener);
    let _ = write!(out, ",\"client\":\"{}\",\"upstream\":", r.client);
    push_opt(out, r.upstream);
    out.push_str(",\"target\":");
    push_opt(out, r.target);
    let _ = write!(
        out,
        ",\"bytes_in\":{},\"bytes_out\":{},\"duration_ms\":{:.3},\"end\":",
        r.bytes_in,
        r.bytes_out,
        r.duration.as_secs_f64() * 1000.0
    );
    push_json_string(out, r.end);
    out.push_str("}\n");
}

fn push_opt(out: &mut String, v: Option<&str>) {
    match v {
        Some(s) => push_json_string(out, s),
        None => out.push_str("null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l4_record_is_one_json_line() {
        let r = L4Record {
            start: SystemTime::UNIX_EPOCH,
            listener: "pg",
            client: "127.0.0.1:5000".parse().unwrap(),
            upstream: Some("db"),
            target: None,
            bytes_in: 3,
            bytes_out: 4,
            duration: Duration::from_millis(2),
            end: "no_target",
        };
        let mut s = String::new();
        write_l4_record(&r, &mut s);
        assert_eq!(
            s,
            "{\"time\":\"1970-01-01T00:00:00.000Z\",\"listener\":\"pg\",\"client\":\"127.0.0.1:5000\",\
             \"upstream\":\"db\",\"target\":null,\"bytes_in\":3,\"bytes_out\":4,\"duration_ms\":2.000,\
             \"end\":\"no_target\"}\n"
        );
    }

    #[test]
    fn record_is_one_json_line() {
        let r = AccessRecord {
            start: SystemTime::UNIX_EPOCH,
            request_id: "abc",
            client: "127.0.0.1:5000".parse().unwrap(),
            method: "GET",
            host: "example.com",
            path: "/a\"b",
            status: 200,
            bytes_in: 0,
            bytes_out: 12,
            duration: Duration::from_micros(1500),
            route: Some("r1"),
            upstream: None,
            upstream_time: None,
            upstream_connect_time: None,
            upstream_body_time: None,
            end: None,
            grpc_status: None,
            timeout: None,
            dropped_headers: 0,
            consumer: Some("app"),
            auth: None,
            limit: Some("rate_limit:default"),
            trace_id: None,
            headers: &[],
        };
        let mut s = String::new();
        write_record(&r, &mut s);
        let mut grpc = String::new();
        write_record(
            &AccessRecord {
                grpc_status: Some(14),
                ..r.clone()
            },
            &mut grpc,
        );
        assert!(
            grpc.ends_with(",\"limit\":\"rate_limit:default\",\"grpc_status\":14}\n"),
            "{grpc}"
        );
        let mut timed = String::new();
        write_record(
            &AccessRecord {
                upstream_time: Some(Duration::from_micros(2500)),
                upstream_connect_time: Some(Duration::from_micros(500)),
                upstream_body_time: Some(Duration::from_millis(4)),
                ..r.clone()
            },
            &mut timed,
        );
        assert!(
            timed.contains(
                ",\"upstream_ms\":2.500,\"upstream_connect_ms\":0.500,\"upstream_body_ms\":4.000,"
            ),
            "{timed}"
        );
        let mut traced = String::new();
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        write_record(
            &AccessRecord {
                trace_id: Some(id),
                ..r.clone()
            },
            &mut traced,
        );
        assert!(
            traced.ends_with(&format!(",\"trace_id\":\"{id}\"}}\n")),
            "{traced}"
        );
        let mut with_headers = String::new();
        let fields = [
            (
                http::header::USER_AGENT,
                Some(http::HeaderValue::from_static("curl/8 \"x\"")),
            ),
            (http::header::REFERER, None),
        ];
        write_record(
            &AccessRecord {
                headers: &fields,
                ..r.clone()
            },
            &mut with_headers,
        );
        assert!(
            with_headers.ends_with(
                ",\"headers\":{\"user-agent\":\"curl/8 \\\"x\\\"\",\"referer\":null}}\n"
            ),
            "{with_headers}"
        );
        assert_eq!(
            s,
            "{\"time\":\"1970-01-01T00:00:00.000Z\",\"request_id\":\"abc\",\"client\":\"127.0.0.1:5000\",\
             \"method\":\"GET\",\"host\":\"example.com\",\"path\":\"/a\\\"b\",\"status\":200,\"bytes_in\":0,\
             \"bytes_out\":12,\"duration_ms\":1.500,\"route\":\"r1\",\"upstream\":null,\"upstream_ms\":null,\"consumer\":\"app\",\"auth\":null,\"limit\":\"rate_limit:default\"}\n"
        );
    }
}
