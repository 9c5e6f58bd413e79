//! The `headers` policy: remove, set and add request and response fields,
//! values rendered from templates.

use http::{HeaderMap, HeaderName, HeaderValue};
use tollgate_config::{HeaderOps, HeaderRules, Route};

use super::RequestVars;
use crate::pipeline::{Exchange, Incoming};

/// Response values rendered during the request phase, when the request's
/// variables are at hand: `(set, add)`, in rule order.
pub(super) type Rendered = (
    Vec<(HeaderName, HeaderValue)>,
    Vec<(HeaderName, HeaderValue)>,
);

/// Edits the request's fields; returns the response values rendered now.
pub(super) fn on_request(
    rules: &HeaderRules,
    route: &Route,
    req: &mut Incoming<'_>,
    host: &str,
    ex: &Exchange,
) -> Rendered {
    let vars = RequestVars::new(route, req, host).with_identity(ex);
    let response = render(&rules.response, &vars);
    let (set, add) = render(&rules.request, &vars);
    apply(&rules.request.remove, set, add, &mut req.headers);
    response
}

/// Edits the answer's fields with the values rendered for this request.
pub(super) fn on_response(rules: &HeaderRules, rendered: Rendered, headers: &mut HeaderMap) {
    let (set, add) = rendered;
    apply(&rules.response.remove, set, add, headers);
}

pub(super) fn render(ops: &HeaderOps, vars: &RequestVars<'_, '_>) -> Rendered {
    // A value that renders to something invalid (a header variable holding
    // obs-text) is left out rather than sent broken.
    let each = |list: &[(HeaderName, tollgate_config::Template)]| {
        list.iter()
            .filter_map(|(n, t)| vars.header_value(t).map(|v| (n.clone(), v)))
            .collect()
    };
    (each(&ops.set), each(&ops.add))
}

pub(super) fn apply(
    remove: &[HeaderName],
    set: Vec<(HeaderName, HeaderValue)>,
    add: Vec<(HeaderName, HeaderValue)>,
    headers: &mut HeaderMap,
) {
    for name in remove {
        headers.remove(name);
    }
    for (name, value) in set {
        headers.insert(name, value);
    }
    for (name, value) in add {
        headers.append(name, value);
    }
}
