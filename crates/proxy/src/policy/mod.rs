//! A route's policy chain at run time. Request phases run in the order the
//! route lists its policies (any may answer early); response phases run in
//! reverse order over the steps whose request phase ran. Each policy kind
//! is one module; this file only dispatches.
//!
//! Answers made from errors (`error_response`) do not pass through the
//! response phase, unless a step's error phase replaces them (a cache
//! serving a stale answer on an origin error).

mod access;
pub(crate) mod cache;
pub(crate) mod compress;
mod cors;
mod gateway;
mod headers;
mod host;
mod rate_limit;
mod security_headers;
mod transform;
mod validate;
mod vars;

use std::sync::Arc;

use http::Response;
use tollgate_config::{Policy, Route};
use tollgate_core::ProxyError;

use crate::body::ResponseBody;
use crate::pipeline::{Exchange, Incoming};
use crate::snapshot::Worker;

pub(crate) use host::HostCopy;
pub(crate) use vars::RequestVars;

/// What one request's chain remembers between its two phases.
#[derive(Debug, Default)]
pub(crate) struct ChainState {
    /// How many steps' request phases ran (their response phases run).
    ran: usize,
    /// Per step (from `from`), what its request phase left for its
    /// response phase; filled up to the last step that left something, so
    /// a chain whose steps leave nothing (auth, acl) allocates nothing.
    steps: Vec<StepState>,
    /// Index of the route in the snapshot (stores are found by it).
    route: usize,
    /// The first step run: 0, or for a background revalidation the cache
    /// step's index (the steps before it ran for the original request).
    from: usize,
    /// This chain is a background revalidation: the cache step at `from`
    /// refreshes its entry instead of serving it.
    revalidation: bool,
    /// A background revalidation a step asked for, started by the pipeline
    /// once this request is answered.
    pub(crate) background: Option<cache::Background>,
    /// The coding a `compress` step compressed the answer with (counted
    /// by the pipeline, which has the worker's counters).
    pub(crate) compressed: Option<tollgate_config::Coding>,
    /// What the (last) `cache` step's lookup came to, counted likewise.
    pub(crate) cache_lookup: Option<crate::metrics_edge::CacheLookup>,
}

impl ChainState {
    /// The state of a request's run through route `route`'s chain.
    pub(crate) fn new(route: usize) -> Self {
        Self {
            route,
            ..Self::default()
        }
    }

    /// The state of a background revalidation: route `route`'s chain run
    /// again from its cache step `step`.
    pub(crate) fn revalidation(route: usize, step: usize) -> Self {
        Self {
            route,
            from: step,
            revalidation: true,
            ..Self::default()
        }
    }

    /// Whether this run is a background revalidation.
    pub(crate) fn is_revalidation(&self) -> bool {
        self.revalidation
    }

    /// Keeps what step `i` (of the route's policies) left for its response
    /// phase; `StepState::None` is kept only as room before a later step's.
    fn keep(&mut self, i: usize, step: StepState) {
        if matches!(step, StepState::None) {
            return;
        }
        // Steps are kept in order: earlier ones that left nothing get
        // their `None` place now.
        let at = i - self.from;
        if self.steps.len() < at {
            self.steps.resize_with(at, StepState::default);
        }
        self.steps.push(step);
    }
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
    /// What the cache looked up, and what to do with the answer.
    Cache(Box<cache::CacheStep>),
    /// The coding negotiated for the answer.
    Compress(tollgate_edge::compress::RequestSide),
    /// What a limit reports on the answer, or holds until its end.
    Limit(rate_limit::LimitStep),
    /// The answer is checked against the `validate` policy's schema.
    CheckAnswer(validate::AnswerStep),
    /// What a reshaping policy needs for the answer.
    Reshape(Box<transform::ReshapeStep>),
}

/// What a step's request phase came to without waiting.
// Returned and matched at once, never stored: boxing the answer would
// allocate for every early answer.
#[allow(clippy::large_enum_variant)]
enum Now {
    /// It ran: what it leaves for its response phase.
    Next(StepState),
    /// It answered: the request ends.
    Answer(Response<ResponseBody>),
    /// It may wait (a cache, a limit store, a body, a key set, a call):
    /// [`request_phase`] runs it.
    Wait,
}

/// How far [`request_phase_now`] got.
// Matched at once by the pipeline (see `Now`).
#[allow(clippy::large_enum_variant)]
pub(crate) enum Progress {
    /// Every step ran; the target is next. No step that waits ran, so the
    /// response phase needs no waiting either ([`response_phase_now`]).
    Done,
    /// A step answered; the target is not called.
    Answered(Response<ResponseBody>),
    /// A step may wait: [`request_phase`] goes on from it.
    Paused,
}

/// Runs the request phases that never wait (headers, access rules, CORS,
/// `key_auth`, `acl`, a static-key `jwt`...), in order, up to the first
/// that may. A chain of only those runs without a future of its own.
pub(crate) fn request_phase_now(
    worker: &Arc<Worker>,
    route: &Route,
    req: &mut Incoming<'_>,
    host: &str,
    ex: &mut Exchange,
    state: &mut ChainState,
) -> Progress {
    let next = state.from + state.ran;
    for (i, policy) in route.policies.iter().enumerate().skip(next) {
        match step_now(worker, route, policy, (state.route, i), req, host, ex) {
            Now::Next(step) => {
                state.ran += 1;
                state.keep(i, step);
            }
            Now::Answer(answer) => {
                state.ran += 1;
                return Progress::Answered(answer);
            }
            Now::Wait => return Progress::Paused,
        }
    }
    Progress::Done
}

/// Runs the request phase of every policy of `route` not run yet, in
/// order. `Some` is an answer that ends the request (the target is not
/// called).
pub(crate) async fn request_phase(
    worker: &Arc<Worker>,
    route: &Route,
    req: &mut Incoming<'_>,
    host: &str,
    ex: &mut Exchange,
    state: &mut ChainState,
) -> Option<Response<ResponseBody>> {
    let next = state.from + state.ran;
    for (i, policy) in route.policies.iter().enumerate().skip(next) {
        state.ran += 1;
        let step = match step_now(worker, route, policy, (state.route, i), req, host, ex) {
            Now::Next(step) => step,
            Now::Answer(answer) => return Some(answer),
            Now::Wait => match step_later(worker, route, policy, i, req, host, ex, state).await {
                Ok(step) => step,
                Err(answer) => return Some(answer),
            },
        };
        state.keep(i, step);
    }
    None
}

/// The request phase of a step that never waits; `Now::Wait` for the
/// others.
fn step_now(
    worker: &Arc<Worker>,
    route: &Route,
    policy: &Policy,
    at: (usize, usize),
    req: &mut Incoming<'_>,
    host: &str,
    ex: &mut Exchange,
) -> Now {
    match policy {
        Policy::Headers(rules) => Now::Next(StepState::Headers(headers::on_request(
            rules, route, req, host, ex,
        ))),
        Policy::IpFilter(filter) => match access::ip_filter(filter, req) {
            Some(refused) => Now::Answer(refused),
            None => Now::Next(StepState::None),
        },
        Policy::Methods(allowed) => match access::methods(allowed, req) {
            Some(refused) => Now::Answer(refused),
            None => Now::Next(StepState::None),
        },
        Policy::SecurityHeaders(_) => Now::Next(StepState::Security {
            tls: req.client.proto == "https",
        }),
        Policy::Cors(rules) => match cors::on_request(rules, &req.method, &req.headers) {
            cors::CorsRequest::Preflight(fields) => Now::Answer(cors::preflight_answer(fields)),
            cors::CorsRequest::Actual(fields) => Now::Next(StepState::Cors(fields)),
            cors::CorsRequest::NotCors => Now::Next(StepState::None),
        },
        Policy::Compress(policy) => {
            Now::Next(StepState::Compress(compress::on_request(policy, req)))
        }
        Policy::Gateway(policy) => match gateway::on_request_now(worker, policy, at, req, ex) {
            Some(Some(refused)) => Now::Answer(refused),
            Some(None) => Now::Next(StepState::None),
            None => Now::Wait,
        },
        Policy::Cache(_) | Policy::Limit(_) | Policy::Validate(_) | Policy::Reshape(_) => Now::Wait,
    }
}

/// The request phase of a step that may wait; `Err` is an answer that
/// ends the request.
#[allow(clippy::too_many_arguments)]
async fn step_later(
    worker: &Arc<Worker>,
    route: &Route,
    policy: &Policy,
    i: usize,
    req: &mut Incoming<'_>,
    host: &str,
    ex: &mut Exchange,
    state: &mut ChainState,
) -> Result<StepState, Response<ResponseBody>> {
    match policy {
        Policy::Cache(_) => {
            let Some(store) = worker.snapshot.cache(state.route, i) else {
                return Ok(StepState::None);
            };
            cache::on_request(store, route, req, host, i, state)
                .await
                .map(StepState::Cache)
        }
        // The API gateway's policies: one dispatch for the role.
        Policy::Gateway(policy) => {
            let at = (state.route, i);
            match gateway::on_request(worker, policy, at, req, host, ex).await {
                Some(refused) => Err(refused),
                None => Ok(StepState::None),
            }
        }
        Policy::Limit(_) => {
            let Some(rt) = worker.snapshot.limits.step(state.route, i) else {
                return Ok(StepState::None);
            };
            match rate_limit::on_request(rt, route, req, host, ex).await {
                Ok(step) => Ok(StepState::Limit(step)),
                Err(refused) => Err(*refused),
            }
        }
        Policy::Validate(policy) => {
            let operation = match validate::on_request(policy, route, req).await {
                Ok(op) => op,
                Err(refused) => {
                    worker.metrics.validation_failed(&route.name, "request");
                    return Err(refused);
                }
            };
            Ok(match policy.answers {
                Some(_) => {
                    StepState::CheckAnswer(validate::AnswerStep::new(worker, policy, operation))
                }
                None => StepState::None,
            })
        }
        Policy::Reshape(policy) => {
            match transform::on_request(policy, route, req, host, ex).await {
                Ok(step) => Ok(StepState::Reshape(Box::new(step))),
                Err(refused) => Err(*refused),
            }
        }
        // Never waits (run by `step_now`).
        Policy::Headers(_)
        | Policy::IpFilter(_)
        | Policy::Methods(_)
        | Policy::SecurityHeaders(_)
        | Policy::Cors(_)
        | Policy::Compress(_) => Ok(StepState::None),
    }
}

/// Lets the steps whose request phase ran replace an error with an answer
/// (last first); `None` leaves the error as it is.
pub(crate) fn error_phase(
    route: &Route,
    err: &ProxyError,
    state: &mut ChainState,
) -> Option<Response<ResponseBody>> {
    let ran = &route.policies[state.from..state.from + state.ran];
    for (i, policy) in ran.iter().enumerate().rev() {
        if let (Policy::Cache(_), Some(StepState::Cache(step))) = (policy, state.steps.get_mut(i)) {
            if let Some(resp) = cache::on_error(step, err) {
                return Some(resp);
            }
        }
    }
    None
}

/// Runs the response phase of every step whose request phase ran, last
/// first. Async: a reshaping step may read the answer's body whole.
pub(crate) async fn response_phase(
    route: &Route,
    resp: &mut Response<ResponseBody>,
    state: &mut ChainState,
) {
    let ran = &route.policies[state.from..state.from + state.ran];
    for (i, policy) in ran.iter().enumerate().rev() {
        let step = state.steps.get_mut(i).map(std::mem::take);
        match (policy, step) {
            (Policy::Reshape(policy), Some(StepState::Reshape(step))) => {
                transform::on_response(policy, *step, resp).await;
            }
            (policy, step) => respond_now(route, policy, step, resp, state),
        }
    }
}

/// [`response_phase`] for a chain that [`request_phase_now`] ran whole
/// (`Progress::Done` or `Answered`): no reshaping step ran, so none waits.
pub(crate) fn response_phase_now(
    route: &Route,
    resp: &mut Response<ResponseBody>,
    state: &mut ChainState,
) {
    let ran = &route.policies[state.from..state.from + state.ran];
    for (i, policy) in ran.iter().enumerate().rev() {
        let step = state.steps.get_mut(i).map(std::mem::take);
        respond_now(route, policy, step, resp, state);
    }
}

/// The response phase of one step, but a reshaping one's.
fn respond_now(
    route: &Route,
    policy: &Policy,
    step: Option<StepState>,
    resp: &mut Response<ResponseBody>,
    state: &mut ChainState,
) {
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
        (Policy::Cache(_), Some(StepState::Cache(step))) => cache::on_response(*step, resp),
        (Policy::Cache(_), _) => {}
        (Policy::Compress(policy), Some(StepState::Compress(side))) => {
            state.compressed = compress::on_response(policy, &side, resp);
        }
        (Policy::Compress(_), _) => {}
        // Gateway policies only act on requests (so far).
        (Policy::Gateway(_), _) => {}
        (Policy::Limit(_), Some(StepState::Limit(step))) => {
            rate_limit::on_response(step, resp);
        }
        (Policy::Limit(_), _) => {}
        (Policy::Validate(_), Some(StepState::CheckAnswer(step))) => {
            validate::on_response(step, route, resp);
        }
        (Policy::Validate(_), _) => {}
        // Run by `response_phase`, which awaits it.
        (Policy::Reshape(_), _) => {}
    }
}
