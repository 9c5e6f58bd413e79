//! The TLS ClientHello server-name sniffer on arbitrary bytes: it must
//! answer with a name, "need more" or an error, never panic or hang, and
//! stop asking for more at the 16 KiB limit.
//!
//! Checked beyond that: a name found is a lowercase host name; the same
//! input followed by more bytes gives the same answer (what follows the
//! ClientHello is not read); a prefix of a complete hello never errors.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_net::client_hello::{sniff_server_name, MAX_CLIENT_HELLO};
use tollgate_net::Sniffed;

fuzz_target!(|data: &[u8]| {
    let result = sniff_server_name(data);
    match &result {
        Ok(Sniffed::Complete(Some(name))) => {
            assert!(!name.is_empty() && name.len() <= 253);
            assert!(name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b)));
        }
        Ok(Sniffed::Complete(None)) => {}
        Ok(Sniffed::NeedMore) => assert!(data.len() < MAX_CLIENT_HELLO),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    if let Ok(Sniffed::Complete(_)) = &result {
        let mut longer = data.to_vec();
        longer.extend_from_slice(&[0x17, 0x03, 0x03, 0x00, 0x01, 0xff]);
        assert_eq!(sniff_server_name(&longer), result);
        for cut in [0, data.len() / 2] {
            assert!(sniff_server_name(&data[..cut]).is_ok());
        }
    }
});
