//! A finished span as tollgate records it: plain data, turned into OTLP
//! protobuf only on the exporter thread.

use std::borrow::Cow;
use std::time::SystemTime;

use super::context::{SpanId, TraceId};

/// Which side of a call the span is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// tollgate answering a client.
    Server,
    /// tollgate calling an upstream (one per attempt).
    Client,
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    /// A string.
    Str(Cow<'static, str>),
    /// An integer.
    Int(i64),
}

impl From<&'static str> for Attr {
    fn from(s: &'static str) -> Self {
        Self::Str(Cow::Borrowed(s))
    }
}

impl From<String> for Attr {
    fn from(s: String) -> Self {
        Self::Str(Cow::Owned(s))
    }
}

impl From<i64> for Attr {
    fn from(n: i64) -> Self {
        Self::Int(n)
    }
}

/// One finished span.
#[derive(Debug, Clone)]
pub struct SpanRecord {
    /// The trace it belongs to.
    pub trace_id: TraceId,
    /// Its own id.
    pub span_id: SpanId,
    /// Its parent's id; `None` for a trace's root.
    pub parent: Option<SpanId>,
    /// The caller's `tracestate`, passed on as received.
    pub trace_state: Option<String>,
    /// Span name (`GET /users`).
    pub name: String,
    /// Server or client.
    pub kind: SpanKind,
    /// When it began.
    pub start: SystemTime,
    /// When it ended.
    pub end: SystemTime,
    /// Attributes by OpenTelemetry name.
    pub attributes: Vec<(&'static str, Attr)>,
    /// Status `ERROR` (a server span's 5xx, a client span's 4xx/5xx or failure).
    pub error: bool,
}
