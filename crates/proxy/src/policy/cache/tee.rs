//! A response body copied into the cache while it streams to the client.
//! Nothing is buffered past the object size limit: once the body grows
//! beyond it the copy is dropped and the body streams on uncached.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::header::{HeaderValue, ACCEPT_RANGES, CONTENT_LENGTH};
use http::HeaderName;
use http_body::{Body, Frame};
use tollgate_core::ProxyError;
use tollgate_edge::cache::entry::Entry;
use tollgate_edge::cache::flight::FlightGuard;
use tollgate_edge::cache::Cache;

use crate::body::ResponseBody;

/// Where a body being copied goes once complete.
#[derive(Debug)]
pub(super) struct Destination {
    /// The store.
    pub(super) cache: Arc<Cache>,
    /// Primary key.
    pub(super) key: Box<[u8]>,
    /// Vary fields and this request's values of them.
    pub(super) vary: (Vec<HeaderName>, Vec<Option<Bytes>>),
    /// The entry, waiting for its body.
    pub(super) entry: Entry,
    /// Largest body stored.
    pub(super) limit: u64,
    /// Held until the entry is stored or abandoned, so followers wait for it.
    pub(super) guard: Option<FlightGuard>,
}

/// An answer's body, passed through and copied.
#[derive(Debug)]
pub struct TeeBody {
    inner: ResponseBody,
    copy: Option<(Destination, Vec<Bytes>, u64)>,
}

impl TeeBody {
    /// Copies `inner` to `to` while it streams.
    pub(super) fn new(inner: ResponseBody, to: Destination) -> Self {
        Self {
            inner,
            copy: Some((to, Vec::new(), 0)),
        }
    }

    /// Exact length, when known.
    pub(crate) fn exact_len(&self) -> Option<u64> {
        self.inner.exact_len()
    }

    /// Whether the body is over.
    pub(crate) fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    /// Polls the next piece, copying it.
    pub(crate) fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ProxyError>>> {
        let next = std::task::ready!(Pin::new(&mut self.inner).poll_frame(cx));
        match &next {
            Some(Ok(frame)) => {
                if let (Some(data), Some((to, pieces, size))) = (frame.data_ref(), &mut self.copy) {
                    *size += data.len() as u64;
                    if *size > to.limit {
                        // Too large after all: stream on, store nothing.
                        self.copy = None;
                    } else {
                        // A reference, not a copy, until the body is complete.
                        pieces.push(data.clone());
                    }
                }
                // HTTP/2 callers may stop polling once the body says it is over.
                if self.inner.is_end_stream() {
                    self.store();
                }
            }
            None => self.store(),
            Some(Err(_)) => self.copy = None,
        }
        Poll::Ready(next)
    }

    /// Stores the complete body (copied once into a buffer of its own, so
    /// the entry does not pin the connection buffers it arrived in).
    fn store(&mut self) {
        let Some((to, pieces, size)) = self.copy.take() else {
            return;
        };
        let mut body = BytesMut::with_capacity(size as usize);
        for p in &pieces {
            body.extend_from_slice(p);
        }
        to.store(body.freeze());
    }
}

impl Destination {
    /// Stores the entry with `body`. Answers without a body (204) are
    /// stored this way at once: nobody polls a body the client is not sent,
    /// so a tee would never see its end.
    pub(super) fn store(self, body: Bytes) {
        let to = self;
        let mut entry = to.entry.with_body(body);
        // Hits are served with these without computing them each time.
        if entry.status != http::StatusCode::NO_CONTENT {
            entry
                .headers
                .insert(CONTENT_LENGTH, HeaderValue::from(entry.body.len()));
        }
        if entry.status == http::StatusCode::OK && !entry.headers.contains_key(ACCEPT_RANGES) {
            entry
                .headers
                .insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        }
        to.cache
            .insert(to.key, to.vary.0, to.vary.1, Arc::new(entry));
        drop(to.guard);
    }
}
