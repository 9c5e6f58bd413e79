//! Request heads: `parse_request` on arbitrary bytes, then the body that
//! follows decoded with the framing the head chose.
//!
//! Checked beyond "no panic":
//! * `consumed` lies within the input, and parsing a prefix of the input
//!   never contradicts parsing all of it (an error on a prefix stays an
//!   error; a complete head on a prefix is the same head);
//! * body decoding makes progress and never yields more than the framing allows;
//! * chunked decoding gives the same outcome whether the input arrives at
//!   once or split in two.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tollgate_h1::{
    encode_request_head, parse_request, BodyFraming, ChunkEvent, ChunkedDecoder, HeadExtras,
    HeadLimits, LengthDecoder,
};

const LIMITS: HeadLimits = HeadLimits {
    max_head_bytes: 4 * 1024,
    max_headers: 32,
    max_uri_length: 1024,
};

/// Re-encoded heads may grow a little (a space after each colon).
const ROUND_TRIP_LIMITS: HeadLimits = HeadLimits {
    max_head_bytes: 64 * 1024,
    max_headers: 64,
    max_uri_length: 64 * 1024,
};

/// Trailer bytes accepted by the chunked decoder.
const MAX_TRAILER_BYTES: usize = 512;

/// What decoding a chunked body gave: the data, whether it ended (and with
/// how many trailer fields), or the error.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    data: Vec<u8>,
    end: Option<usize>,
    error: Option<String>,
    left: Vec<u8>,
}

fn decode_chunked(pieces: &[&[u8]]) -> Outcome {
    let mut decoder = ChunkedDecoder::new(MAX_TRAILER_BYTES);
    let mut input = BytesMut::new();
    let mut data = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        input.extend_from_slice(piece);
        // Every call consumes input or returns Data / End; bound it anyway.
        for _ in 0..=input.len() + 2 {
            match decoder.decode(&mut input) {
                Ok(ChunkEvent::Data(b)) => {
                    assert!(!b.is_empty(), "empty Data event");
                    data.extend_from_slice(&b);
                }
                Ok(ChunkEvent::NeedMore) => {
                    assert!(input.is_empty(), "NeedMore with input left");
                    break;
                }
                Ok(ChunkEvent::End { trailers }) => {
                    assert!(decoder.is_done());
                    // What follows the body, including pieces not fed yet.
                    let mut left = input.to_vec();
                    for rest in &pieces[i + 1..] {
                        left.extend_from_slice(rest);
                    }
                    return Outcome {
                        data,
                        end: Some(trailers.map_or(0, |t| t.len())),
                        error: None,
                        left,
                    };
                }
                Err(e) => {
                    return Outcome {
                        data,
                        end: None,
                        error: Some(e.to_string()),
                        left: Vec::new(),
                    }
                }
            }
        }
    }
    Outcome {
        data,
        end: None,
        error: None,
        left: Vec::new(),
    }
}

fn decode_length(n: u64, rest: &[u8]) {
    let mut decoder = LengthDecoder::new(n);
    let mut input = BytesMut::from(rest);
    let mut got = 0u64;
    for _ in 0..=rest.len() + 2 {
        match decoder.decode(&mut input) {
            ChunkEvent::Data(b) => {
                assert!(!b.is_empty());
                got += b.len() as u64;
                assert!(got <= n, "more body than Content-Length");
            }
            ChunkEvent::NeedMore => break,
            ChunkEvent::End { trailers } => {
                assert!(trailers.is_none());
                assert_eq!(got, n);
                let expected_left = rest.len() - usize::try_from(n).unwrap_or(usize::MAX);
                assert_eq!(input.len(), expected_left);
                return;
            }
        }
    }
    assert!(got < n || n == 0);
}

fuzz_target!(|data: &[u8]| {
    let full = parse_request(data, &LIMITS);

    // A prefix never contradicts the whole input.
    if !data.is_empty() {
        let cut = usize::from(data[0]) * data.len() / 256;
        match parse_request(&data[..cut], &LIMITS) {
            Err(_) => assert!(full.is_err(), "prefix {cut} rejected, whole input accepted"),
            Ok(Some((head, used))) => {
                let Ok(Some((full_head, full_used))) = &full else {
                    panic!("prefix {cut} complete, whole input not: {full:?}");
                };
                assert_eq!(used, *full_used);
                assert_eq!(head.method, full_head.method);
                assert_eq!(head.uri, full_head.uri);
                assert_eq!(head.framing, full_head.framing);
            }
            Ok(None) => {}
        }
    }

    let Ok(Some((head, used))) = full else {
        // Not a request head: still exercise the chunked decoder on it.
        let split = data.len() / 2;
        let whole = decode_chunked(&[data]);
        let parts = decode_chunked(&[&data[..split], &data[split..]]);
        assert_eq!(whole, parts, "split at {split} changed the outcome");
        return;
    };
    assert!(used > 0 && used <= data.len());
    assert!(head.uri.to_string().len() <= LIMITS.max_uri_length.max(1) * 2);
    assert!(head.headers.len() <= LIMITS.max_headers);
    let rest = &data[used..];
    match head.framing {
        BodyFraming::Chunked => {
            assert!(!head.headers.contains_key(http::header::CONTENT_LENGTH));
            let split = rest.len() / 3;
            let whole = decode_chunked(&[rest]);
            let parts = decode_chunked(&[&rest[..split], &rest[split..]]);
            assert_eq!(whole, parts, "split at {split} changed the outcome");
        }
        BodyFraming::Length(n) => {
            assert!(!head.headers.contains_key(http::header::TRANSFER_ENCODING));
            decode_length(n, rest);
        }
        BodyFraming::Empty => {}
        BodyFraming::CloseDelimited => panic!("close-delimited request body"),
    }
    // Written out again, the head parses to the same request.
    // Origin-form from path and query. (Not `path_and_query()`: for
    // `http://a?q` that is `?q`, which is not a valid request-target; see
    // the ignored test in tests/hardening.rs.)
    let target = match head.uri.query() {
        Some(q) => format!("{}?{q}", head.uri.path()),
        None => head.uri.path().to_owned(),
    };
    let mut out = BytesMut::new();
    encode_request_head(
        &head.method,
        &target,
        &head.headers,
        HeadExtras::default(),
        &mut out,
    );
    if head.method != http::Method::CONNECT && head.headers.contains_key(http::header::HOST) {
        let again = parse_request(&out, &ROUND_TRIP_LIMITS);
        let Ok(Some((again, n))) = again else {
            panic!(
                "re-encoded head rejected: {again:?}\n{:?}",
                String::from_utf8_lossy(&out)
            );
        };
        assert_eq!(n, out.len());
        assert_eq!(again.method, head.method);
        assert_eq!(again.uri.path(), head.uri.path());
        assert_eq!(again.uri.query(), head.uri.query());
        assert_eq!(again.framing, head.framing);
    }
});
