//! The admin API: a small HTTP/1.1 server on its own thread and runtime,
//! so a slow or busy admin caller never takes time from the workers.
//!
//! This crate sits below `proxy`, so it knows nothing of the running
//! server: what the endpoints answer comes from an [`AdminBackend`], which
//! the binary implements over `RunningServer`. Here are the listener
//! (`server.rs`), the bearer token check (`auth.rs`) and the mapping of
//! paths to backend calls (`routes.rs`); answers are JSON.

mod auth;
mod dashboard;
mod routes;
mod server;

pub use server::AdminServer;

use serde_json::Value;

/// An answer of the admin API: a status code and a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The HTTP status code.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
}

impl Reply {
    /// `200 OK` with `body`.
    pub fn ok(body: Value) -> Self {
        Self { status: 200, body }
    }

    /// An error answer: `{"error": message}` with `status`.
    pub fn error(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            body: serde_json::json!({ "error": message.into() }),
        }
    }
}

/// What a cache purge removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purge {
    /// Every entry of the store.
    All,
    /// The entry stored under this key.
    Key(String),
    /// Every entry whose key starts with this.
    Prefix(String),
}

/// What the admin API reads from and acts on: implemented by the binary
/// over the running server. The read methods are called on the admin
/// thread and must not block for long; the actions (`reload`,
/// `put_config`, `purge`, `drain`) run on the admin runtime's blocking pool.
pub trait AdminBackend: Send + Sync + 'static {
    /// Whether the listeners are bound, the snapshot built, and the process
    /// not draining (`/readyz`).
    fn ready(&self) -> bool;
    /// Version, uptime, pid, configuration file and hash, last reload,
    /// workers, listeners (`/status`).
    fn status(&self) -> Value;
    /// The configuration applied last, with every secret redacted (`/config`).
    fn config(&self) -> Value;
    /// Every route (`/routes`).
    fn routes(&self) -> Value;
    /// Every upstream and target with health and load (`/upstreams`).
    fn upstreams(&self) -> Value;
    /// The listeners' certificates (`/certificates`).
    fn certificates(&self) -> Value;
    /// The cache stores (`/caches`).
    fn caches(&self) -> Value;
    /// The consumers with their groups, metadata and which credentials
    /// they hold, never the credentials themselves (`/consumers`).
    fn consumers(&self) -> Value;
    /// Reads the configuration file again and applies it (`POST /reload`),
    /// or only validates it and says what would change (`dry_run`).
    fn reload(&self, dry_run: bool) -> Reply;
    /// Validates a new configuration (YAML text) and, unless `dry_run`,
    /// applies it; with `write`, it then replaces the configuration file
    /// (`PUT /config`).
    fn put_config(&self, text: String, dry_run: bool, write: bool) -> Reply;
    /// Removes entries from the cache store called `name`.
    fn purge(&self, name: &str, what: Purge) -> Reply;
    /// Drains (`true`) or enables again one target of an upstream
    /// (`POST /upstreams/{name}/targets/{address}/drain|enable`).
    fn drain(&self, upstream: &str, address: &str, drained: bool) -> Reply;
    /// Gives one target of an upstream a weight (`Some`, the body of
    /// `POST /upstreams/{name}/targets/{address}/weight`) or its configured
    /// one again (`None`, `DELETE` of the same path).
    fn weight(&self, upstream: &str, address: &str, weight: Option<u32>) -> Reply;
    /// Every metric family, summed over the workers now (`/metrics`).
    fn metrics(&self) -> Vec<crate::metrics::Family>;
    /// Starts the binary again and hands it the listening sockets
    /// (`POST /upgrade`); answers once the new process serves, or with why
    /// it did not.
    fn upgrade(&self) -> Reply {
        Reply::error(501, "this server cannot upgrade itself")
    }
}
