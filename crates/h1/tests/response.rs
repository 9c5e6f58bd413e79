//! Response head parsing: framing per request method and status, keep-alive,
//! rejects.

use http::{header, Method, StatusCode, Version};
use tollgate_h1::{parse_response, BodyFraming, HeadError, HeadLimits, ResponseHead};

fn parse(buf: &[u8], method: &Method) -> Result<Option<(ResponseHead, usize)>, HeadError> {
    parse_response(buf, &HeadLimits::default(), method)
}

fn ok(buf: &[u8], method: &Method) -> ResponseHead {
    match parse(buf, method) {
        Ok(Some((head, _))) => head,
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
    }
}

#[test]
fn framing_table() {
    let get = Method::GET;
    let cases: &[(&[u8], Method, BodyFraming, bool)] = &[
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", get.clone(), BodyFraming::Length(5), true),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", get.clone(), BodyFraming::Chunked, true),
        (b"HTTP/1.1 200 OK\r\n\r\n", get.clone(), BodyFraming::CloseDelimited, false),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", get.clone(), BodyFraming::Chunked, false),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", Method::HEAD, BodyFraming::Empty, true),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", Method::HEAD, BodyFraming::Empty, true),
        (b"HTTP/1.1 200 OK\r\n\r\n", Method::HEAD, BodyFraming::Empty, true),
        (b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", get.clone(), BodyFraming::Empty, true),
        (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", get.clone(), BodyFraming::Empty, true),
        (b"HTTP/1.1 100 Continue\r\n\r\n", get.clone(), BodyFraming::Empty, true),
        (b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", get.clone(), BodyFraming::Empty, true),
        (b"HTTP/1.1 200 Connection established\r\n\r\n", Method::CONNECT, BodyFraming::Empty, true),
        (b"HTTP/1.1 407 Auth\r\nContent-Length: 2\r\n\r\n", Method::CONNECT, BodyFraming::Length(2), true),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", get.clone(), BodyFraming::Length(5), false),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n", get.clone(), BodyFraming::Length(5), true),
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", get.clone(), BodyFraming::CloseDelimited, false),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n", get.clone(), BodyFraming::Length(5), false),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", get.clone(), BodyFraming::Length(5), true),
        (b"\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", get.clone(), BodyFraming::Length(0), true),
        (b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", get.clone(), BodyFraming::Length(0), true),
        (b"HTTP/1.1 599 \r\nContent-Length: 0\r\n\r\n", get.clone(), BodyFraming::Length(0), true),
    ];
    for (buf, method, framing, keep_alive) in cases {
        let head = ok(buf, method);
        let name = String::from_utf8_lossy(buf);
        assert_eq!(head.framing, *framing, "{name}");
        assert_eq!(head.keep_alive, *keep_alive, "{name}");
    }
}

#[test]
fn head_fields() {
    let buf = b"HTTP/1.1 404 Not Here\r\nServer: x\r\nContent-Length: 3\r\n\r\nabc";
    let (head, n) = parse(buf, &Method::GET).unwrap().unwrap();
    assert_eq!(n, buf.len() - 3);
    assert_eq!(head.status, StatusCode::NOT_FOUND);
    assert_eq!(head.version, Version::HTTP_11);
    assert_eq!(head.reason.as_deref(), Some(&b"Not Here"[..]));
    assert_eq!(head.headers["server"], "x");

    let head = ok(b"HTTP/1.1 200\r\n\r\n", &Method::GET);
    assert_eq!(head.reason, None);

    // TE overrides CL; the CL is dropped so it is never forwarded.
    let head = ok(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        &Method::GET,
    );
    assert!(head.headers.get(header::CONTENT_LENGTH).is_none());
}

#[test]
fn reject_table() {
    let cases: &[(&[u8], HeadError)] = &[
        (b"HTTP/1.1 20 OK\r\n\r\n", HeadError::InvalidStatusLine),
        (b"HTTP/1.1 2000 OK\r\n\r\n", HeadError::InvalidStatusLine),
        (b"HTTP/1.1 abc OK\r\n\r\n", HeadError::InvalidStatusLine),
        (b"HTTP/1.1 099 Low\r\n\r\n", HeadError::InvalidStatusLine),
        (b"HTTP/1.1 200 O\x01K\r\n\r\n", HeadError::InvalidStatusLine),
        (b"HTTP/1.1  200 OK\r\n\r\n", HeadError::InvalidStatusLine),
        (b"HTTP/1.1\r\n\r\n", HeadError::InvalidStatusLine),
        (b"HTTP/2.0 200 OK\r\n\r\n", HeadError::VersionNotSupported),
        (b"HTTP/1.2 200 OK\r\n\r\n", HeadError::VersionNotSupported),
        (b"HTTX/1.1 200 OK\r\n\r\n", HeadError::InvalidVersion),
        (
            b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
            HeadError::BareLf,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n",
            HeadError::BareLf,
        ),
        (b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", HeadError::BareCr),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            HeadError::InvalidContentLength,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
            HeadError::InvalidContentLength,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            HeadError::ConflictingContentLength,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            HeadError::UnsupportedTransferCoding,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            HeadError::UnsupportedTransferCoding,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            HeadError::InvalidTransferEncoding,
        ),
        (
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            HeadError::TransferEncodingInHttp10,
        ),
        (b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", HeadError::ObsFold),
        (
            b"HTTP/1.1 200 OK\r\nX : a\r\n\r\n",
            HeadError::WhitespaceBeforeColon,
        ),
    ];
    for (buf, want) in cases {
        let got = parse(buf, &Method::GET);
        assert_eq!(
            got.as_ref().err(),
            Some(want),
            "{}: {got:?}",
            String::from_utf8_lossy(buf)
        );
    }
}

#[test]
fn incremental_and_limits() {
    let buf = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX: y\r\n\r\nhi";
    for len in 0..buf.len() - 2 {
        assert!(
            matches!(parse(&buf[..len], &Method::GET), Ok(None)),
            "prefix {len}"
        );
    }
    let (_, n) = parse(buf, &Method::GET).unwrap().unwrap();
    assert_eq!(n, buf.len() - 2);

    let limits = HeadLimits {
        max_head_bytes: 20,
        max_headers: 1,
        max_uri_length: 10,
    };
    assert_eq!(
        parse_response(&buf[..25], &limits, &Method::GET).unwrap_err(),
        HeadError::HeadTooLarge
    );
    let limits = HeadLimits {
        max_headers: 1,
        ..HeadLimits::default()
    };
    assert_eq!(
        parse_response(buf, &limits, &Method::GET).unwrap_err(),
        HeadError::TooManyHeaders
    );
    // A limit above what the stack holds: small heads and heads with more
    // fields than the stack holds both parse; over the limit is refused.
    let wide = HeadLimits {
        max_headers: 256,
        ..HeadLimits::default()
    };
    for (fields, ok) in [(3, true), (200, true), (300, false)] {
        let mut resp = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n".to_vec();
        for i in 1..fields {
            resp.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
        }
        resp.extend_from_slice(b"\r\n");
        match parse_response(&resp, &wide, &Method::GET) {
            Ok(Some((head, n))) if ok => {
                assert_eq!((head.headers.len(), n), (fields, resp.len()));
            }
            Err(HeadError::TooManyHeaders) if !ok => {}
            other => panic!("{fields} fields: {:?}", other.map(|o| o.map(|(_, n)| n))),
        }
    }
}
