//! The runtime snapshot: configuration compiled into the router and
//! balancers, immutable once built. Workers add their own connection pools.

use std::sync::Arc;

use tollgate_balance::SmoothRoundRobin;
use tollgate_config::{Config, UpstreamProtocol};
use tollgate_core::RequestIdGenerator;
use tollgate_ops::{AccessLog, AccessLogBuffer};

use crate::date::DateCache;
use crate::router::Router;
use crate::upstream::{H2Session, TargetPool};

/// Everything the data path reads, built once from a [`Config`].
#[derive(Debug)]
pub struct Snapshot {
    /// The configuration it was built from.
    pub config: Config,
    /// Route selection.
    pub router: Router,
    /// One balancer per upstream, in config order.
    pub(crate) balancers: Vec<SmoothRoundRobin>,
}

impl Snapshot {
    /// Compiles `config`.
    pub fn build(config: Config) -> Self {
        let names: Vec<String> = config.listeners.iter().map(|l| l.name.clone()).collect();
        let router = Router::new(&config.routes, &names);
        let balancers = config
            .upstreams
            .iter()
            .map(|u| SmoothRoundRobin::new(&u.targets.iter().map(|t| t.weight).collect::<Vec<_>>()))
            .collect();
        Self {
            config,
            router,
            balancers,
        }
    }
}

/// What one worker thread owns: its pools, its log buffer, and the snapshot.
#[derive(Debug)]
pub(crate) struct Worker {
    pub(crate) snapshot: Arc<Snapshot>,
    /// `[upstream][target]` HTTP/1.1 pools.
    pub(crate) pools: Vec<Vec<Arc<TargetPool>>>,
    /// `[upstream][target]` HTTP/2 sessions (empty for HTTP/1.1 upstreams).
    pub(crate) h2: Vec<Vec<H2Session>>,
    pub(crate) ids: Arc<RequestIdGenerator>,
    pub(crate) log: AccessLogBuffer,
    /// `Date` values for answers that lack one.
    pub(crate) date: DateCache,
}

impl Worker {
    /// A fresh request id as a header value.
    pub(crate) fn new_request_id(&self) -> http::HeaderValue {
        let id = bytes::Bytes::from(self.ids.next_id().into_bytes());
        http::HeaderValue::from_maybe_shared(id).unwrap_or(http::HeaderValue::from_static(""))
    }

    /// A worker over `snapshot` with empty pools.
    pub(crate) fn new(
        snapshot: Arc<Snapshot>,
        ids: Arc<RequestIdGenerator>,
        log: Arc<AccessLog>,
    ) -> Self {
        let pools = snapshot
            .config
            .upstreams
            .iter()
            .map(|u| {
                u.targets
                    .iter()
                    .map(|t| {
                        Arc::new(TargetPool::new(
                            t.address.clone(),
                            u.pool_max_idle,
                            u.pool_idle_timeout,
                            u.connect_timeout,
                        ))
                    })
                    .collect()
            })
            .collect();
        let h2 = snapshot
            .config
            .upstreams
            .iter()
            .map(|u| match u.protocol {
                UpstreamProtocol::H2c => u.targets.iter().map(|_| H2Session::default()).collect(),
                UpstreamProtocol::Http1 => Vec::new(),
            })
            .collect();
        Self {
            snapshot,
            pools,
            h2,
            ids,
            log: AccessLogBuffer::new(log),
            date: DateCache::new(),
        }
    }
}
