//! Background revalidation for stale-while-revalidate: the stale answer is
//! served at once, and one copy of the request runs the chain again from
//! the cache step to refresh the entry.

use std::sync::Arc;

use http::{HeaderMap, Method, Uri, Version};
use http_body_util::BodyExt;
use tollgate_edge::cache::entry::Entry;

use crate::body::RequestBody;
use crate::forward::ClientInfo;
use crate::pipeline::{self, Exchange, Incoming};
use crate::policy::ChainState;
use crate::snapshot::Worker;

/// A background revalidation asked for by a stale-while-revalidate hit.
#[derive(Debug)]
pub(crate) struct Background {
    /// The cache step's index: the chain is run again from there.
    from: usize,
    /// The entry served stale; its claim is released when done.
    entry: Arc<Entry>,
    listener: usize,
    client: ClientInfo,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
}

impl Background {
    /// A refresh of `entry` for a copy of `req`, from chain step `from`.
    pub(super) fn new(from: usize, entry: Arc<Entry>, req: &Incoming<'_>) -> Self {
        Self {
            from,
            entry,
            listener: req.listener,
            client: req.client.clone(),
            uri: req.uri.clone(),
            version: req.version,
            headers: req.headers.clone(),
        }
    }
}

/// Refreshes a stale entry in the background: the chain runs again from
/// the cache step for a copy of the request (the cache step validates
/// instead of serving), and the answer's body is read to its end so it is
/// stored. Started by the pipeline after the stale answer was made.
pub(crate) async fn revalidate(worker: Arc<Worker>, route: usize, job: Background) {
    let snapshot = worker.snapshot.clone();
    let Some(r) = snapshot.config.routes.get(route) else {
        job.entry.end_revalidation();
        return;
    };
    let mut req = Incoming {
        listener: job.listener,
        client: job.client,
        method: Method::GET,
        uri: job.uri,
        version: job.version,
        headers: job.headers,
        body: RequestBody::Empty,
        upgrade: false,
        request_id: worker.new_request_id(),
        grpc: None,
    };
    let host = pipeline::request_host(&req.uri, &req.headers).into_owned();
    let mut chain = ChainState::revalidation(route, job.from);
    let mut ex = Exchange::default();
    if let Ok(resp) = pipeline::chained(&worker, r, &mut req, &host, &mut ex, &mut chain).await {
        let mut body = resp.into_body();
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                break;
            }
        }
    }
    job.entry.end_revalidation();
}
