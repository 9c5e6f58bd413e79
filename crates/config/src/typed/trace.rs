//! `tracing:`: W3C trace context on every request, spans sampled by a
//! ratio and exported with OTLP over HTTP; and `metrics:`, the opt-in
//! series of `/metrics`.

use std::time::Duration;

/// `tracing:` as validated; present means tracing is on.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracing {
    /// Where spans are sent.
    pub otlp: OtlpEndpoint,
    /// Share of new traces recorded, `0.0..=1.0` (`1.0` unless written);
    /// a request that carries a `traceparent` follows its sampled flag.
    pub sample_ratio: f64,
    /// The `service.name` resource attribute (`tollgate` unless written).
    pub service_name: String,
    /// Spans waiting for export at most in each of the exporter's
    /// per-thread buffers; more are dropped and counted (2048 unless
    /// written).
    pub queue: usize,
    /// Spans sent in one export request at most (512 unless written).
    pub batch: usize,
    /// How often the exporter collects buffered spans; a thread's buffer
    /// reaching a full batch wakes it earlier (1s unless written).
    pub batch_delay: Duration,
}

/// An OTLP/HTTP traces endpoint: `http://host:port/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpEndpoint {
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// Port (4318 unless written).
    pub port: u16,
    /// Request path (`/v1/traces` when the URL has none).
    pub path: String,
    /// Bound on one export request: connect, send and answer (10s unless written).
    pub timeout: Duration,
}

impl OtlpEndpoint {
    /// `host:port` for the `Host` field and for connecting.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Per-consumer series (`metrics:`): off unless written, and bounded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ConsumerMetrics {
    /// No per-consumer series.
    #[default]
    Off,
    /// These consumers by name; every other one is counted as `other`.
    Listed(Vec<String>),
    /// The `N` consumers with the most requests at scrape time; the rest
    /// are summed as `other`.
    Top(usize),
}
