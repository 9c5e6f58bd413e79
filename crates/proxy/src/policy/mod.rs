//! A route's policy chain at run time. Request phases run in the order the
//! route lists its policies (any may answer early); response phases run in
//! reverse order over the steps whose request phase ran. Each policy kind
//! is one module; this file only dispatches.
//!
//! Answers made from errors (`error_response`) do not pass through the
//! response phase.

mod access;
mod cors;
mod headers;
mod security_headers;
mod vars;

use http::Response;
use tollgate_config::{Policy, Route};

use crate::body::ResponseBody;
use crate::pipeline::Incoming;

pub(crate) use vars::RequestVars;

/// What one request's chain remembers between its two phases.
#[derive(Debug, Default)]
pub(crate) struct ChainState {
    /// How many steps' request phases ran (their response phases run).
    ran: usize,
    /// Per step, what its request phase left for its response phase.
    steps: Vec<StepState>,
}

/// What a step's request phase left for its response phase.
#[derive(Debug, Default)]
enum StepState {
    #[default]
    None,
    /// Response header values rendered while the request was at hand.
    Headers(headers::Rendered),
    /// CORS fields for the answer of an actual CORS request.
    Cors(tollgate_edge::cors::CorsFields),
    /// Whether the request came over TLS (HSTS is only sent then).
    Security { tls: bool },
}

/// Runs the request phase of every policy of `route`, in order. `Some` is
/// an answer that ends the request (the target is not called).
pub(crate) async fn request_phase(
    route: &Route,
    req: &mut Incoming<'_>,
    host: &str,
    state: &mut ChainState,
) -> Option<Response<ResponseBody>> {
    state.steps.reserve_exact(route.policies.len());
    for policy in &route.policies {
        state.ran += 1;
        match policy {
            Policy::Headers(rules) => {
                let rendered = headers::on_request(rules, route, req, host);
                state.steps.push(StepState::Headers(rendered));
            }
            Policy::IpFilter(filter) => {
                if let Some(refused) = access::ip_filter(filter, req) {
                    return Some(refused);
                }
                state.steps.push(StepState::None);
            }
            Policy::Methods(allowed) => {
                if let Some(refused) = access::methods(allowed, req) {
                    return Some(refused);
                }
                state.steps.push(StepState::None);
            }
            Policy::SecurityHeaders(_) => {
                let tls = req.client.proto == "https";
                state.steps.push(StepState::Security { tls });
            }
            Policy::Cors(rules) => match cors::on_request(rules, &req.method, &req.headers) {
                cors::CorsRequest::Preflight(fields) => {
                    return Some(cors::preflight_answer(fields));
                }
                cors::CorsRequest::Actual(fields) => state.steps.push(StepState::Cors(fields)),
                cors::CorsRequest::NotCors => state.steps.push(StepState::None),
            },
        }
    }
    None
}

/// Runs the response phase of every step whose request phase ran, last first.
pub(crate) fn response_phase(
    route: &Route,
    resp: &mut Response<ResponseBody>,
    state: &mut ChainState,
) {
    for (i, policy) in route.policies[..state.ran].iter().enumerate().rev() {
        let step = state.steps.get_mut(i).map(std::mem::take);
        match (policy, step) {
            (Policy::Headers(rules), Some(StepState::Headers(rendered))) => {
                headers::on_response(rules, rendered, resp.headers_mut());
            }
            (Policy::SecurityHeaders(rules), Some(StepState::Security { tls })) => {
                security_headers::on_response(rules, tls, resp.headers_mut());
            }
            (Policy::Cors(_), Some(StepState::Cors(fields))) => {
                cors::on_response(fields, resp);
            }
            (Policy::Headers(_), _)
            | (Policy::IpFilter(_), _)
            | (Policy::Methods(_), _)
            | (Policy::SecurityHeaders(_), _)
            | (Policy::Cors(_), _) => {}
        }
    }
}
