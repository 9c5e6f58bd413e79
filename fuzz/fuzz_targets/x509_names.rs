//! Certificate names: `CertNames::from_der` on arbitrary bytes (it reads
//! client certificates after verification and configured server
//! certificates, but must never panic whatever it is given).
//!
//! Checked beyond "no panic": the subject and the alternative-names line
//! are printable ASCII (they travel in request headers), and DNS names are
//! lowercase.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_net::tls::CertNames;

fuzz_target!(|data: &[u8]| {
    let Some(names) = CertNames::from_der(data) else {
        return;
    };
    let printable = |s: &str| s.bytes().all(|b| (0x20..=0x7e).contains(&b));
    assert!(printable(&names.subject), "{:?}", names.subject);
    assert!(printable(&names.alt_names_line()));
    assert!(names.dns.iter().all(|d| !d.bytes().any(|b| b.is_ascii_uppercase())));
});
