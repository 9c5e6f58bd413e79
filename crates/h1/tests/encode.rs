//! Encoders round-trip through the parsers and decoders.

use bytes::BytesMut;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use tollgate_h1::{
    encode_chunk, encode_last_chunk, encode_request_head, encode_response_head, parse_request,
    parse_response, BodyFraming, ChunkEvent, ChunkedDecoder, HeadExtras, HeadLimits,
};

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.append(*k, HeaderValue::from_static(v));
    }
    map
}

#[test]
fn request_round_trip() {
    let map = headers(&[
        ("host", "a.example"),
        ("content-length", "3"),
        ("x-multi", "1"),
        ("x-multi", "2"),
    ]);
    let mut buf = BytesMut::new();
    encode_request_head(
        &Method::POST,
        "/p?q=1",
        &map,
        HeadExtras::default(),
        &mut buf,
    );
    assert_eq!(
        &buf[..],
        b"POST /p?q=1 HTTP/1.1\r\nhost: a.example\r\ncontent-length: 3\r\nx-multi: 1\r\nx-multi: 2\r\n\r\n"
    );
    let (head, n) = parse_request(&buf, &HeadLimits::default())
        .unwrap()
        .unwrap();
    assert_eq!(n, buf.len());
    assert_eq!(head.method, Method::POST);
    assert_eq!(head.uri, "/p?q=1");
    assert_eq!(head.headers, map);
    assert_eq!(head.framing, BodyFraming::Length(3));
}

#[test]
fn request_target_is_sanitized() {
    let map = headers(&[("host", "a")]);
    let mut buf = BytesMut::new();
    encode_request_head(
        &Method::GET,
        "/a b\r\nX: y",
        &map,
        HeadExtras::default(),
        &mut buf,
    );
    assert!(buf.starts_with(b"GET /a%20b%0d%0aX:%20y HTTP/1.1\r\n"));
    let (head, _) = parse_request(&buf, &HeadLimits::default())
        .unwrap()
        .unwrap();
    assert_eq!(head.headers.len(), 1);

    buf.clear();
    encode_request_head(&Method::GET, "", &map, HeadExtras::default(), &mut buf);
    assert!(buf.starts_with(b"GET / HTTP/1.1\r\n"));
}

#[test]
fn response_round_trip() {
    let map = headers(&[("transfer-encoding", "chunked"), ("server", "tollgate")]);
    let mut buf = BytesMut::new();
    encode_response_head(StatusCode::OK, &map, HeadExtras::default(), &mut buf);
    assert!(buf.starts_with(b"HTTP/1.1 200 OK\r\n"));
    let (head, n) = parse_response(&buf, &HeadLimits::default(), &Method::GET)
        .unwrap()
        .unwrap();
    assert_eq!(n, buf.len());
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.reason.as_deref(), Some(&b"OK"[..]));
    assert_eq!(head.headers, map);
    assert_eq!(head.framing, BodyFraming::Chunked);

    buf.clear();
    let unknown = StatusCode::from_u16(599).unwrap();
    encode_response_head(unknown, &HeaderMap::new(), HeadExtras::default(), &mut buf);
    assert_eq!(&buf[..], b"HTTP/1.1 599 \r\n\r\n");
    let (head, _) = parse_response(&buf, &HeadLimits::default(), &Method::GET)
        .unwrap()
        .unwrap();
    assert_eq!(head.status, unknown);
    assert_eq!(head.reason, None);
    assert_eq!(head.framing, BodyFraming::CloseDelimited);

    buf.clear();
    encode_response_head(
        StatusCode::NOT_FOUND,
        &HeaderMap::new(),
        HeadExtras::default(),
        &mut buf,
    );
    assert_eq!(&buf[..], b"HTTP/1.1 404 Not Found\r\n\r\n");
}

#[test]
fn chunks_round_trip() {
    let mut buf = BytesMut::new();
    encode_chunk(b"", &mut buf);
    assert!(buf.is_empty(), "empty data writes nothing");

    let big = vec![b'z'; 0x1234];
    encode_chunk(b"hello", &mut buf);
    encode_chunk(&big, &mut buf);
    assert!(buf.starts_with(b"5\r\nhello\r\n1234\r\n"));
    let trailers = headers(&[("x-checksum", "abc"), (header::ETAG.as_str(), "\"e\"")]);
    encode_last_chunk(Some(&trailers), &mut buf);

    let mut dec = ChunkedDecoder::new(1024);
    let mut data = Vec::new();
    let got = loop {
        match dec.decode(&mut buf).unwrap() {
            ChunkEvent::Data(d) => data.extend_from_slice(&d),
            ChunkEvent::NeedMore => panic!("complete input"),
            ChunkEvent::End { trailers } => break trailers,
        }
    };
    assert_eq!(data, [b"hello".as_slice(), &big].concat());
    assert_eq!(got, Some(trailers));
    assert!(buf.is_empty());

    encode_last_chunk(None, &mut buf);
    assert_eq!(&buf[..], b"0\r\n\r\n");
}

#[test]
fn extras_are_written_after_the_fields() {
    use tollgate_h1::{ConnectionField, FramingField};
    let mut map = HeaderMap::new();
    map.insert("x-a", "1".parse().unwrap());
    let mut buf = BytesMut::new();
    let extras = HeadExtras {
        framing: FramingField::Length(1234567),
        connection: Some(ConnectionField::Close),
    };
    encode_response_head(StatusCode::OK, &map, extras, &mut buf);
    assert_eq!(
        &buf[..],
        b"HTTP/1.1 200 OK\r\nx-a: 1\r\ncontent-length: 1234567\r\nconnection: close\r\n\r\n"
    );
    buf.clear();
    let extras = HeadExtras {
        framing: FramingField::Length(0),
        connection: None,
    };
    encode_request_head(&Method::GET, "/", &HeaderMap::new(), extras, &mut buf);
    assert_eq!(&buf[..], b"GET / HTTP/1.1\r\ncontent-length: 0\r\n\r\n");
}
