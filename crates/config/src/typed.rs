//! Validated configuration: every value parsed, every default applied, every
//! cross-reference resolved. Runtime code builds from these types only.
//! One module per part of the file; every type is re-exported here (and
//! from the crate root).

mod admin;
mod api;
mod external_auth;
mod gateway;
pub mod json_doc;
mod jwt;
mod listener;
mod log;
mod policy;
mod redis;
mod route;
mod security;
mod static_files;
mod tls;
mod trace;
mod upstream;

use std::time::Duration;

pub use admin::*;
pub use api::*;
pub use external_auth::*;
pub use gateway::*;
pub use jwt::*;
pub use listener::*;
pub use log::*;
pub use policy::*;
pub use redis::*;
pub use route::*;
pub use security::*;
pub use static_files::*;
pub use tls::*;
pub use trace::*;
pub use upstream::*;

/// The whole validated configuration of one tollgate process.
#[derive(Debug, Clone)]
pub struct Config {
    /// Process-wide settings (workers, shutdown).
    pub server: Server,
    /// Every listener, in file order.
    pub listeners: Vec<Listener>,
    /// Every upstream pool, in file order; routes refer to them by index.
    pub upstreams: Vec<Upstream>,
    /// Every route, in file order (the router applies precedence).
    pub routes: Vec<Route>,
    /// Where access log lines go.
    pub access_log: AccessLog,
    /// Request fields written into each access line (`access_log.headers`).
    pub access_log_headers: Vec<http::HeaderName>,
    /// The event log: level, line format and destination.
    pub log: Log,
    /// The admin API's listener; `None` when the file has no `admin:` block.
    pub admin: Option<Admin>,
    /// Consumers and identity headers (the API gateway).
    pub gateway: Gateway,
    /// The shared store of `store: redis` limits; `None` without `redis:`.
    pub redis: Option<Redis>,
    /// Span export; `None` (no `tracing:` block) turns tracing off.
    pub tracing: Option<Tracing>,
    /// Per-consumer series in `/metrics` (`metrics:`).
    pub consumer_metrics: ConsumerMetrics,
}

/// Process-wide settings.
#[derive(Debug, Clone)]
pub struct Server {
    /// Worker threads; each runs its own event loop and accept socket (SO_REUSEPORT).
    pub workers: usize,
    /// How long in-flight requests may run after SIGTERM/SIGINT before the process exits.
    pub shutdown_timeout: Duration,
}

/// Access log destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLog {
    /// No access log.
    Off,
    /// JSON lines on standard output.
    Stdout,
    /// JSON lines appended to this file.
    File(std::path::PathBuf),
}
