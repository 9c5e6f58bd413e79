//! Tracing: the W3C trace context carried by requests (`context.rs`:
//! `traceparent` read and written, ids, the sampling decision), the spans
//! tollgate records (`span.rs`: borrowed, encoded at once), and their
//! export with OTLP over HTTP from one background thread through bounded
//! per-thread buffers (`export.rs`, with the hand-written protobuf in
//! `otlp.rs`).
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
pub use span::{unix_nanos_now, Attr, SpanKind, SpanRecord};
