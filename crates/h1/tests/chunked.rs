//! Chunked and length-delimited body decoding, fed in every split.

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use tollgate_h1::{ChunkError, ChunkEvent, ChunkedDecoder, LengthDecoder};

#[derive(Debug, PartialEq)]
struct Decoded {
    data: Vec<u8>,
    trailers: Option<HeaderMap>,
    rest: Vec<u8>,
}

/// Feeds `pieces` in order, draining events after each one.
fn decode_pieces(pieces: &[&[u8]], max_trailer: usize) -> Result<Decoded, ChunkError> {
    let mut dec = ChunkedDecoder::new(max_trailer);
    let mut input = BytesMut::new();
    let mut data = Vec::new();
    for piece in pieces {
        input.extend_from_slice(piece);
        loop {
            match dec.decode(&mut input)? {
                ChunkEvent::Data(d) => {
                    assert!(!d.is_empty());
                    data.extend_from_slice(&d);
                }
                ChunkEvent::NeedMore => {
                    assert!(input.is_empty(), "NeedMore leaves no unconsumed input");
                    break;
                }
                ChunkEvent::End { trailers } => {
                    assert!(dec.is_done());
                    assert_eq!(dec.decode(&mut input)?, ChunkEvent::End { trailers: None });
                    // Whatever is left belongs to the next message.
                    let mut rest = input.to_vec();
                    for later in pieces
                        .iter()
                        .skip_while(|p| !std::ptr::eq(*p, piece))
                        .skip(1)
                    {
                        rest.extend_from_slice(later);
                    }
                    return Ok(Decoded {
                        data,
                        trailers,
                        rest,
                    });
                }
            }
        }
    }
    Ok(Decoded {
        data,
        trailers: None,
        rest: b"<incomplete>".to_vec(),
    })
}

/// Decodes `wire` whole, split in two at every position, split in three at
/// every pair of positions and byte by byte; all must agree.
fn decode_all_splits(wire: &[u8], max_trailer: usize) -> Result<Decoded, ChunkError> {
    let whole = decode_pieces(&[wire], max_trailer);
    for i in 0..=wire.len() {
        let (a, b) = wire.split_at(i);
        assert_eq!(decode_pieces(&[a, b], max_trailer), whole, "split at {i}");
    }
    if wire.len() <= 64 {
        for i in 0..=wire.len() {
            for j in i..=wire.len() {
                let pieces = [&wire[..i], &wire[i..j], &wire[j..]];
                assert_eq!(
                    decode_pieces(&pieces, max_trailer),
                    whole,
                    "split at {i},{j}"
                );
            }
        }
    }
    let bytes: Vec<&[u8]> = wire.chunks(1).collect();
    assert_eq!(decode_pieces(&bytes, max_trailer), whole, "byte by byte");
    whole
}

#[test]
fn accepts() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"5\r\nhello\r\n0\r\n\r\n", b"hello"),
        (b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", b"hello world"),
        (b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),
        (b"a\r\n0123456789\r\n000\r\n\r\n", b"0123456789"),
        (b"0005\r\nhello\r\n0\r\n\r\n", b"hello"),
        (b"0\r\n\r\n", b""),
        (b"5;name=value\r\nhello\r\n0;last\r\n\r\n", b"hello"),
        (b"5;a=\"q d;\\\"x\";b\r\nhello\r\n0\r\n\r\n", b"hello"),
        (b"5 ;a\r\nhello\r\n0\t;b\r\n\r\n", b"hello"),
        (b"5;\xc3\xa9\r\nhello\r\n0\r\n\r\n", b"hello"),
    ];
    for (wire, body) in cases {
        let got = decode_all_splits(wire, 1024).unwrap_or_else(|e| panic!("{wire:?}: {e}"));
        assert_eq!(got.data, *body, "{}", String::from_utf8_lossy(wire));
        assert_eq!(got.trailers, None);
        assert!(got.rest.is_empty());
    }
}

#[test]
fn trailers_and_rest() {
    let wire = b"5\r\nhello\r\n0\r\nX-Sum: abc\r\nX-Other:  d \r\n\r\nGET / HTTP/1.1\r\n";
    let got = decode_all_splits(wire, 1024).unwrap();
    assert_eq!(got.data, b"hello");
    let trailers = got.trailers.unwrap();
    assert_eq!(trailers["x-sum"], "abc");
    assert_eq!(trailers["x-other"], "d");
    assert_eq!(got.rest, b"GET / HTTP/1.1\r\n");

    // Trailer size limit counts field lines only.
    let wire = b"0\r\nX: 12345\r\n\r\n";
    assert!(decode_all_splits(wire, 10).is_ok());
    assert_eq!(
        decode_all_splits(wire, 9).unwrap_err(),
        ChunkError::TrailersTooLarge
    );
    assert!(decode_all_splits(b"0\r\n\r\n", 0).is_ok());
}

#[test]
fn rejects() {
    let cases: &[(&[u8], ChunkError)] = &[
        (b"x\r\n", ChunkError::InvalidSize),
        (b"\r\n", ChunkError::InvalidSize),
        (b";a\r\n", ChunkError::InvalidSize),
        (b" 5\r\n", ChunkError::InvalidSize),
        (b"-5\r\n", ChunkError::InvalidSize),
        (b"+5\r\n", ChunkError::InvalidSize),
        (b"0x5\r\n", ChunkError::InvalidSize),
        (b"5 \r\nhello\r\n", ChunkError::InvalidSize),
        (b"5 x\r\n", ChunkError::InvalidSize),
        (b"5\n", ChunkError::BareLf),
        (b"5;a\n", ChunkError::BareLf),
        (b"5\rX", ChunkError::BareCr),
        (b"5\r\nhello\n0\r\n\r\n", ChunkError::BareLf),
        (b"5\r\nhelloX\r\n", ChunkError::MissingCrlf),
        (b"5\r\nhello world\r\n", ChunkError::MissingCrlf),
        (b"5\r\nhello\rX", ChunkError::BareCr),
        (b"5;a\x01b\r\n", ChunkError::InvalidExtension),
        (b"5;a\x7f\r\n", ChunkError::InvalidExtension),
        (b"5;a\0\r\n", ChunkError::InvalidExtension),
        (b"10000000000000000\r\n", ChunkError::SizeOverflow),
        (b"00000000000000005\r\n", ChunkError::SizeOverflow),
        (b"8000000000000000\r\n", ChunkError::SizeOverflow),
        (b"ffffffffffffffff\r\n", ChunkError::SizeOverflow),
        (b"0\r\nX: a\n\r\n", ChunkError::BareLf),
        (b"0\r\n\n", ChunkError::BareLf),
        (b"0\r\nX: a\r\n b\r\n\r\n", ChunkError::InvalidTrailers),
        (b"0\r\nX : a\r\n\r\n", ChunkError::InvalidTrailers),
        (b"0\r\nX: a\rb\r\n\r\n", ChunkError::InvalidTrailers),
        (b"0\r\nX: a\x01\r\n\r\n", ChunkError::InvalidTrailers),
        (b"0\r\nno colon\r\n\r\n", ChunkError::InvalidTrailers),
    ];
    for (wire, want) in cases {
        assert_eq!(
            decode_all_splits(wire, 1024).err(),
            Some(*want),
            "{}",
            String::from_utf8_lossy(wire)
        );
        assert!(!want.to_string().is_empty());
    }
}

#[test]
fn large_size_is_accepted_and_incremental() {
    let mut dec = ChunkedDecoder::new(0);
    let mut input = BytesMut::from(&b"7fffffffffffffff\r\nabc"[..]);
    assert_eq!(
        dec.decode(&mut input).unwrap(),
        ChunkEvent::Data(Bytes::from_static(b"abc"))
    );
    assert_eq!(dec.decode(&mut input).unwrap(), ChunkEvent::NeedMore);
}

#[test]
fn extensions_are_bounded() {
    let mut dec = ChunkedDecoder::new(0);
    let mut input = BytesMut::from(&b"1;"[..]);
    assert_eq!(dec.decode(&mut input).unwrap(), ChunkEvent::NeedMore);
    let mut err = None;
    for _ in 0..100 {
        input.extend_from_slice(&[b'a'; 1024]);
        match dec.decode(&mut input) {
            Ok(ChunkEvent::NeedMore) => {}
            Ok(other) => panic!("{other:?}"),
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    assert_eq!(err, Some(ChunkError::ExtensionsTooLarge));
}

#[test]
fn length_decoder() {
    let mut dec = LengthDecoder::new(5);
    let mut input = BytesMut::new();
    assert_eq!(dec.decode(&mut input), ChunkEvent::NeedMore);
    input.extend_from_slice(b"he");
    assert_eq!(
        dec.decode(&mut input),
        ChunkEvent::Data(Bytes::from_static(b"he"))
    );
    assert_eq!(dec.remaining(), 3);
    input.extend_from_slice(b"lloNEXT");
    assert_eq!(
        dec.decode(&mut input),
        ChunkEvent::Data(Bytes::from_static(b"llo"))
    );
    assert!(dec.is_done());
    assert_eq!(dec.decode(&mut input), ChunkEvent::End { trailers: None });
    assert_eq!(&input[..], b"NEXT");

    let mut dec = LengthDecoder::new(0);
    assert_eq!(dec.decode(&mut input), ChunkEvent::End { trailers: None });

    let mut dec = LengthDecoder::new(u64::MAX);
    assert_eq!(
        dec.decode(&mut input),
        ChunkEvent::Data(Bytes::from_static(b"NEXT"))
    );
    assert_eq!(dec.remaining(), u64::MAX - 4);
}
