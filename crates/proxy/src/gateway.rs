//! The gateway's part of the runtime snapshot: the consumer directory, the
//! identity header names removed from every request, and one `JwtAuth`
//! (keys loaded, verified-token cache) per `jwt` definition. Built with
//! the snapshot, so a reload swaps all of it at once.

use std::sync::Arc;

use http::HeaderName;
use tollgate_config::{Config, ConfigError, GatewayPolicy, Policy};
use tollgate_gateway::jwt::JwtAuth;
use tollgate_gateway::Directory;

/// What the gateway policies read at run time.
#[derive(Debug)]
pub(crate) struct GatewayState {
    /// The consumers, indexed by credential.
    pub(crate) directory: Arc<Directory>,
    /// The identity header names (with their `_` spellings) removed from
    /// every request before the consumer's own are written.
    pub(crate) identity_headers: Vec<HeaderName>,
    /// `[route][step]`: the runtime of each `jwt` step. Steps holding the
    /// same `Arc<JwtPolicy>` (a named policy, `defaults.policies`) share one.
    jwt: Vec<Vec<Option<Arc<JwtAuth>>>>,
}

impl GatewayState {
    /// Builds the directory and loads every JWT key; key file problems are
    /// the errors (located where the file was named).
    pub(crate) fn build(config: &Config) -> Result<Self, Vec<ConfigError>> {
        let mut made: Vec<Arc<JwtAuth>> = Vec::new();
        let mut errors = Vec::new();
        let mut jwt = Vec::with_capacity(config.routes.len());
        for route in &config.routes {
            let mut steps = Vec::with_capacity(route.policies.len());
            for policy in &route.policies {
                let Policy::Gateway(GatewayPolicy::Jwt(def)) = policy else {
                    steps.push(None);
                    continue;
                };
                if let Some(j) = made.iter().find(|j| Arc::ptr_eq(j.policy(), def)) {
                    steps.push(Some(j.clone()));
                    continue;
                }
                match JwtAuth::build(def) {
                    Ok(j) => {
                        let j = Arc::new(j);
                        made.push(j.clone());
                        steps.push(Some(j));
                    }
                    Err(e) => {
                        errors.extend(e);
                        steps.push(None);
                    }
                }
            }
            jwt.push(steps);
        }
        if !errors.is_empty() {
            // A named policy used by several routes is reported once.
            errors.dedup_by(|a, b| a.to_string() == b.to_string());
            return Err(errors);
        }
        Ok(Self {
            directory: Arc::new(Directory::build(&config.gateway)),
            identity_headers: config.gateway.identity_headers.names().cloned().collect(),
            jwt,
        })
    }

    /// The `jwt` runtime of step `step` of route `route`.
    pub(crate) fn jwt(&self, route: usize, step: usize) -> Option<&Arc<JwtAuth>> {
        self.jwt.get(route)?.get(step)?.as_ref()
    }
}
