//! Upstreams whose answers a test writes: a function from the request
//! received to a [`Reply`] (status, fields, body, delay, or a body sent in
//! timed chunks). The function sees every request, so it can count them,
//! answer conditionals with 304, or vary by Accept-Encoding.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::upstream::RecordedRequest;

/// The function a scripted upstream answers with.
pub(crate) type ScriptFn = dyn Fn(&RecordedRequest) -> Reply + Send + Sync;

/// A scripted upstream's behaviour, shared by its connections.
#[derive(Clone)]
pub(crate) struct Script(pub(crate) Arc<ScriptFn>);

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Script")
    }
}

/// One answer of a scripted upstream.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Header fields, in order.
    pub headers: Vec<(String, String)>,
    /// The body (ignored when `chunks` is set, and for HEAD, 204, 304).
    pub body: Bytes,
    /// Wait this long before answering.
    pub delay: Duration,
    /// Send the body in these pieces (chunked), one `interval` apart.
    pub chunks: Option<(Vec<Bytes>, Duration)>,
}

impl Reply {
    /// An answer with `status`, no fields, an empty body.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
            delay: Duration::ZERO,
            chunks: None,
        }
    }

    /// `200` with `body`.
    pub fn ok(body: impl Into<Bytes>) -> Self {
        Self::new(200).body(body)
    }

    /// Adds a header field.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Answers after `delay`.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Sends the body as these chunks, `interval` apart.
    pub fn chunked(mut self, chunks: &[&str], interval: Duration) -> Self {
        let chunks = chunks
            .iter()
            .map(|c| Bytes::copy_from_slice(c.as_bytes()))
            .collect();
        self.chunks = Some((chunks, interval));
        self
    }
}
