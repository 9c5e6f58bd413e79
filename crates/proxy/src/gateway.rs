//! The gateway's part of the runtime snapshot: the consumer directory, the
//! identity header names removed from every request, and the runtime of
//! each stateful definition (`jwt` keys, the `basic_auth` and
//! `oauth2_introspection` caches, those of `auth: {any}`'s methods). Built
//! with the snapshot, so a reload swaps all of it at once.

use std::sync::Arc;

use http::HeaderName;
use tollgate_config::{Config, ConfigError, GatewayPolicy, Policy};
use tollgate_gateway::basic_auth::BasicAuthRt;
use tollgate_gateway::introspection::IntrospectionAuth;
use tollgate_gateway::jwt::JwtAuth;
use tollgate_gateway::Directory;

/// The runtime of one gateway step that keeps state.
#[derive(Debug, Clone)]
pub(crate) enum StepRuntime {
    /// A `jwt` step: its keys and verified-token cache.
    Jwt(Arc<JwtAuth>),
    /// A `basic_auth` step: its verification cache.
    Basic(Arc<BasicAuthRt>),
    /// An `oauth2_introspection` step: its answer cache, calls in flight.
    Introspection(Arc<IntrospectionAuth>),
    /// An `auth: {any}` step: the runtime of each method, in order.
    Any(Vec<Option<StepRuntime>>),
}

/// What the gateway policies read at run time.
#[derive(Debug)]
pub(crate) struct GatewayState {
    /// The consumers, indexed by credential.
    pub(crate) directory: Arc<Directory>,
    /// The identity header names (with their `_` spellings) removed from
    /// every request before the consumer's own are written.
    pub(crate) identity_headers: Vec<HeaderName>,
    /// `[route][step]`: the runtime of each stateful step. Steps holding
    /// the same definition `Arc` (a named policy, `defaults.policies`)
    /// share one.
    steps: Vec<Vec<Option<StepRuntime>>>,
}

impl GatewayState {
    /// Builds the directory and loads every JWT key; key file problems are
    /// the errors (located where the file was named).
    pub(crate) fn build(config: &Config) -> Result<Self, Vec<ConfigError>> {
        let mut made: Vec<StepRuntime> = Vec::new();
        let mut errors = Vec::new();
        let mut steps = Vec::with_capacity(config.routes.len());
        for route in &config.routes {
            let mut row = Vec::with_capacity(route.policies.len());
            for policy in &route.policies {
                let Policy::Gateway(g) = policy else {
                    row.push(None);
                    continue;
                };
                match runtime(g, &mut made) {
                    Ok(rt) => row.push(rt),
                    Err(e) => {
                        errors.extend(e);
                        row.push(None);
                    }
                }
            }
            steps.push(row);
        }
        if !errors.is_empty() {
            // A named policy used by several routes is reported once.
            let mut seen = Vec::new();
            errors.retain(|e| {
                let text = e.to_string();
                let first = !seen.contains(&text);
                seen.push(text);
                first
            });
            return Err(errors);
        }
        Ok(Self {
            directory: Arc::new(Directory::build(&config.gateway)),
            identity_headers: config.gateway.identity_headers.names().cloned().collect(),
            steps,
        })
    }

    /// The runtime of step `step` of route `route`, if it keeps state.
    pub(crate) fn step(&self, route: usize, step: usize) -> Option<&StepRuntime> {
        self.steps.get(route)?.get(step)?.as_ref()
    }
}

/// The runtime of a stateful gateway step, shared with an earlier step of
/// the same definition; `Ok(None)` for stateless kinds.
fn runtime(
    g: &GatewayPolicy,
    made: &mut Vec<StepRuntime>,
) -> Result<Option<StepRuntime>, Vec<ConfigError>> {
    let found = made.iter().find(|rt| match (rt, g) {
        (StepRuntime::Jwt(j), GatewayPolicy::Jwt(def)) => Arc::ptr_eq(j.policy(), def),
        (StepRuntime::Basic(b), GatewayPolicy::BasicAuth(def)) => Arc::ptr_eq(b.policy(), def),
        (StepRuntime::Introspection(i), GatewayPolicy::Introspection(def)) => {
            Arc::ptr_eq(i.policy(), def)
        }
        _ => false,
    });
    if let Some(rt) = found {
        return Ok(Some(rt.clone()));
    }
    let rt = match g {
        GatewayPolicy::Jwt(def) => StepRuntime::Jwt(Arc::new(JwtAuth::build(def)?)),
        GatewayPolicy::BasicAuth(def) => StepRuntime::Basic(Arc::new(BasicAuthRt::new(def))),
        GatewayPolicy::Introspection(def) => {
            StepRuntime::Introspection(Arc::new(IntrospectionAuth::new(def)))
        }
        GatewayPolicy::Any(any) => {
            let mut members = Vec::with_capacity(any.methods.len());
            for m in &any.methods {
                members.push(runtime(m, made)?);
            }
            // Not shared: its methods are (through `made`).
            return Ok(Some(StepRuntime::Any(members)));
        }
        _ => return Ok(None),
    };
    made.push(rt.clone());
    Ok(Some(rt))
}
