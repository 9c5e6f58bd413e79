//! Spans to an OTLP `ExportTraceServiceRequest` (protobuf), with the
//! resource (`service.name`, `service.version`) and tollgate as the
//! instrumentation scope.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status,
};
use prost::Message;

use super::span::{Attr, SpanKind, SpanRecord};

/// The protobuf body of one export request carrying `spans`.
pub fn encode_request(spans: &[SpanRecord], service_name: &str) -> Vec<u8> {
    let resource = Resource {
        attributes: vec![
            key_value("service.name", string(service_name.to_string())),
            key_value("service.version", string(env!("CARGO_PKG_VERSION").into())),
        ],
        ..Default::default()
    };
    let scope = InstrumentationScope {
        name: "tollgate".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope),
                spans: spans.iter().map(to_proto).collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
    .encode_to_vec()
}

fn to_proto(s: &SpanRecord) -> Span {
    let kind = match s.kind {
        SpanKind::Server => span::SpanKind::Server,
        SpanKind::Client => span::SpanKind::Client,
    };
    let code = if s.error {
        status::StatusCode::Error
    } else {
        status::StatusCode::Unset
    };
    Span {
        trace_id: s.trace_id.to_vec(),
        span_id: s.span_id.to_vec(),
        trace_state: s.trace_state.clone().unwrap_or_default(),
        parent_span_id: s.parent.map(|p| p.to_vec()).unwrap_or_default(),
        name: s.name.clone(),
        kind: kind as i32,
        start_time_unix_nano: unix_nanos(s.start),
        end_time_unix_nano: unix_nanos(s.end),
        attributes: s
            .attributes
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    Attr::Str(text) => string(text.to_string()),
                    Attr::Int(n) => any_value::Value::IntValue(*n),
                };
                key_value(k, value)
            })
            .collect(),
        status: Some(Status {
            message: String::new(),
            code: code as i32,
        }),
        ..Default::default()
    }
}

fn string(s: String) -> any_value::Value {
    any_value::Value::StringValue(s)
}

fn key_value(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
    }
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
