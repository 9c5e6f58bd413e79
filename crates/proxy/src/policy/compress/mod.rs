//! The `compress` policy: negotiates a coding in the request phase, and in
//! the response phase compresses answers it applies to while they stream
//! (see `tollgate_edge::compress` for the rules).

mod body;

use http::{Method, Response};
use tollgate_config::{Coding, CompressPolicy};
use tollgate_edge::cache::control::has_no_transform;
use tollgate_edge::compress::{self, Decision, Encoder, RequestSide};

pub use body::CompressBody;

use crate::body::ResponseBody;
use crate::pipeline::Incoming;

/// What the answer needs to know about the request.
pub(super) fn on_request(policy: &CompressPolicy, req: &Incoming<'_>) -> RequestSide {
    RequestSide {
        coding: compress::negotiate(&req.headers, &policy.algorithms),
        head: req.method == Method::HEAD,
        no_transform: has_no_transform(&req.headers),
    }
}

/// Compresses the answer when the rules allow, or only adds Vary;
/// returns the coding when the answer is compressed (for the metrics).
pub(super) fn on_response(
    policy: &CompressPolicy,
    side: &RequestSide,
    resp: &mut Response<ResponseBody>,
) -> Option<Coding> {
    let length = resp.body().exact_len();
    let status = resp.status().as_u16();
    match compress::decide(policy, side, status, resp.headers(), length) {
        Decision::Skip => None,
        Decision::VaryOnly => {
            compress::add_vary(resp.headers_mut());
            None
        }
        Decision::Compress(coding) => match Encoder::new(coding, policy, length) {
            Ok(encoder) => {
                compress::mark_compressed(resp.headers_mut(), coding);
                let inner = std::mem::replace(resp.body_mut(), ResponseBody::Empty);
                *resp.body_mut() =
                    ResponseBody::Compress(Box::new(CompressBody::new(inner, encoder)));
                Some(coding)
            }
            Err(e) => {
                tracing::warn!("compress: {} encoder failed to start: {e}", coding.token());
                compress::add_vary(resp.headers_mut());
                None
            }
        },
    }
}
