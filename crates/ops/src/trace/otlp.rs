//! Spans as an OTLP `ExportTraceServiceRequest` (protobuf), written by
//! hand: a span's `Span` message is encoded once, straight from the
//! borrowed record into its thread's buffer, and a batch is those bytes
//! behind a small header (the resource with `service.name` and
//! `service.version`, tollgate as the instrumentation scope). No
//! intermediate message structs, no per-attribute strings.
//!
//! Field numbers are those of opentelemetry-proto's `trace.proto`,
//! `common.proto`, `resource.proto` and `trace_service.proto` (v1).

use bytes::BufMut;

use super::span::{Attr, SpanKind, SpanRecord};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Wire types.
const LEN: u8 = 2;
const I64: u8 = 1;
const VARINT: u8 = 0;

/// The key of field `field` with wire type `wire`.
const fn key(field: u8, wire: u8) -> u8 {
    (field << 3) | wire
}

fn varint(out: &mut impl BufMut, mut v: u64) {
    while v >= 0x80 {
        out.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
}

/// Bytes `varint` writes for `v`.
fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// A length-delimited field of `len` bytes: its key and length.
fn len_head(out: &mut impl BufMut, field: u8, len: usize) {
    out.put_u8(key(field, LEN));
    varint(out, len as u64);
}

fn bytes_field(out: &mut impl BufMut, field: u8, b: &[u8]) {
    len_head(out, field, b.len());
    out.put_slice(b);
}

/// A field's size on the wire when its content is `len` bytes.
fn field_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

fn parts_field(out: &mut impl BufMut, field: u8, parts: &[&str]) {
    len_head(out, field, parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.put_slice(p.as_bytes());
    }
}

/// A `KeyValue` (key = 1, value = 2: an `AnyValue` with `string_value` = 1
/// or `int_value` = 3) as field `field` of the enclosing message.
fn key_value(out: &mut impl BufMut, field: u8, k: &str, v: &Attr<'_>) {
    let any = match v {
        Attr::Str(s) => field_len(s.len()),
        Attr::Parts(p) => field_len(p.iter().map(|p| p.len()).sum()),
        Attr::Int(n) => 1 + varint_len(*n as u64),
    };
    len_head(out, field, field_len(k.len()) + field_len(any));
    bytes_field(out, 1, k.as_bytes());
    len_head(out, 2, any);
    match v {
        Attr::Str(s) => bytes_field(out, 1, s.as_bytes()),
        Attr::Parts(p) => parts_field(out, 1, p),
        Attr::Int(n) => {
            out.put_u8(key(3, VARINT));
            // int64: negative numbers as their two's complement.
            varint(out, *n as u64);
        }
    }
}

/// Appends the content of one `Span` message (without its own key and
/// length, which the batch adds).
pub(crate) fn encode_span(out: &mut impl BufMut, s: &SpanRecord<'_>) {
    bytes_field(out, 1, &s.trace_id);
    bytes_field(out, 2, &s.span_id);
    if !s.trace_state.is_empty() {
        bytes_field(out, 3, s.trace_state.as_bytes());
    }
    if let Some(parent) = &s.parent {
        bytes_field(out, 4, parent);
    }
    parts_field(out, 5, s.name);
    // SPAN_KIND_SERVER = 2, SPAN_KIND_CLIENT = 3.
    out.put_u8(key(6, VARINT));
    out.put_u8(match s.kind {
        SpanKind::Server => 2,
        SpanKind::Client => 3,
    });
    out.put_u8(key(7, I64));
    out.put_u64_le(s.start);
    out.put_u8(key(8, I64));
    out.put_u64_le(s.end);
    for (k, v) in s.attributes {
        key_value(out, 9, k, v);
    }
    // `status` (15) is always present; `code` (3) is ERROR = 2 or left
    // out for UNSET.
    if s.error {
        len_head(out, 15, 2);
        out.put_u8(key(3, VARINT));
        out.put_u8(2);
    } else {
        len_head(out, 15, 0);
    }
}

/// Appends an export request carrying the spans encoded one after the
/// other in `bodies`, the first beginning at `first`, the i-th ending at
/// `ends[i]`.
pub(crate) fn write_request(
    out: &mut impl BufMut,
    service_name: &str,
    bodies: &[u8],
    first: usize,
    ends: &[usize],
) {
    // Resource and scope: a few dozen bytes, encoded apart to learn their
    // lengths.
    let mut resource = Vec::with_capacity(64 + service_name.len());
    key_value(&mut resource, 1, "service.name", &Attr::Str(service_name));
    key_value(&mut resource, 1, "service.version", &Attr::Str(VERSION));
    let mut scope = Vec::with_capacity(32);
    bytes_field(&mut scope, 1, b"tollgate");
    bytes_field(&mut scope, 2, VERSION.as_bytes());
    let mut spans_len = 0;
    let mut start = first;
    for &end in ends {
        spans_len += field_len(end - start);
        start = end;
    }
    let scope_spans = field_len(scope.len()) + spans_len;
    let resource_spans = field_len(resource.len()) + field_len(scope_spans);
    // ExportTraceServiceRequest.resource_spans = 1.
    len_head(out, 1, resource_spans);
    // ResourceSpans: resource = 1, scope_spans = 2.
    bytes_field(out, 1, &resource);
    len_head(out, 2, scope_spans);
    // ScopeSpans: scope = 1, spans = 2.
    bytes_field(out, 1, &scope);
    let mut start = first;
    for &end in ends {
        bytes_field(out, 2, &bodies[start..end]);
        start = end;
    }
}

/// The protobuf body of one export request carrying `spans`.
pub fn encode_request(spans: &[SpanRecord<'_>], service_name: &str) -> Vec<u8> {
    let mut bodies = Vec::new();
    let mut ends = Vec::with_capacity(spans.len());
    for s in spans {
        encode_span(&mut bodies, s);
        ends.push(bodies.len());
    }
    let mut out = Vec::with_capacity(bodies.len() + 16 * spans.len() + 128);
    write_request(&mut out, service_name, &bodies, 0, &ends);
    out
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use prost::Message;

    use super::*;

    fn span<'a>(attributes: &'a [(&'static str, Attr<'a>)], error: bool) -> SpanRecord<'a> {
        SpanRecord {
            trace_id: [7; 16],
            span_id: [9; 8],
            parent: Some([3; 8]),
            trace_state: "vendor=abc",
            name: &["GET", " ", "/api/", "*"],
            kind: SpanKind::Server,
            start: 1_700_000_000_000_000_001,
            end: 1_700_000_000_000_900_000,
            attributes,
            error,
        }
    }

    #[test]
    fn the_hand_written_protobuf_decodes_as_otlp() {
        let long = "x".repeat(300);
        let attrs = [
            ("http.request.method", Attr::Str("GET")),
            ("url.full", Attr::Parts(&["http://", "10.0.0.1:80", "/a?b"])),
            ("http.response.status_code", Attr::Int(503)),
            ("neg", Attr::Int(-5)),
            ("empty", Attr::Str("")),
            ("long", Attr::Str(&long)),
        ];
        let root = SpanRecord {
            parent: None,
            trace_state: "",
            kind: SpanKind::Client,
            name: &["GET"],
            ..span(&[], false)
        };
        let body = encode_request(&[span(&attrs, true), root], "edge");
        let req = ExportTraceServiceRequest::decode(body.as_slice()).expect("valid protobuf");
        let rs = &req.resource_spans[0];
        let resource = rs.resource.as_ref().unwrap();
        assert_eq!(resource.attributes[0].key, "service.name");
        assert_eq!(
            resource.attributes[0].value.as_ref().unwrap().value,
            Some(Value::StringValue("edge".into()))
        );
        assert_eq!(resource.attributes[1].key, "service.version");
        let ss = &rs.scope_spans[0];
        assert_eq!(ss.scope.as_ref().unwrap().name, "tollgate");
        let [s, r] = &ss.spans[..] else {
            panic!("two spans: {ss:?}")
        };
        assert_eq!(s.trace_id, vec![7; 16]);
        assert_eq!(s.span_id, vec![9; 8]);
        assert_eq!(s.parent_span_id, vec![3; 8]);
        assert_eq!(s.trace_state, "vendor=abc");
        assert_eq!(s.name, "GET /api/*");
        assert_eq!(s.kind, 2);
        assert_eq!(s.start_time_unix_nano, 1_700_000_000_000_000_001);
        assert_eq!(s.end_time_unix_nano, 1_700_000_000_000_900_000);
        assert_eq!(s.status.as_ref().unwrap().code, 2);
        let values: Vec<(&str, Option<Value>)> = s
            .attributes
            .iter()
            .map(|kv| (kv.key.as_str(), kv.value.clone().and_then(|v| v.value)))
            .collect();
        assert_eq!(
            values,
            [
                (
                    "http.request.method",
                    Some(Value::StringValue("GET".into()))
                ),
                (
                    "url.full",
                    Some(Value::StringValue("http://10.0.0.1:80/a?b".into()))
                ),
                ("http.response.status_code", Some(Value::IntValue(503))),
                ("neg", Some(Value::IntValue(-5))),
                ("empty", Some(Value::StringValue(String::new()))),
                ("long", Some(Value::StringValue(long.clone()))),
            ]
        );
        assert_eq!(r.parent_span_id, Vec::<u8>::new());
        assert_eq!(r.trace_state, "");
        assert_eq!(r.kind, 3);
        assert_eq!(r.name, "GET");
        assert_eq!(r.status.as_ref().unwrap().code, 0);
    }

    #[test]
    fn varint_lengths_match_what_is_written() {
        for v in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut out = Vec::new();
            varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
        }
    }
}
