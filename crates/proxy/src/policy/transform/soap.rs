//! The `soap` policy: the JSON request becomes a SOAP call (POST, the
//! envelope, `SOAPAction` for 1.1 or the `action` parameter for 1.2), and
//! an XML answer becomes JSON: the Body's content, or for a Fault
//! `{faultcode, faultstring, detail}` with the mapped status.

use bytes::Bytes;
use http::{header, HeaderName, HeaderValue, Method, Response};
use tollgate_config::{SoapPolicy, SoapVersion};
use tollgate_core::{ErrorKind, ProxyError};
use tollgate_gateway::soap::{self, SoapAnswer};
use tollgate_gateway::transform;

use super::read;
use crate::body::ResponseBody;
use crate::pipeline::Incoming;

static SOAP_ACTION: HeaderName = HeaderName::from_static("soapaction");

/// Turns the request into the SOAP call.
pub(super) async fn on_request(
    policy: &SoapPolicy,
    req: &mut Incoming<'_>,
) -> Result<(), ProxyError> {
    let bad =
        |why: String| ProxyError::client(ErrorKind::BadRequest, format!("request body: {why}"));
    let data = if req.body.is_none() {
        Bytes::new()
    } else {
        let Some(coding) = read::coding(&req.headers) else {
            return Err(bad("content coding not supported".into()));
        };
        let data = read::request(&mut req.body, policy.max_body).await?;
        read::decoded(coding, data, policy.max_body, &mut req.headers)
            .map_err(|e| bad(format!("{e:?}")))?
    };
    let envelope = soap::envelope(policy, &data).map_err(|e| bad(e.to_string()))?;
    let ct = HeaderValue::from_str(&soap::content_type(policy))
        .map_err(|_| bad("SOAP action is not a valid header value".into()))?;
    req.method = Method::POST;
    req.headers.remove(&SOAP_ACTION);
    if policy.version == SoapVersion::V11 {
        // SOAP 1.1 §6.1.1: the value is a quoted URI (empty quotes: none).
        if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", policy.action)) {
            req.headers.insert(&SOAP_ACTION, v);
        }
    }
    req.headers.insert(header::ACCEPT, ct.clone());
    read::replace_request(
        &mut req.body,
        &mut req.headers,
        Bytes::from(envelope),
        Some(ct),
    );
    Ok(())
}

/// Turns an XML answer into JSON (a Fault into a mapped error status).
pub(super) async fn on_response(
    policy: &SoapPolicy,
    request_id: &HeaderValue,
    resp: &mut Response<ResponseBody>,
) {
    let ct = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .map(HeaderValue::as_bytes);
    if !transform::is_xml(ct) {
        // Not a SOAP message (an HTML error page of a front server): as is.
        return;
    }
    let bad = |why: String| {
        ProxyError::upstream(ErrorKind::UpstreamProtocol, format!("SOAP answer: {why}"))
    };
    let Some(coding) = read::coding(resp.headers()) else {
        return;
    };
    let data = match read::response(resp.body_mut(), policy.max_body).await {
        Ok(data) => data,
        Err(e) => return read::failed(resp, &e, request_id),
    };
    let answer = read::decoded(coding, data, policy.max_body, resp.headers_mut())
        .map_err(|e| bad(format!("{e:?}")))
        .and_then(|plain| soap::read_answer(policy, &plain).map_err(|e| bad(e.to_string())));
    let json = HeaderValue::from_static("application/json");
    match answer {
        Ok(SoapAnswer::Result(body)) => {
            read::replace_response(resp, Bytes::from(body.to_json_string()), Some(json));
        }
        Ok(SoapAnswer::Fault { code, json: body }) => {
            let status = policy
                .fault_status
                .iter()
                .find(|(c, _)| *c == code)
                .map_or(policy.default_fault_status, |(_, s)| *s);
            *resp.status_mut() = status;
            read::replace_response(resp, Bytes::from(body.to_json_string()), Some(json));
        }
        Err(e) => read::failed(resp, &e, request_id),
    }
}
