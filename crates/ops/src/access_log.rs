//! The access log: one JSON object per request, per line. Each worker
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
    /// The consumer an auth policy identified.
    pub consumer: Option<&'a str>,
    /// Which auth policy identified it, or why one refused (`key_auth:invalid`).
    pub auth: Option<&'a str>,
    /// The limiting policy that refused the request (`rate_limit:<name>`).
    pub limit: Option<&'a str>,
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
        }
        None => out.push_str(",\"upstream_ms\":null"),
    }
    out.push_str(",\"consumer\":");
    push_opt(out, r.consumer);
    out.push_str(",\"auth\":");
    push_opt(out, r.auth);
    out.push_str(",\"limit\":");
    push_opt(out, r.limit);
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
            consumer: Some("app"),
            auth: None,
            limit: Some("rate_limit:default"),
        };
        let mut s = String::new();
        write_record(&r, &mut s);
        assert_eq!(
            s,
            "{\"time\":\"1970-01-01T00:00:00.000Z\",\"request_id\":\"abc\",\"client\":\"127.0.0.1:5000\",\
             \"method\":\"GET\",\"host\":\"example.com\",\"path\":\"/a\\\"b\",\"status\":200,\"bytes_in\":0,\
             \"bytes_out\":12,\"duration_ms\":1.500,\"route\":\"r1\",\"upstream\":null,\"upstream_ms\":null,\"consumer\":\"app\",\"auth\":null,\"limit\":\"rate_limit:default\"}\n"
        );
    }
}
