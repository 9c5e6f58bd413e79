//! The fuzz targets' properties over a fixed corpus: every prefix and
//! one-byte mutation of the round-trip documents, so `cargo test` checks
//! what `fuzz/` checks at random.

use super::round_trip::{EXACT, STABLE};
use crate::xml::{json_bytes_to_xml, json_to_xml, xml_to_json, XmlOptions};

const SWAPS: &[u8] = b"<>&;/\"'= x:#\x00\xff";

fn variants(doc: &str) -> impl Iterator<Item = Vec<u8>> + '_ {
    let bytes = doc.as_bytes();
    let prefixes = (0..bytes.len()).map(move |n| bytes[..n].to_vec());
    let swaps = (0..bytes.len()).flat_map(move |i| {
        SWAPS.iter().map(move |&b| {
            let mut v = bytes.to_vec();
            v[i] = b;
            v
        })
    });
    prefixes.chain(swaps)
}

/// What `fuzz_targets/xml_to_json.rs` asserts.
fn xml_property(data: &[u8], opts: &XmlOptions) {
    let Ok(json) = xml_to_json(data, opts) else {
        return;
    };
    let Ok(xml) = json_to_xml(&json, opts) else {
        return;
    };
    let again = xml_to_json(xml.as_bytes(), opts);
    assert_eq!(
        again.as_ref(),
        Ok(&json),
        "{:?} -> {xml}",
        String::from_utf8_lossy(data)
    );
}

#[test]
fn mutated_documents_answer_and_what_is_accepted_round_trips() {
    let opts = XmlOptions {
        arrays: vec!["/orders/order".into()],
        ..XmlOptions::default()
    };
    for doc in EXACT.iter().chain(STABLE) {
        for data in variants(doc) {
            xml_property(&data, &opts);
        }
    }
}

#[test]
fn mutated_json_maps_to_xml_that_reads_back() {
    let opts = XmlOptions::default();
    for doc in EXACT.iter().chain(STABLE) {
        let json = xml_to_json(doc.as_bytes(), &opts).unwrap().to_json_string();
        for data in variants(&json) {
            if let Ok(xml) = json_bytes_to_xml(&data, &opts) {
                let back = xml_to_json(xml.as_bytes(), &opts);
                assert!(
                    back.is_ok(),
                    "{:?} -> {xml}: {back:?}",
                    String::from_utf8_lossy(&data)
                );
            }
        }
    }
}
