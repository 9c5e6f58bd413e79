//! The `cors` policy: preflights answered here (the target is not called),
//! allowed origins marked on the answers of actual requests. The CORS
//! rules themselves are in `tollgate_edge::cors`.

use http::{HeaderMap, Response, StatusCode};
use tollgate_edge::cors::CorsFields;

use crate::body::ResponseBody;

pub(super) use tollgate_edge::cors::{on_request, CorsRequest};

/// The 204 answer of a preflight, with its CORS fields.
pub(super) fn preflight_answer(fields: HeaderMap) -> Response<ResponseBody> {
    let mut resp = Response::new(ResponseBody::Empty);
    *resp.status_mut() = StatusCode::NO_CONTENT;
    *resp.headers_mut() = fields;
    resp
}

/// Marks the answer of an actual CORS request.
pub(super) fn on_response(fields: CorsFields, resp: &mut Response<ResponseBody>) {
    tollgate_edge::cors::on_response(fields, resp.headers_mut());
}
