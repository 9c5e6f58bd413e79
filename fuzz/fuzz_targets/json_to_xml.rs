//! The JSON→XML mapper on arbitrary JSON bytes: it must answer, never
//! panic, and the XML→JSON reader must accept everything it writes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_gateway::xml::{json_bytes_to_xml, xml_to_json, XmlOptions};

fuzz_target!(|data: &[u8]| {
    for infer_types in [false, true] {
        let opts = XmlOptions {
            infer_types,
            ..XmlOptions::default()
        };
        let Ok(xml) = json_bytes_to_xml(data, &opts) else {
            return;
        };
        // Escaping may make the XML longer than the JSON: no byte limit on re-reading.
        let mut reread = opts.clone();
        reread.limits.max_bytes = usize::MAX;
        if let Err(e) = xml_to_json(xml.as_bytes(), &reread) {
            panic!("our own output refused ({e}): {xml}");
        }
    }
});
