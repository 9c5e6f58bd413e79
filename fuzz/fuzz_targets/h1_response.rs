//! Response heads: `parse_response` on arbitrary bytes (for a request
//! method picked by the first byte), then the body decoded by the framing
//! the head chose.
//!
//! Checked beyond "no panic": `consumed` lies within the input; a prefix
//! never contradicts the whole input; bodiless answers (HEAD, 1xx, 204,
//! 304, 2xx to CONNECT) get no body; a chunked response carries no
//! Content-Length; decoding makes progress and respects Content-Length.

#![no_main]

use bytes::BytesMut;
use http::Method;
use libfuzzer_sys::fuzz_target;
use tollgate_h1::{
    parse_response, BodyFraming, ChunkEvent, ChunkedDecoder, HeadLimits, LengthDecoder,
};

const LIMITS: HeadLimits = HeadLimits {
    max_head_bytes: 4 * 1024,
    max_headers: 32,
    max_uri_length: 1024,
};

const METHODS: [Method; 4] = [Method::GET, Method::HEAD, Method::CONNECT, Method::POST];

fuzz_target!(|input: &[u8]| {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    let method = &METHODS[usize::from(selector) % METHODS.len()];
    let full = parse_response(data, &LIMITS, method);

    if !data.is_empty() {
        let cut = usize::from(selector) * data.len() / 256;
        match parse_response(&data[..cut], &LIMITS, method) {
            Err(_) => assert!(full.is_err(), "prefix {cut} rejected, whole input accepted"),
            Ok(Some((head, used))) => {
                let Ok(Some((full_head, full_used))) = &full else {
                    panic!("prefix {cut} complete, whole input not: {full:?}");
                };
                assert_eq!(used, *full_used);
                assert_eq!(head.status, full_head.status);
                assert_eq!(head.framing, full_head.framing);
            }
            Ok(None) => {}
        }
    }

    let Ok(Some((head, used))) = full else {
        return;
    };
    assert!(used > 0 && used <= data.len());
    let code = head.status.as_u16();
    let bodiless = *method == Method::HEAD
        || (100..200).contains(&code)
        || code == 204
        || code == 304
        || (*method == Method::CONNECT && (200..300).contains(&code));
    if bodiless {
        assert_eq!(
            head.framing,
            BodyFraming::Empty,
            "{code} to {method} with a body"
        );
    }
    let mut rest = BytesMut::from(&data[used..]);
    match head.framing {
        BodyFraming::Chunked => {
            assert!(!head.headers.contains_key(http::header::CONTENT_LENGTH));
            let mut decoder = ChunkedDecoder::new(1024);
            for _ in 0..=data.len() + 2 {
                match decoder.decode(&mut rest) {
                    Ok(ChunkEvent::Data(b)) => assert!(!b.is_empty()),
                    Ok(ChunkEvent::NeedMore) => {
                        assert!(rest.is_empty());
                        break;
                    }
                    Ok(ChunkEvent::End { .. }) | Err(_) => break,
                }
            }
        }
        BodyFraming::Length(n) => {
            let mut decoder = LengthDecoder::new(n);
            let mut got = 0u64;
            for _ in 0..=data.len() + 2 {
                match decoder.decode(&mut rest) {
                    ChunkEvent::Data(b) => {
                        got += b.len() as u64;
                        assert!(got <= n);
                    }
                    ChunkEvent::NeedMore | ChunkEvent::End { .. } => break,
                }
            }
        }
        BodyFraming::CloseDelimited => assert!(!head.keep_alive, "close-delimited but keep-alive"),
        BodyFraming::Empty => {}
    }
});
