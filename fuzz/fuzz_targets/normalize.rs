//! Path normalization on arbitrary paths, in each encoded-slash mode (the
//! first byte picks it). Checked beyond "no panic": the result is
//! idempotent (normalizing it again changes nothing), starts with `/`, has
//! no empty or dot segment and no escape of an unreserved character, and
//! an unchanged result is the input itself (the allocation-free path).

#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use tollgate_config::EncodedSlash;
use tollgate_edge::normalize_path;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mode = match selector % 3 {
        0 => EncodedSlash::Keep,
        1 => EncodedSlash::Reject,
        _ => EncodedSlash::Decode,
    };
    let text = String::from_utf8_lossy(rest);
    let path = format!("/{text}");
    let Ok(once) = normalize_path(&path, mode) else {
        return;
    };
    if let Cow::Borrowed(b) = &once {
        assert_eq!(*b, path.as_str());
    }
    let twice = normalize_path(&once, mode).expect("a normalized path is accepted again");
    assert_eq!(&*twice, &*once, "not idempotent for {path:?}");
    assert!(matches!(twice, Cow::Borrowed(_)) || once.contains('%'));
    assert!(once.starts_with('/'));
    let segments: Vec<&str> = once[1..].split('/').collect();
    for (i, s) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        assert!(!s.is_empty() || last, "empty segment in {once:?}");
        assert!(*s != "." && *s != "..", "dot segment in {once:?}");
    }
    let bytes = once.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        assert!(b != b'\\', "backslash left in {once:?}");
        if b == b'%' {
            let hex = &bytes[i + 1..i + 3];
            let v = u8::from_str_radix(std::str::from_utf8(hex).unwrap(), 16).unwrap();
            assert!(hex.iter().all(|h| !h.is_ascii_lowercase()), "lowercase hex in {once:?}");
            let unreserved = v.is_ascii_alphanumeric() || b"-._~".contains(&v);
            assert!(!unreserved && v != 0, "escape of {v:#x} left in {once:?}");
            if mode == EncodedSlash::Decode {
                assert!(v != b'/' && v != b'\\', "encoded slash left in {once:?}");
            }
        }
    }
});
