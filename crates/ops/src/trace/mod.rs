//! Tracing: the W3C trace context carried by requests (`context.rs`:
//! `traceparent` read and written, ids, the sampling decision), the spans
//! tollgate records (`span.rs`), and their export with OTLP over HTTP from
//! one background thread through a bounded queue (`export.rs`, with the
//! protobuf mapping in `otlp.rs`).
//!
//! Nothing here knows requests or routes: `proxy` decides what a span is
//! called and which attributes it has (the OpenTelemetry HTTP conventions).

mod context;
mod export;
mod otlp;
mod span;

pub use context::{
    hex_lower, new_span_id, new_trace_id, parse_traceparent, traceparent, Sampler, SpanId, TraceId,
    TraceParent,
};
pub use export::{TraceStats, Tracer};
pub use otlp::encode_request;
pub use span::{Attr, SpanKind, SpanRecord};
