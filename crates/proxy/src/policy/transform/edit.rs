//! The `transform` policy: header, query and JSON body edits of requests,
//! status, header and JSON body edits of answers.

use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{header, HeaderMap, Response, Uri};
use tollgate_config::{BodyEdit, Compressed, EditValue, Route, TransformPolicy, TransformSide};
use tollgate_core::{ErrorKind, ProxyError};
use tollgate_gateway::transform::{self, decode::Coding, query};
use tollgate_gateway::xml::Json;

use super::read;
use super::ReshapeStep;
use crate::body::ResponseBody;
use crate::pipeline::{Exchange, Incoming};
use crate::policy::{headers, RequestVars};

/// The answer's header values and body edit values, rendered while the
/// request was at hand.
#[derive(Debug)]
pub(super) struct Rendered {
    headers: headers::Rendered,
    values: Vec<Json>,
}

/// Edits the request; returns what the answer's edits need.
pub(super) async fn on_request(
    policy: &TransformPolicy,
    route: &Route,
    req: &mut Incoming<'_>,
    host: &str,
    ex: &Exchange,
) -> Result<Rendered, ProxyError> {
    let side = &policy.request;
    let (rendered, request_headers, query, values) = {
        let vars = RequestVars::new(route, req, host).with_identity(ex);
        let rendered = Rendered {
            headers: headers::render(&policy.response.headers, &vars),
            values: values(&policy.response.body, &vars),
        };
        let query = (!side.query.is_empty()).then(|| edited_query(side, &vars));
        (
            rendered,
            headers::render(&side.headers, &vars),
            query,
            values(&side.body, &vars),
        )
    };
    let (set, add) = request_headers;
    headers::apply(&side.headers.remove, set, add, &mut req.headers);
    if let Some(q) = query {
        req.uri = with_query(&req.uri, q.as_deref());
    }
    if !side.body.is_empty() && !req.body.is_none() && is_json(&req.headers) {
        edit_request_body(policy, req, values).await?;
    }
    Ok(rendered)
}

/// The request's query with the policy's edits (`None`: no query left).
fn edited_query(side: &TransformSide, vars: &RequestVars<'_, '_>) -> Option<String> {
    let edits = query::QueryEdits {
        remove: &side.query.remove,
        rename: &side.query.rename,
        set: rendered_pairs(&side.query.set, vars),
        add: rendered_pairs(&side.query.add, vars),
    };
    query::edit_query(vars.query(), &edits)
}

/// Query parameters with their values rendered for this request.
fn rendered_pairs<'p>(
    list: &'p [(String, tollgate_config::Template)],
    vars: &RequestVars<'_, '_>,
) -> Vec<(&'p str, String)> {
    list.iter()
        .map(|(n, t)| {
            let mut v = String::new();
            vars.render(t, &mut v);
            (n.as_str(), v)
        })
        .collect()
}

/// `uri` with another query; left as it is if the result would not parse.
fn with_query(uri: &Uri, query: Option<&str>) -> Uri {
    let pq = match query {
        Some(q) => format!("{}?{q}", uri.path()),
        None => uri.path().to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    match PathAndQuery::try_from(pq) {
        Ok(pq) => parts.path_and_query = Some(pq),
        Err(_) => return uri.clone(),
    }
    Uri::from_parts(parts).unwrap_or_else(|_| uri.clone())
}

/// What each body edit writes: a rendered template is a JSON string.
fn values(edits: &[BodyEdit], vars: &RequestVars<'_, '_>) -> Vec<Json> {
    edits
        .iter()
        .map(|e| match e.value() {
            Some(EditValue::Template(t)) => {
                let mut out = String::new();
                vars.render(t, &mut out);
                Json::String(out)
            }
            Some(EditValue::Json(v)) => transform::from_value(v),
            None => Json::Null,
        })
        .collect()
}

fn is_json(headers: &HeaderMap) -> bool {
    transform::is_json(headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()))
}

/// The coding to undo before editing, or `None` to leave the body alone.
fn editable(policy: &TransformPolicy, headers: &HeaderMap) -> Option<Coding> {
    match read::coding(headers)? {
        Coding::Identity => Some(Coding::Identity),
        _ if policy.compressed == Compressed::Skip => None,
        coding => Some(coding),
    }
}

async fn edit_request_body(
    policy: &TransformPolicy,
    req: &mut Incoming<'_>,
    values: Vec<Json>,
) -> Result<(), ProxyError> {
    let Some(coding) = editable(policy, &req.headers) else {
        return Ok(());
    };
    let data = read::request(&mut req.body, policy.max_body).await?;
    let bad = |why: String| ProxyError::client(ErrorKind::BadRequest, why);
    let data =
        read::decoded(coding, data, policy.max_body, &mut req.headers).map_err(|e| match e {
            transform::decode::DecodeError::TooLarge => crate::body::too_large(),
            transform::decode::DecodeError::Corrupt(why) => bad(format!("request body: {why}")),
        })?;
    let edited = transform::edit_body(&data, &policy.request.body, values)
        .map_err(|e| bad(format!("request body: {e}")))?;
    read::replace_request(&mut req.body, &mut req.headers, Bytes::from(edited), None);
    Ok(())
}

/// Maps the status, edits the fields, then the body when it is JSON.
pub(super) async fn on_response(
    policy: &TransformPolicy,
    step: ReshapeStep,
    bodyless: bool,
    resp: &mut Response<ResponseBody>,
) {
    let side = &policy.response;
    if let Some((_, to)) = side.status.iter().find(|(from, _)| *from == resp.status()) {
        *resp.status_mut() = *to;
    }
    let Some(rendered) = step.rendered else {
        return;
    };
    let (set, add) = rendered.headers;
    headers::apply(&side.headers.remove, set, add, resp.headers_mut());
    if side.body.is_empty() || bodyless || !is_json(resp.headers()) {
        return;
    }
    let Some(coding) = editable(policy, resp.headers()) else {
        return;
    };
    let data = match read::response(resp.body_mut(), policy.max_body).await {
        Ok(data) => data,
        Err(e) => return read::failed(resp, &e, &step.request_id),
    };
    // The answer keeps its fields (and its coding) unless the edit works:
    // `decoded` drops `Content-Encoding` from a map of its own, and the
    // answer's field is dropped below once the edit is done.
    let mut decoded_fields = HeaderMap::new();
    let plain = match read::decoded(coding, data.clone(), policy.max_body, &mut decoded_fields) {
        Ok(plain) => plain,
        Err(e) => {
            let why = format!("upstream answer could not be decoded for a transform: {e:?}");
            let err = ProxyError::upstream(ErrorKind::UpstreamProtocol, why);
            return read::failed(resp, &err, &step.request_id);
        }
    };
    match transform::edit_body(&plain, &side.body, rendered.values) {
        Ok(edited) => {
            if coding != Coding::Identity {
                resp.headers_mut().remove(header::CONTENT_ENCODING);
            }
            read::replace_response(resp, Bytes::from(edited), None);
        }
        // Labelled JSON but not JSON: passed on as received.
        Err(_) => read::replace_response(resp, data, None),
    }
}
