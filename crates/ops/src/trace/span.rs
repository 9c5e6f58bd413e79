//! A finished span as tollgate hands it over: a borrowed view of the
//! request's data (no owned strings), encoded as OTLP protobuf at once
//! into the submitting thread's buffer (see `export.rs`), so recording a
//! span allocates nothing.

use std::time::{SystemTime, UNIX_EPOCH};

use super::context::{SpanId, TraceId};

/// Which side of a call the span is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// tollgate answering a client.
    Server,
    /// tollgate calling an upstream (one per attempt).
    Client,
}

/// An attribute value, borrowed from the request or the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attr<'a> {
    /// A string.
    Str(&'a str),
    /// A string written as the concatenation of its parts (`url.full`,
    /// a route's path pattern), so it needs no joined copy.
    Parts(&'a [&'a str]),
    /// An integer.
    Int(i64),
}

impl<'a> From<&'a str> for Attr<'a> {
    fn from(s: &'a str) -> Self {
        Self::Str(s)
    }
}

impl From<i64> for Attr<'_> {
    fn from(n: i64) -> Self {
        Self::Int(n)
    }
}

/// One finished span.
#[derive(Debug, Clone, Copy)]
pub struct SpanRecord<'a> {
    /// The trace it belongs to.
    pub trace_id: TraceId,
    /// Its own id.
    pub span_id: SpanId,
    /// Its parent's id; `None` for a trace's root.
    pub parent: Option<SpanId>,
    /// The caller's `tracestate`, passed on as received (empty: none).
    pub trace_state: &'a str,
    /// Span name as parts written one after the other (`GET`, ` `, `/users`).
    pub name: &'a [&'a str],
    /// Server or client.
    pub kind: SpanKind,
    /// When it began, in nanoseconds since the Unix epoch.
    pub start: u64,
    /// When it ended, in nanoseconds since the Unix epoch.
    pub end: u64,
    /// Attributes by OpenTelemetry name.
    pub attributes: &'a [(&'static str, Attr<'a>)],
    /// Status `ERROR` (a server span's 5xx, a client span's 4xx/5xx or failure).
    pub error: bool,
}

/// The wall clock in nanoseconds since the Unix epoch (0 before it).
pub fn unix_nanos_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
