//! The `compress` policy: negotiation, what is and is not compressed, the
//! fields that change, round trips through each codec, and streaming.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use tollgate_testkit::{connect, request, HttpResponse, Reply, Tollgate, Upstream};

fn start(up: &Upstream, compress: &str) -> Tollgate {
    Tollgate::for_upstream(
        up,
        &format!(
            "routes:\n  - name: r\n    upstream: u\n    policies:\n      - compress: {compress}\n"
        ),
    )
}

fn text() -> String {
    (0..400)
        .map(|i| format!("line {i}: some compressible text\n"))
        .collect()
}

/// An origin answering `text()` as text/plain with a strong ETag, or what
/// the path asks for.
fn origin() -> Upstream {
    Upstream::scripted(|req| {
        let body = text();
        let reply = Reply::ok(body).header("etag", "\"e1\"");
        match req.path.as_str() {
            "/png" => reply.header("content-type", "image/png"),
            "/small" => Reply::ok("tiny").header("content-type", "text/plain"),
            "/encoded" => Reply::ok("already")
                .header("content-type", "text/plain")
                .header("content-encoding", "br"),
            "/no-transform" => reply
                .header("content-type", "text/plain")
                .header("cache-control", "no-transform"),
            "/partial" => Reply::new(206)
                .body("line")
                .header("content-type", "text/plain")
                .header("content-range", "bytes 0-3/100"),
            "/vary" => reply
                .header("content-type", "text/plain")
                .header("vary", "Origin"),
            "/empty" => Reply::new(204),
            "/svg" => reply.header("content-type", "image/svg+xml"),
            _ => reply.header("content-type", "text/plain; charset=utf-8"),
        }
    })
}

fn get(tg: &Tollgate, path: &str, ae: &str) -> HttpResponse {
    let headers: &[(&str, &str)] = if ae.is_empty() {
        &[]
    } else {
        &[("Accept-Encoding", ae)]
    };
    request(tg.addr("web"), "GET", path, headers, b"")
}

fn decode(coding: &str, data: &[u8]) -> String {
    let mut out = Vec::new();
    match coding {
        "gzip" => {
            flate2::read::GzDecoder::new(data)
                .read_to_end(&mut out)
                .unwrap();
        }
        "br" => {
            brotli::Decompressor::new(data, 4096)
                .read_to_end(&mut out)
                .unwrap();
        }
        "zstd" => out = zstd::stream::decode_all(data).unwrap(),
        other => panic!("unknown coding {other}"),
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn each_algorithm_round_trips_with_the_fields_adjusted() {
    let up = origin();
    let tg = start(&up, "{}");
    for coding in ["gzip", "br", "zstd"] {
        let r = get(&tg, "/", coding);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-encoding"), Some(coding));
        assert_eq!(r.header("content-length"), None, "{coding}: streamed");
        assert_eq!(r.header("transfer-encoding"), Some("chunked"));
        assert_eq!(r.header("vary"), Some("Accept-Encoding"));
        assert_eq!(r.header("etag"), Some("W/\"e1\""));
        assert!(
            r.body.len() < text().len() / 4,
            "{coding}: {} bytes",
            r.body.len()
        );
        assert_eq!(decode(coding, &r.body), text(), "{coding}");
    }
}

#[test]
fn the_coding_follows_q_values_then_the_configured_order() {
    let up = origin();
    let tg = start(&up, "{}");
    let coding = |ae: &str| {
        get(&tg, "/", ae)
            .header("content-encoding")
            .map(str::to_owned)
    };
    // Default order: zstd, br, gzip.
    assert_eq!(coding("gzip, br, zstd").as_deref(), Some("zstd"));
    assert_eq!(coding("gzip, deflate, br").as_deref(), Some("br"));
    assert_eq!(coding("gzip;q=0.5, br;q=0.8").as_deref(), Some("br"));
    assert_eq!(coding("*").as_deref(), Some("zstd"));
    assert_eq!(coding("zstd;q=0, *;q=0.1").as_deref(), Some("br"));
    assert_eq!(coding("identity"), None);
    assert_eq!(coding("identity;q=1, gzip;q=0.5"), None);
    assert_eq!(coding("gzip;q=0"), None);
    assert_eq!(coding("deflate"), None);
    let plain = get(&tg, "/", "");
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.header("vary"), Some("Accept-Encoding"));
    assert_eq!(plain.header("etag"), Some("\"e1\""));
    assert_eq!(plain.text(), text());

    let gzip_first = start(&up, "{algorithms: [gzip, br]}");
    let r = get(&gzip_first, "/", "br, gzip, zstd");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
}

#[test]
fn answers_that_must_not_or_need_not_be_compressed_are_left_alone() {
    let up = origin();
    let tg = start(&up, "{min_length: 100}");
    let all = "gzip, br, zstd";
    // Not a compressible type: no Vary either.
    let png = get(&tg, "/png", all);
    assert_eq!(
        (png.header("content-encoding"), png.header("vary")),
        (None, None)
    );
    // Compressible, but too small: Vary, since a larger one would be compressed.
    let small = get(&tg, "/small", all);
    assert_eq!(
        (small.header("content-encoding"), small.header("vary")),
        (None, Some("Accept-Encoding"))
    );
    assert_eq!(small.text(), "tiny");
    let encoded = get(&tg, "/encoded", all);
    assert_eq!(encoded.header("content-encoding"), Some("br"));
    assert_eq!(encoded.text(), "already");
    assert_eq!(encoded.header("vary"), None);
    let nt = get(&tg, "/no-transform", all);
    assert_eq!((nt.header("content-encoding"), nt.text()), (None, text()));
    let partial = get(&tg, "/partial", all);
    assert_eq!(
        (partial.status, partial.header("content-encoding")),
        (206, None)
    );
    let empty = get(&tg, "/empty", all);
    assert_eq!(
        (empty.status, empty.header("content-encoding")),
        (204, None)
    );
    let head = request(
        tg.addr("web"),
        "HEAD",
        "/",
        &[("Accept-Encoding", all)],
        b"",
    );
    assert_eq!(
        (head.header("content-encoding"), head.header("vary")),
        (None, Some("Accept-Encoding"))
    );
    // The client asked that nothing be transformed.
    let asked = request(
        tg.addr("web"),
        "GET",
        "/",
        &[("Accept-Encoding", all), ("Cache-Control", "no-transform")],
        b"",
    );
    assert_eq!(
        (asked.header("content-encoding"), asked.text()),
        (None, text())
    );
    // Types can be configured: only SVG here.
    let svg_only = start(&up, "{types: [image/svg+xml]}");
    assert_eq!(
        get(&svg_only, "/svg", "gzip").header("content-encoding"),
        Some("gzip")
    );
    assert_eq!(get(&svg_only, "/", "gzip").header("content-encoding"), None);
}

#[test]
fn vary_is_merged_with_the_origins() {
    let up = origin();
    let tg = start(&up, "{}");
    let r = get(&tg, "/vary", "gzip");
    assert_eq!(r.header_all("vary"), ["Origin, Accept-Encoding"]);
    assert_eq!(decode("gzip", &r.body), text());
}

#[test]
fn levels_are_configurable() {
    let up = origin();
    for level in ["1", "9"] {
        let tg = start(
            &up,
            &format!("{{levels: {{gzip: {level}, br: {level}, zstd: {level}}}}}"),
        );
        for coding in ["gzip", "br", "zstd"] {
            assert_eq!(decode(coding, &get(&tg, "/", coding).body), text());
        }
    }
}

/// Reads a chunked body from `stream` as it arrives; returns the time each
/// chunk's data was complete, and all the data, until the last chunk.
fn read_chunks(stream: &mut std::net::TcpStream) -> (Vec<(Instant, Vec<u8>)>, String) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = Vec::new();
    let mut chunks = Vec::new();
    let mut pos = None;
    let mut piece = [0u8; 4096];
    loop {
        let n = stream.read(&mut piece).expect("read within 5 s");
        assert!(n > 0, "closed early");
        buf.extend_from_slice(&piece[..n]);
        let at = Instant::now();
        if pos.is_none() {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                pos = Some(i + 4);
            }
        }
        let Some(mut p) = pos else { continue };
        while let Some(eol) = buf[p..].windows(2).position(|w| w == b"\r\n") {
            let size =
                usize::from_str_radix(std::str::from_utf8(&buf[p..p + eol]).unwrap(), 16).unwrap();
            if size == 0 {
                let head = String::from_utf8_lossy(&buf[..pos.unwrap()]).into_owned();
                return (chunks, head);
            }
            if buf.len() < p + eol + 2 + size + 2 {
                break;
            }
            chunks.push((at, buf[p + eol + 2..p + eol + 2 + size].to_vec()));
            p += eol + 2 + size + 2;
        }
        pos = Some(p);
    }
}

#[test]
fn streamed_answers_are_flushed_as_the_upstream_sends_them() {
    let up = Upstream::scripted(|_| {
        Reply::ok("")
            .header("content-type", "text/event-stream")
            .chunked(
                &["data: 1\n\n", "data: 2\n\n", "data: 3\n\n"],
                Duration::from_millis(300),
            )
    });
    let tg = start(&up, "{min_length: 0}");
    let mut stream = connect(tg.addr("web"));
    stream
        .write_all(b"GET /events HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n")
        .unwrap();
    let (chunks, head) = read_chunks(&mut stream);
    assert!(head.contains("content-encoding: gzip"), "{head}");
    let sent = up.chunk_times();
    assert_eq!(sent.len(), 3);
    // Each event was decodable before the upstream sent the next one.
    let mut decoder = flate2::write::GzDecoder::new(Vec::new());
    let mut seen = Vec::new();
    for (at, data) in &chunks {
        decoder.write_all(data).unwrap();
        decoder.flush().unwrap();
        let so_far = String::from_utf8(decoder.get_ref().clone()).unwrap();
        seen.push((*at, so_far));
    }
    for (i, event) in ["data: 1\n\n", "data: 2\n\n"].iter().enumerate() {
        let expected: String = ["data: 1\n\n", "data: 2\n\n", "data: 3\n\n"][..=i].concat();
        let (at, _) = seen
            .iter()
            .find(|(_, text)| *text == expected)
            .unwrap_or_else(|| panic!("{event:?} never decodable on its own: {seen:?}"));
        assert!(
            *at < sent[i + 1],
            "{event:?} arrived after the next one was sent"
        );
    }
    decoder.try_finish().unwrap();
    assert_eq!(
        String::from_utf8(decoder.get_ref().clone()).unwrap(),
        "data: 1\n\ndata: 2\n\ndata: 3\n\n"
    );
}

#[test]
fn http2_clients_get_compressed_answers() {
    let up = origin();
    let tg = start(&up, "{}");
    let r = tollgate_testkit::h2_request(
        tg.addr("web"),
        "GET",
        "/",
        &[("accept-encoding", "gzip")],
        b"",
    );
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(decode("gzip", &r.body), text());
}
