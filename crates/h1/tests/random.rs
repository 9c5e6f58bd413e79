//! Property-style robustness: random and mutated input never panics, and
//! splitting input never changes the outcome.

use bytes::BytesMut;
use http::Method;
use tollgate_h1::{parse_request, parse_response, ChunkEvent, ChunkedDecoder, HeadLimits};

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const SEEDS: &[&[u8]] = &[
    b"GET /a?b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
    b"POST http://h/p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"5;x=\"y\"\r\nhello\r\n0\r\nT: v\r\n\r\n",
];
const ALPHABET: &[u8] = b"\r\n :;,\t\"0123456789abcdefGETPOSTHTTP/1.1Host-Length\0\x7f\xff";

fn input(rng: &mut XorShift) -> Vec<u8> {
    match rng.below(3) {
        0 => (0..rng.below(200)).map(|_| rng.next() as u8).collect(),
        1 => (0..rng.below(200))
            .map(|_| ALPHABET[rng.below(ALPHABET.len())])
            .collect(),
        _ => {
            let mut v = SEEDS[rng.below(SEEDS.len())].to_vec();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(v.len() + 1);
                match rng.below(3) {
                    0 if i < v.len() => v[i] = ALPHABET[rng.below(ALPHABET.len())],
                    1 if i < v.len() => {
                        v.remove(i);
                    }
                    _ => v.insert(i, ALPHABET[rng.below(ALPHABET.len())]),
                }
            }
            v
        }
    }
}

fn chunked_outcome(pieces: &[&[u8]]) -> String {
    let mut dec = ChunkedDecoder::new(64);
    let mut buf = BytesMut::new();
    let mut data = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match dec.decode(&mut buf) {
                Ok(ChunkEvent::Data(d)) => data.extend_from_slice(&d),
                Ok(ChunkEvent::NeedMore) => break,
                Ok(ChunkEvent::End { trailers }) => return format!("end {data:?} {trailers:?}"),
                Err(e) => return format!("err {e}"),
            }
        }
    }
    format!("more {data:?}")
}

#[test]
fn never_panics() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let small = HeadLimits {
        max_head_bytes: 96,
        max_headers: 4,
        max_uri_length: 24,
    };
    for _ in 0..50_000 {
        let buf = input(&mut rng);
        let full = parse_request(&buf, &HeadLimits::default());
        let _ = parse_request(&buf, &small);
        let _ = parse_response(&buf, &HeadLimits::default(), &Method::GET);
        let _ = parse_response(&buf, &small, &Method::HEAD);

        // A complete head parses the same from any longer buffer prefix.
        if let Ok(Some((_, n))) = full {
            assert!(n <= buf.len());
            let again = parse_request(&buf[..n], &HeadLimits::default());
            assert!(matches!(again, Ok(Some((_, m))) if m == n));
        }

        let split = rng.below(buf.len() + 1);
        let (a, b) = buf.split_at(split);
        assert_eq!(chunked_outcome(&[&buf]), chunked_outcome(&[a, b]));
    }
}
