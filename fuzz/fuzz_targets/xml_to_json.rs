//! The XML→JSON mapper on arbitrary bytes: it must answer, never panic;
//! whatever it accepts maps back to XML that it reads to the same JSON,
//! unless the writer refuses a character XML 1.0 cannot hold (never
//! malformed output). The JSON text written straight from the reader's
//! tree is the text of the JSON value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_gateway::xml::{json_to_xml, xml_to_json, xml_to_json_text, Limits, XmlOptions};

fuzz_target!(|data: &[u8]| {
    let opts = XmlOptions {
        arrays: vec!["/a/b".into()],
        limits: Limits {
            max_bytes: 64 * 1024,
            max_depth: 32,
            max_nodes: 4096,
        },
        ..XmlOptions::default()
    };
    let Ok(json) = xml_to_json(data, &opts) else {
        assert!(xml_to_json_text(data, &opts).is_err());
        return;
    };
    let text = xml_to_json_text(data, &opts).expect("accepted by both");
    assert_eq!(text, json.to_json_string().into_bytes());
    let Ok(xml) = json_to_xml(&json, &opts) else {
        return;
    };
    // Escaping may make the output longer than the input: no byte limit on re-reading.
    let mut reread = opts.clone();
    reread.limits.max_bytes = usize::MAX;
    let again = xml_to_json(xml.as_bytes(), &reread).expect("our own XML must read back");
    assert_eq!(again, json, "JSON changed through {xml}");
});
