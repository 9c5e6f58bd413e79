//! The answering half of an HTTP/2 client's stream while the pipeline
//! runs: where interim answers (1xx) go before the final one.

use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use h2::server::SendResponse;
use http::{HeaderMap, StatusCode};

/// The answering half of an HTTP/2 client's stream while the pipeline
/// runs: interim answers are sent through it, and the stream's task polls
/// it for the client's RST_STREAM. Both happen on the stream's one task,
/// so the lock is never contended; it only lets the pipeline borrow it
/// while the task watches for the reset.
#[derive(Debug)]
pub(crate) struct H2Respond(Mutex<SendResponse<Bytes>>);

impl H2Respond {
    /// The answering half of a stream.
    pub(super) fn new(respond: SendResponse<Bytes>) -> Self {
        Self(Mutex::new(respond))
    }

    /// The stream's handle, once the pipeline is done with it.
    pub(super) fn into_inner(self) -> SendResponse<Bytes> {
        self.0.into_inner().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, SendResponse<Bytes>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends an interim (1xx) answer before the final one (RFC 9110 §15.2);
    /// hop-by-hop fields are dropped and nothing of it is kept. A stream
    /// the client already reset takes nothing, silently: the final answer
    /// will meet the same reset.
    pub(crate) fn send_interim(&self, status: StatusCode, headers: &mut HeaderMap) {
        crate::forward::strip_hop_by_hop(headers, false, false);
        let mut head = http::Response::new(());
        *head.status_mut() = status;
        *head.headers_mut() = std::mem::take(headers);
        let _ = self.lock().send_informational(head);
    }
}
