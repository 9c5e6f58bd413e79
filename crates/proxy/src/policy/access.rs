//! The refusing policies: `ip_filter` (403) and `methods` (405 with
//! `Allow`). Both only look at the request and keep nothing for the
//! response phase.

use http::header;
use http::Response;
use tollgate_config::{AllowedMethods, IpFilter};
use tollgate_core::ErrorKind;

use crate::body::ResponseBody;
use crate::pipeline::{refusal, Incoming};

/// 403 unless the client's address passes `filter`.
pub(super) fn ip_filter(filter: &IpFilter, req: &Incoming<'_>) -> Option<Response<ResponseBody>> {
    if tollgate_edge::ip_allowed(filter, req.client.peer.ip()) {
        return None;
    }
    Some(refusal(ErrorKind::Forbidden, "forbidden", &req.request_id))
}

/// 405 with `Allow` unless the method is listed.
pub(super) fn methods(
    allowed: &AllowedMethods,
    req: &Incoming<'_>,
) -> Option<Response<ResponseBody>> {
    if allowed.methods.contains(&req.method) {
        return None;
    }
    let mut resp = refusal(
        ErrorKind::MethodNotAllowed,
        "method not allowed",
        &req.request_id,
    );
    resp.headers_mut()
        .insert(header::ALLOW, allowed.allow.clone());
    Some(resp)
}
