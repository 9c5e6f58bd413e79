//! `redis:` as validated: where the shared store of `store: redis`
//! limits is, and how long a decision may wait for it.

use std::fmt;
use std::time::Duration;

/// The shared store.
#[derive(Clone, PartialEq, Eq)]
pub struct Redis {
    /// Which servers, and how they are found.
    pub servers: RedisServers,
    /// TLS to every server (`rediss://`).
    pub tls: bool,
    /// ACL user name.
    pub username: Option<String>,
    /// Password (never logged: see the `Debug` below).
    pub password: Option<String>,
    /// Database number (standalone and Sentinel; a cluster has only 0).
    pub database: i64,
    /// Multiplexed connections per process (calls spread over them).
    pub pool: usize,
    /// Longest a decision waits for the store before `on_store_error`.
    pub timeout: Duration,
}

/// How the servers are found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisServers {
    /// One server (`url`), as `host:port`.
    Standalone(String),
    /// Cluster seed nodes (`urls`), as `host:port`.
    Cluster(Vec<String>),
    /// The master `master` as the sentinels (`urls`) report it.
    Sentinel {
        /// The master's name at the sentinels.
        master: String,
        /// The sentinels, as `host:port`.
        sentinels: Vec<String>,
    },
}

impl fmt::Debug for Redis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis")
            .field("servers", &self.servers)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("database", &self.database)
            .field("pool", &self.pool)
            .field("timeout", &self.timeout)
            .finish()
    }
}
