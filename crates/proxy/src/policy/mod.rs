//! A route's policy chain at run time. Request phases run in the order the
//! route lists its policies (any may answer early); response phases run in
//! reverse order over the steps whose request phase ran. Each policy kind
//! is one module; this file only dispatches.
//!
//! Answers made from errors (`error_response`) do not pass through the
//! response phase.

mod headers;
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
            (Policy::Headers(_), _) => {}
        }
    }
}
