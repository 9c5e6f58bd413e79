//! The reshaping policies as written: `transform`, `json_to_xml`,
//! `xml_to_json`, `soap`.

use serde::Deserialize;

use super::{List, OrderedMap, RawHeaderOps, Sp, Text};

/// `transform:` in a policy list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTransform {
    pub(crate) request: Option<Sp<RawTransformSide>>,
    pub(crate) response: Option<Sp<RawTransformSide>>,
    pub(crate) max_body: Text,
    pub(crate) compressed: Text,
}

/// `transform.request:` / `transform.response:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTransformSide {
    pub(crate) headers: Option<Sp<RawHeaderOps>>,
    pub(crate) query: Option<Sp<RawQueryOps>>,
    pub(crate) body: List<RawBodyEdit>,
    pub(crate) status: Option<Sp<OrderedMap>>,
}

/// `transform.request.query:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawQueryOps {
    pub(crate) remove: List<String>,
    pub(crate) rename: Option<Sp<OrderedMap>>,
    pub(crate) set: Option<Sp<OrderedMap>>,
    pub(crate) add: Option<Sp<OrderedMap>>,
}

/// One item of `body:`: one of `set`, `add`, `remove`, `rename`, `move`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBodyEdit {
    pub(crate) set: Text,
    pub(crate) add: Text,
    pub(crate) remove: Text,
    pub(crate) rename: Text,
    #[serde(rename = "move")]
    pub(crate) move_from: Text,
    pub(crate) to: Text,
    pub(crate) value: Text,
    pub(crate) json: Option<Sp<serde_json::Value>>,
}

/// `json_to_xml:` / `xml_to_json:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawXmlConvert {
    pub(crate) on: Text,
    pub(crate) max_body: Text,
    pub(crate) attribute_prefix: Text,
    pub(crate) text_key: Text,
    pub(crate) arrays: List<String>,
    pub(crate) infer_types: Text,
    pub(crate) root: Text,
    pub(crate) item: Text,
    pub(crate) max_depth: Text,
    pub(crate) max_nodes: Text,
}

/// `soap:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSoap {
    pub(crate) version: Text,
    pub(crate) operation: Text,
    pub(crate) namespace: Text,
    pub(crate) action: Text,
    pub(crate) qualified: Text,
    pub(crate) fault_status: Option<Sp<OrderedMap>>,
    pub(crate) default_fault_status: Text,
    pub(crate) max_body: Text,
    pub(crate) arrays: List<String>,
    pub(crate) infer_types: Text,
}
