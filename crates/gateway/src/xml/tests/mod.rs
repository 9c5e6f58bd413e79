//! Tests of the JSON↔XML mapping: each direction, then round trips and
//! hostile documents.

mod mutations;
mod round_trip;
mod to_json;
mod to_xml;

use super::{xml_to_json, XmlOptions};

/// XML → compact JSON text with the given options (panics on refusal).
fn json_of(xml: &str, opts: &XmlOptions) -> String {
    match xml_to_json(xml.as_bytes(), opts) {
        Ok(json) => json.to_json_string(),
        Err(e) => panic!("{xml} refused: {e}"),
    }
}

/// XML → compact JSON text with default options.
fn json(xml: &str) -> String {
    json_of(xml, &XmlOptions::default())
}
