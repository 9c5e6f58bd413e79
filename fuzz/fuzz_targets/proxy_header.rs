//! The PROXY protocol header parser on arbitrary bytes: it must answer
//! with a header, "need more" or an error, never panic or hang.
//!
//! Checked beyond that: a complete header's length lies within the input
//! and within the size limit; every prefix of the input up to that length
//! says "need more" (so a reader may consume it, see `read_header`), and
//! longer inputs give the same header; an encoded header parses back to
//! what was encoded.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_net::proxy_protocol::{encode, parse, MAX_HEADER_BYTES};
use tollgate_net::ProxyVersion;

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Ok(Some((header, used))) => {
            assert!(used > 0 && used <= data.len() && used <= MAX_HEADER_BYTES);
            for cut in [0, used / 2, used - 1] {
                assert_eq!(parse(&data[..cut]), Ok(None), "prefix of {used} at {cut}");
            }
            assert_eq!(parse(&data[..used]), Ok(Some((header, used))));
            for version in [ProxyVersion::V1, ProxyVersion::V2] {
                let mut out = Vec::new();
                encode(version, header.addresses.as_ref(), &mut out);
                let (again, n) = parse(&out).expect("own encoding").expect("complete");
                assert_eq!(n, out.len());
                // Mixed families come back as IPv6; same families unchanged.
                if let Some(a) = header.addresses {
                    if a.source.is_ipv4() == a.destination.is_ipv4() {
                        assert_eq!(again.addresses, header.addresses);
                    }
                } else {
                    assert_eq!(again.addresses, None);
                }
            }
        }
        Ok(None) => assert!(data.len() < MAX_HEADER_BYTES),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
