//! The `json_to_xml` and `xml_to_json` policies: a body of the source type
//! (by `Content-Type`) is converted whole; others pass untouched. A
//! document the mapping refuses (DOCTYPE, limits, malformed) is a 400 on
//! requests and a 502 on answers.

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Response};
use tollgate_config::XmlPolicy;
use tollgate_core::{ErrorKind, ProxyError};
use tollgate_gateway::soap::options;
use tollgate_gateway::transform::{self, decode::DecodeError};
use tollgate_gateway::xml;

use super::read;
use crate::body::ResponseBody;
use crate::pipeline::Incoming;

/// Whether the message holds the type this policy converts from.
fn converts(policy: &XmlPolicy, headers: &HeaderMap) -> bool {
    let ct = headers.get(header::CONTENT_TYPE).map(HeaderValue::as_bytes);
    if policy.to_xml {
        transform::is_json(ct)
    } else {
        transform::is_xml(ct)
    }
}

/// The converted body and its type.
fn convert(policy: &XmlPolicy, data: &[u8]) -> Result<(Bytes, HeaderValue), xml::XmlError> {
    let opts = options(&policy.mapping, policy.max_body);
    if policy.to_xml {
        let out = xml::json_bytes_to_xml(data, &opts)?;
        Ok((
            Bytes::from(out),
            HeaderValue::from_static("application/xml; charset=utf-8"),
        ))
    } else {
        let out = xml::xml_to_json_text(data, &opts)?;
        Ok((
            Bytes::from(out),
            HeaderValue::from_static("application/json"),
        ))
    }
}

/// Converts the request body when it has the source type.
pub(super) async fn on_request(
    policy: &XmlPolicy,
    req: &mut Incoming<'_>,
) -> Result<(), ProxyError> {
    if !policy.on_request || req.body.is_none() || !converts(policy, &req.headers) {
        return Ok(());
    }
    let bad =
        |why: String| ProxyError::client(ErrorKind::BadRequest, format!("request body: {why}"));
    let Some(coding) = read::coding(&req.headers) else {
        return Err(bad("content coding not supported".into()));
    };
    let data = read::request(&mut req.body, policy.max_body).await?;
    let data =
        read::decoded(coding, data, policy.max_body, &mut req.headers).map_err(|e| match e {
            DecodeError::TooLarge => crate::body::too_large(),
            DecodeError::Corrupt(why) => bad(why),
        })?;
    let (body, ct) = convert(policy, &data).map_err(|e| bad(e.to_string()))?;
    read::replace_request(&mut req.body, &mut req.headers, body, Some(ct));
    Ok(())
}

/// Converts the answer's body when it has the source type.
pub(super) async fn on_response(
    policy: &XmlPolicy,
    request_id: &HeaderValue,
    resp: &mut Response<ResponseBody>,
) {
    if !policy.on_response || !converts(policy, resp.headers()) {
        return;
    }
    let bad = |why: String| {
        ProxyError::upstream(
            ErrorKind::UpstreamProtocol,
            format!("upstream answer: {why}"),
        )
    };
    let Some(coding) = read::coding(resp.headers()) else {
        return;
    };
    let data = match read::response(resp.body_mut(), policy.max_body).await {
        Ok(data) => data,
        Err(e) => return read::failed(resp, &e, request_id),
    };
    let converted = read::decoded(coding, data, policy.max_body, resp.headers_mut())
        .map_err(|e| bad(format!("{e:?}")))
        .and_then(|plain| convert(policy, &plain).map_err(|e| bad(e.to_string())));
    match converted {
        Ok((body, ct)) => read::replace_response(resp, body, Some(ct)),
        Err(e) => read::failed(resp, &e, request_id),
    }
}
