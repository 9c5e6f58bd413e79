//! Request head parsing: accept / reject tables, pipelining, incremental input.

use http::{header, Method, StatusCode, Version};
use tollgate_h1::{
    is_h2_preface, parse_request, BodyFraming, HeadError, HeadLimits, RequestHead, H2_PREFACE,
};

fn parse(buf: &[u8]) -> Result<Option<(RequestHead, usize)>, HeadError> {
    parse_request(buf, &HeadLimits::default())
}

fn ok(buf: &[u8]) -> (RequestHead, usize) {
    match parse(buf) {
        Ok(Some(r)) => r,
        other => panic!(
            "{:?}: expected a head, got {other:?}",
            String::from_utf8_lossy(buf)
        ),
    }
}

/// Requests that must parse, with the expected framing.
const ACCEPT: &[(&str, &[u8], BodyFraming)] = &[
    ("simple", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", BodyFraming::Empty),
    ("leading crlf", b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", BodyFraming::Empty),
    ("http10 no host", b"GET /x HTTP/1.0\r\n\r\n", BodyFraming::Empty),
    ("cl", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", BodyFraming::Length(5)),
    ("cl zero", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", BodyFraming::Length(0)),
    ("cl leading zeros", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n", BodyFraming::Length(7)),
    ("cl list same", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", BodyFraming::Length(5)),
    ("cl lines same", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", BodyFraming::Length(5)),
    ("cl max", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n", BodyFraming::Length(u64::MAX)),
    ("te chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", BodyFraming::Chunked),
    ("te case", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChUnKeD\r\n\r\n", BodyFraming::Chunked),
    ("absolute form", b"GET http://b.example:8080/p?q HTTP/1.1\r\nHost: a\r\n\r\n", BodyFraming::Empty),
    ("absolute no path", b"GET https://b.example HTTP/1.1\r\nHost: b.example\r\n\r\n", BodyFraming::Empty),
    ("options star", b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", BodyFraming::Empty),
    ("connect", b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", BodyFraming::Empty),
    ("expect", b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n", BodyFraming::Length(1)),
    ("upgrade", b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n", BodyFraming::Empty),
    ("obs-text value", b"GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9 \xff\r\n\r\n", BodyFraming::Empty),
    ("empty value", b"GET / HTTP/1.1\r\nHost: a\r\nX:\r\nY: \r\n\r\n", BodyFraming::Empty),
    ("htab value", b"GET / HTTP/1.1\r\nHost: a\r\nX:\ta\tb\t\r\n\r\n", BodyFraming::Empty),
    ("empty host", b"GET / HTTP/1.1\r\nHost:\r\n\r\n", BodyFraming::Empty),
    ("ipv6 host", b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", BodyFraming::Empty),
    ("host port", b"GET / HTTP/1.1\r\nHost: example.com:80\r\n\r\n", BodyFraming::Empty),
    ("extension method", b"PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n", BodyFraming::Empty),
    ("query chars", b"GET /a/b;c\"{}|^[]?d=e&f=%20g[]{}|^~ HTTP/1.1\r\nHost: a\r\n\r\n", BodyFraming::Empty),
];

#[test]
fn accept_table() {
    for (name, buf, framing) in ACCEPT {
        let (head, n) = match parse(buf) {
            Ok(Some(r)) => r,
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(head.framing, *framing, "{name}");
        let body_len = if buf.ends_with(b"hello") { 5 } else { 0 };
        assert_eq!(n + body_len, buf.len(), "{name}: consumed");
    }
}

/// Requests that must be rejected, with the expected error.
const REJECT: &[(&str, &[u8], HeadError)] = &[
    ("cl and te", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", HeadError::ContentLengthAndTransferEncoding),
    ("te and cl", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", HeadError::ContentLengthAndTransferEncoding),
    ("cl differ lines", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", HeadError::ConflictingContentLength),
    ("cl differ list", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", HeadError::ConflictingContentLength),
    ("cl plus", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", HeadError::InvalidContentLength),
    ("cl minus", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", HeadError::InvalidContentLength),
    ("cl inner space", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\n", HeadError::InvalidContentLength),
    ("cl hex", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", HeadError::InvalidContentLength),
    ("cl empty", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", HeadError::InvalidContentLength),
    ("cl empty element", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n", HeadError::InvalidContentLength),
    ("cl overflow", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n", HeadError::InvalidContentLength),
    ("te gzip chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", HeadError::UnsupportedTransferCoding),
    ("te chunked gzip", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", HeadError::InvalidTransferEncoding),
    ("te gzip", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", HeadError::InvalidTransferEncoding),
    ("te identity", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", HeadError::InvalidTransferEncoding),
    ("te twice list", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", HeadError::InvalidTransferEncoding),
    ("te twice lines", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", HeadError::InvalidTransferEncoding),
    ("te empty", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", HeadError::InvalidTransferEncoding),
    ("te params", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", HeadError::InvalidTransferEncoding),
    ("te junk", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", HeadError::InvalidTransferEncoding),
    ("te http10", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", HeadError::TransferEncodingInHttp10),
    ("obs fold", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", HeadError::ObsFold),
    ("obs fold tab", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", HeadError::ObsFold),
    ("space before first header", b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", HeadError::ObsFold),
    ("space before colon", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", HeadError::WhitespaceBeforeColon),
    ("tab before colon", b"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", HeadError::WhitespaceBeforeColon),
    ("bare cr value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", HeadError::BareCr),
    ("bare cr request line", b"GET / HTTP/1.1\rX\r\nHost: a\r\n\r\n", HeadError::BareCr),
    ("bare cr end", b"GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n", HeadError::BareCr),
    ("bare cr leading", b"\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::BareCr),
    ("bare lf request line", b"GET / HTTP/1.1\nHost: a\r\n\r\n", HeadError::BareLf),
    ("bare lf header", b"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", HeadError::BareLf),
    ("bare lf end", b"GET / HTTP/1.1\r\nHost: a\r\n\n", HeadError::BareLf),
    ("bare lf all", b"GET / HTTP/1.1\nHost: a\n\n", HeadError::BareLf),
    ("bare lf leading", b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::BareLf),
    ("nul value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", HeadError::InvalidHeaderValue),
    ("ctl value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", HeadError::InvalidHeaderValue),
    ("del value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n", HeadError::InvalidHeaderValue),
    ("esc value", b"GET / HTTP/1.1\r\nHost: a\r\nX: \x1b[0m\r\n\r\n", HeadError::InvalidHeaderValue),
    ("bad name", b"GET / HTTP/1.1\r\nHost: a\r\nX(y): b\r\n\r\n", HeadError::InvalidHeaderName),
    ("empty name", b"GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", HeadError::InvalidHeaderName),
    ("nul name", b"GET / HTTP/1.1\r\nHost: a\r\nX\0: b\r\n\r\n", HeadError::InvalidHeaderName),
    ("no colon", b"GET / HTTP/1.1\r\nHost: a\r\nXY\r\n\r\n", HeadError::InvalidHeaderName),
    ("bad method", b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::InvalidMethod),
    ("empty method", b" / HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::InvalidMethod),
    ("nul method", b"G\0T / HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::InvalidMethod),
    ("target ctl", b"GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::InvalidTarget),
    ("target tab", b"GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::InvalidTarget),
    ("target del", b"GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::InvalidTarget),
    ("target utf8", b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::InvalidTarget),
    ("target fragment", b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::InvalidTarget),
    ("double space", b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::InvalidTarget),
    ("star not options", b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::InvalidTarget),
    ("authority not connect", b"GET a.example:80 HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::InvalidTarget),
    ("relative path", b"GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::InvalidTarget),
    ("connect origin", b"CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::InvalidTarget),
    ("connect no port", b"CONNECT a.example HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::InvalidTarget),
    ("connect userinfo", b"CONNECT u@a.example:443 HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::InvalidTarget),
    ("absolute userinfo", b"GET http://u:p@a.example/ HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::InvalidTarget),
    ("absolute ftp", b"GET ftp://a.example/ HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::InvalidTarget),
    ("absolute empty host", b"GET http:///p HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::InvalidTarget),
    ("no host", b"GET / HTTP/1.1\r\nX: a\r\n\r\n", HeadError::MissingHost),
    ("absolute no host", b"GET http://a/ HTTP/1.1\r\n\r\n", HeadError::MissingHost),
    ("two hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", HeadError::MultipleHost),
    ("two hosts 1.0", b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", HeadError::MultipleHost),
    ("host space", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", HeadError::InvalidHost),
    ("host userinfo", b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", HeadError::InvalidHost),
    ("host path", b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", HeadError::InvalidHost),
    ("host port big", b"GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n", HeadError::InvalidHost),
    ("host port alpha", b"GET / HTTP/1.1\r\nHost: a:8o\r\n\r\n", HeadError::InvalidHost),
    ("host two colons", b"GET / HTTP/1.1\r\nHost: a:1:2\r\n\r\n", HeadError::InvalidHost),
    ("host list", b"GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", HeadError::InvalidHost),
    ("h2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", HeadError::VersionNotSupported),
    ("http 2", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", HeadError::VersionNotSupported),
    ("http 1.2", b"GET / HTTP/1.2\r\nHost: a\r\n\r\n", HeadError::VersionNotSupported),
    ("http 0.9 version", b"GET / HTTP/0.9\r\nHost: a\r\n\r\n", HeadError::VersionNotSupported),
    ("bad version", b"GET / HTTX/1.1\r\nHost: a\r\n\r\n", HeadError::InvalidVersion),
    ("lower version", b"GET / http/1.1\r\nHost: a\r\n\r\n", HeadError::InvalidVersion),
    ("long version", b"GET / HTTP/1.10\r\nHost: a\r\n\r\n", HeadError::InvalidVersion),
    ("target with space", b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::InvalidTarget),
    ("http 0.9 request", b"GET /\r\n\r\n", HeadError::InvalidTarget),
    ("expect other", b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", HeadError::UnsupportedExpectation),
    ("expect list", b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, foo\r\n\r\n", HeadError::UnsupportedExpectation),
    ("expect second", b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nExpect: x\r\n\r\n", HeadError::UnsupportedExpectation),
];

#[test]
fn reject_table() {
    for (name, buf, want) in REJECT {
        match parse(buf) {
            Err(e) => {
                assert_eq!(e, *want, "{name}");
                assert!(!e.to_string().is_empty());
            }
            other => panic!("{name}: expected {want:?}, got {other:?}"),
        }
    }
}

#[test]
fn error_statuses() {
    let cases = [
        (HeadError::ContentLengthAndTransferEncoding, 400),
        (HeadError::BareLf, 400),
        (HeadError::UriTooLong, 414),
        (HeadError::HeadTooLarge, 431),
        (HeadError::TooManyHeaders, 431),
        (HeadError::UnsupportedTransferCoding, 501),
        (HeadError::VersionNotSupported, 505),
        (HeadError::UnsupportedExpectation, 417),
        (HeadError::MissingHost, 400),
    ];
    for (e, code) in cases {
        assert_eq!(e.status(), StatusCode::from_u16(code).unwrap(), "{e:?}");
    }
    assert_eq!(
        HeadError::ContentLengthAndTransferEncoding.to_string(),
        "both Content-Length and Transfer-Encoding"
    );
    assert_eq!(HeadError::BareLf.to_string(), "bare LF in message head");
}

#[test]
fn fields_and_flags() {
    let (h, _) = ok(b"GET /p?q=1 HTTP/1.1\r\nHost: a.example\r\nX-A: 1\r\nx-a: 2\r\n\r\n");
    assert_eq!(h.method, Method::GET);
    assert_eq!(h.version, Version::HTTP_11);
    assert_eq!(h.uri.path(), "/p");
    assert_eq!(h.uri.query(), Some("q=1"));
    assert_eq!(h.headers[header::HOST], "a.example");
    let xa: Vec<_> = h.headers.get_all("x-a").iter().collect();
    assert_eq!(xa, ["1", "2"]);
    assert!(h.keep_alive && !h.expect_continue && !h.upgrade);

    let (h, _) = ok(b"GET / HTTP/1.1\r\nHost: a\r\nX:  padded \t \r\n\r\n");
    assert_eq!(h.headers["x"], "padded");

    let (h, _) =
        ok(b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    assert!(h.expect_continue);
    let (h, _) = ok(b"PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    assert!(!h.expect_continue, "1.0 ignores 100-continue");

    let (h, _) =
        ok(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    assert!(h.upgrade);
    let (h, _) = ok(b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n");
    assert!(!h.upgrade, "needs the Connection token");
    let (h, _) = ok(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n");
    assert!(!h.upgrade, "needs the Upgrade field");
    let (h, _) = ok(b"GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
    assert!(!h.upgrade, "1.0 ignores Upgrade");

    let (h, _) = ok(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n");
    let cl: Vec<_> = h.headers.get_all(header::CONTENT_LENGTH).iter().collect();
    assert_eq!(cl, ["5"], "repeated identical values collapse to one");
}

#[test]
fn request_targets() {
    let (h, _) = ok(b"GET http://b.example:8080/p?q HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(h.uri.scheme_str(), Some("http"));
    assert_eq!(h.uri.authority().unwrap().as_str(), "b.example:8080");
    assert_eq!(h.uri.path_and_query().unwrap().as_str(), "/p?q");
    assert_eq!(
        h.headers[header::HOST],
        "b.example:8080",
        "absolute-form wins"
    );
    assert_eq!(h.headers.get_all(header::HOST).iter().count(), 1);

    let (h, _) = ok(b"GET HTTP://B.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n");
    assert_eq!(
        h.headers[header::HOST],
        "b.example",
        "case-insensitive match kept"
    );

    let (h, _) = ok(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(h.uri, "*");

    let (h, _) = ok(b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n");
    assert_eq!(h.uri.authority().unwrap().as_str(), "a.example:443");
    assert_eq!(h.uri.port_u16(), Some(443));

    let (h, _) = ok(b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n");
    assert_eq!(h.uri.host(), Some("[::1]"));
}

#[test]
fn keep_alive_rules() {
    let cases: &[(&[u8], bool)] = &[
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            false,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, CLOSE\r\n\r\n",
            false,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: x\r\nConnection: close\r\n\r\n",
            false,
        ),
        (b"GET / HTTP/1.0\r\n\r\n", false),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true),
        (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
        (
            b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
            false,
        ),
    ];
    for (buf, want) in cases {
        assert_eq!(
            ok(buf).0.keep_alive,
            *want,
            "{}",
            String::from_utf8_lossy(buf)
        );
    }
}

#[test]
fn pipelined() {
    let first = b"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n".as_slice();
    let second = b"GET /b HTTP/1.1\r\nHost: a\r\n\r\n".as_slice();
    let all = [first, b"abc", second, b"GET /c HTTP/1."].concat();
    let (h1, n1) = ok(&all);
    assert_eq!(n1, first.len());
    assert_eq!(h1.framing, BodyFraming::Length(3));
    let rest = &all[n1 + 3..];
    let (h2, n2) = ok(rest);
    assert_eq!(n2, second.len());
    assert_eq!(h2.uri, "/b");
    assert!(matches!(parse(&rest[n2..]), Ok(None)));
}

#[test]
fn incremental_byte_by_byte() {
    for (name, buf, _) in ACCEPT {
        let (full, n) = ok(buf);
        for len in 0..n {
            match parse(&buf[..len]) {
                Ok(None) => {}
                other => panic!("{name}: prefix {len}: {other:?}"),
            }
        }
        let (head, m) = ok(&buf[..n]);
        assert_eq!(m, n, "{name}");
        assert_eq!(head.method, full.method);
        assert_eq!(head.uri, full.uri);
        assert_eq!(head.headers, full.headers);
        assert_eq!(head.framing, full.framing);
        assert_eq!(head.keep_alive, full.keep_alive);
    }
}

#[test]
fn limits() {
    let limits = HeadLimits {
        max_head_bytes: 64,
        max_headers: 2,
        max_uri_length: 16,
    };
    let small = b"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\r\n";
    assert!(parse_request(small, &limits).unwrap().is_some());

    let too_many = b"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\nY: c\r\n\r\n";
    assert_eq!(
        parse_request(too_many, &limits).unwrap_err(),
        HeadError::TooManyHeaders
    );

    let big =
        b"GET / HTTP/1.1\r\nHost: a\r\nX: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n\r\n";
    assert_eq!(
        parse_request(big, &limits).unwrap_err(),
        HeadError::HeadTooLarge
    );
    // Incomplete but already at the limit.
    assert_eq!(
        parse_request(&big[..64], &limits).unwrap_err(),
        HeadError::HeadTooLarge
    );
    assert!(parse_request(&big[..63], &limits).unwrap().is_none());

    // Exactly max_head_bytes is fine, even with body bytes following.
    let exact = [
        b"GET / HTTP/1.1\r\nHost: a\r\nX: ".as_slice(),
        &[b'b'; 32],
        b"\r\n\r\nBODY",
    ]
    .concat();
    assert_eq!(exact.len(), 64 + 4);
    let (_, n) = parse_request(&exact, &limits).unwrap().unwrap();
    assert_eq!(n, 64);

    let long_uri = b"GET /0123456789abcdef HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_eq!(
        parse_request(long_uri, &limits).unwrap_err(),
        HeadError::UriTooLong
    );
    // Request line alone exceeds the head limit: still 414.
    let huge_uri = [b"GET /".as_slice(), &[b'a'; 100]].concat();
    assert_eq!(
        parse_request(&huge_uri, &limits).unwrap_err(),
        HeadError::UriTooLong
    );
    // URI over its limit is reported before the head limit is reached.
    assert_eq!(
        parse_request(&huge_uri[..30], &limits).unwrap_err(),
        HeadError::UriTooLong
    );
    let uri_16 = b"GET /123456789abcdef HTTP/1.1\r\nHost: a\r\n\r\n";
    assert!(parse_request(uri_16, &limits).unwrap().is_some());

    // Endless CRLFs hit the head limit.
    assert_eq!(
        parse_request(&[b'\r', b'\n'].repeat(40), &limits).unwrap_err(),
        HeadError::HeadTooLarge
    );

    // More headers than fit on the stack.
    let many = HeadLimits {
        max_headers: 300,
        ..HeadLimits::default()
    };
    let mut req = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    for i in 0..250 {
        req.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    let (h, _) = parse_request(&req, &many).unwrap().unwrap();
    assert_eq!(h.headers.len(), 251);
    assert_eq!(
        parse_request(&req, &HeadLimits::default()).unwrap_err(),
        HeadError::TooManyHeaders
    );
}

#[test]
fn h2_preface() {
    assert_eq!(is_h2_preface(b""), None);
    assert_eq!(is_h2_preface(b"PRI * HTTP/2"), None);
    assert_eq!(is_h2_preface(H2_PREFACE), Some(true));
    let mut with_frames = H2_PREFACE.to_vec();
    with_frames.extend_from_slice(b"\0\0\0\x04");
    assert_eq!(is_h2_preface(&with_frames), Some(true));
    assert_eq!(is_h2_preface(b"GET / HTTP/1.1\r\n"), Some(false));
    assert_eq!(is_h2_preface(b"PRX"), Some(false));
    assert_eq!(
        is_h2_preface(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"),
        Some(false)
    );
}
