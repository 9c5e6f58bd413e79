//! The reshaping policies' glue: `transform` (`edit.rs`), `json_to_xml` /
//! `xml_to_json` (`xml.rs`) and `soap` (`soap.rs`); the rules are in
//! `tollgate_gateway::{transform, xml, soap}`. A body is read whole only
//! when a policy will change it (`read.rs`); other bodies stream.

mod edit;
mod read;
mod soap;
mod xml;

use http::{HeaderValue, Method, Response, StatusCode};
use tollgate_config::{Reshape, Route};

use crate::body::ResponseBody;
use crate::pipeline::{error_response, Exchange, Incoming};

/// What a reshaping step's request phase leaves for its response phase.
#[derive(Debug)]
pub(super) struct ReshapeStep {
    /// A HEAD request: its answer has no body to reshape.
    head: bool,
    /// For an error answer that replaces a broken one.
    request_id: HeaderValue,
    /// Values rendered for the answer's edits (`transform` only).
    rendered: Option<edit::Rendered>,
}

/// Runs a reshaping policy on the request; `Err` is the answer that ends it.
pub(super) async fn on_request(
    policy: &Reshape,
    route: &Route,
    req: &mut Incoming<'_>,
    host: &str,
    ex: &Exchange,
) -> Result<ReshapeStep, Box<Response<ResponseBody>>> {
    let mut step = ReshapeStep {
        head: req.method == Method::HEAD,
        request_id: req.request_id.clone(),
        rendered: None,
    };
    let done = match policy {
        Reshape::Transform(t) => edit::on_request(t, route, req, host, ex)
            .await
            .map(|r| step.rendered = Some(r)),
        Reshape::Xml(x) => xml::on_request(x, req).await,
        Reshape::Soap(s) => soap::on_request(s, req).await,
    };
    match done {
        Ok(()) => Ok(step),
        Err(e) => Err(Box::new(error_response(&e, &req.request_id))),
    }
}

/// Runs a reshaping policy on the answer (may replace it with an error).
pub(super) async fn on_response(
    policy: &Reshape,
    step: ReshapeStep,
    resp: &mut Response<ResponseBody>,
) {
    let bodyless = step.head || !has_body(resp.status());
    match policy {
        Reshape::Transform(t) => edit::on_response(t, step, bodyless, resp).await,
        Reshape::Xml(x) if !bodyless => xml::on_response(x, &step.request_id, resp).await,
        Reshape::Soap(s) if !bodyless => soap::on_response(s, &step.request_id, resp).await,
        Reshape::Xml(_) | Reshape::Soap(_) => {}
    }
}

/// Whether an answer with this status carries a body worth reshaping
/// (not 1xx, 204, 304, nor a 206 part of a larger body).
fn has_body(status: StatusCode) -> bool {
    !(status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || status == StatusCode::PARTIAL_CONTENT)
}
