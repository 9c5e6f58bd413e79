//! A small OTLP/HTTP traces receiver: a scripted [`crate::Upstream`] that
//! answers `POST /v1/traces` with 200 and decodes every body as an
//! `ExportTraceServiceRequest`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

/// One received span with its resource's attributes.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// The span as decoded.
    pub span: Span,
    /// Its resource's `service.name`.
    pub service_name: String,
}

impl ReceivedSpan {
    /// A string or integer attribute as text (`None` when absent).
    pub fn attr(&self, key: &str) -> Option<String> {
        let kv = self.span.attributes.iter().find(|kv| kv.key == key)?;
        match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.clone()),
            Value::IntValue(n) => Some(n.to_string()),
            Value::BoolValue(b) => Some(b.to_string()),
            Value::DoubleValue(d) => Some(d.to_string()),
            _ => None,
        }
    }

    /// The trace id as 32 lowercase hex digits.
    pub fn trace_id(&self) -> String {
        hex(&self.span.trace_id)
    }

    /// The span id as 16 lowercase hex digits.
    pub fn span_id(&self) -> String {
        hex(&self.span.span_id)
    }

    /// The parent span id as hex (empty for a root span).
    pub fn parent_id(&self) -> String {
        hex(&self.span.parent_span_id)
    }

    /// `server` or `client` (or the kind's number for others).
    pub fn kind(&self) -> String {
        match self.span.kind {
            2 => "server".into(),
            3 => "client".into(),
            k => k.to_string(),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An OTLP/HTTP collector on 127.0.0.1:0, stopped when dropped.
pub struct OtlpReceiver {
    upstream: crate::Upstream,
    stall: Arc<Mutex<Option<Duration>>>,
}

impl std::fmt::Debug for OtlpReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OtlpReceiver({})", self.upstream.addr())
    }
}

impl Default for OtlpReceiver {
    fn default() -> Self {
        Self::start()
    }
}

impl OtlpReceiver {
    /// Answers every export at once with 200.
    pub fn start() -> Self {
        let stall = Arc::new(Mutex::new(None));
        let shared = stall.clone();
        let upstream = crate::Upstream::scripted(move |_| {
            let reply = crate::Reply::new(200).header("Content-Type", "application/x-protobuf");
            match *shared.lock().unwrap() {
                Some(d) => reply.delay(d),
                None => reply,
            }
        });
        Self { upstream, stall }
    }

    /// Answers each export only after `delay` from now on (a slow collector).
    pub fn stall(&self, delay: Duration) {
        *self.stall.lock().unwrap() = Some(delay);
    }

    /// `http://127.0.0.1:PORT/v1/traces`.
    pub fn endpoint(&self) -> String {
        format!("http://{}/v1/traces", self.upstream.addr())
    }

    /// Export requests received so far.
    pub fn exports(&self) -> usize {
        self.upstream.request_count()
    }

    /// Every span received so far, in arrival order. Panics on a request
    /// that is not a protobuf POST to `/v1/traces`.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        let mut out = Vec::new();
        for req in self.upstream.requests() {
            assert_eq!(req.method, "POST");
            assert_eq!(req.path, "/v1/traces");
            assert_eq!(
                req.headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok()),
                Some("application/x-protobuf")
            );
            let export = ExportTraceServiceRequest::decode(req.body.as_ref())
                .expect("an ExportTraceServiceRequest");
            for rs in export.resource_spans {
                let resource: HashMap<String, String> = rs
                    .resource
                    .iter()
                    .flat_map(|r| &r.attributes)
                    .filter_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
                        Value::StringValue(s) => Some((kv.key.clone(), s.clone())),
                        _ => None,
                    })
                    .collect();
                let service_name = resource.get("service.name").cloned().unwrap_or_default();
                for ss in rs.scope_spans {
                    out.extend(ss.spans.into_iter().map(|span| ReceivedSpan {
                        span,
                        service_name: service_name.clone(),
                    }));
                }
            }
        }
        out
    }

    /// Waits (up to `timeout`) until at least `n` spans arrived; returns
    /// them all, or panics with what did arrive.
    pub fn wait_spans(&self, n: usize, timeout: Duration) -> Vec<ReceivedSpan> {
        let until = Instant::now() + timeout;
        loop {
            let spans = self.spans();
            if spans.len() >= n {
                return spans;
            }
            if Instant::now() >= until {
                panic!("expected {n} spans, got {}: {spans:#?}", spans.len());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
