//! The slow-reader bound on HTTP/2 answers (`limits.min_send_rate` over
//! `limits.send_rate_window`, as `pace.rs` does for HTTP/1.1). The stream's
//! writer (`h2_stream.rs`) polls an answer's body for its next piece only
//! once the stream has flow-control capacity again, so the time between
//! handing a piece over and being polled for the next is time spent waiting
//! for the client to read. Each
//! answer's body is wrapped in a [`PacedBody`] that adds that time up; a
//! check on a timer (a body that is not polled cannot check itself) closes
//! the connection when some stream took less than the minimum rate over a
//! window of waiting.
//!
//! A body that ends with its last piece is no longer tracked, so an answer
//! handed over in one piece (a small fixed or cached answer) is bounded only
//! by `send_timeout`'s PINGs; upstream answers arrive in many pieces.

use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::Instant;
use tollgate_core::ProxyError;

use super::h2_log::LoggedBody;

/// The bound and the answers being written on one connection.
#[derive(Debug)]
pub(super) struct ConnPace {
    min_rate: u64,
    window: Duration,
    streams: Mutex<Vec<Weak<StreamPace>>>,
}

/// One answer's waiting time and bytes in the current window.
#[derive(Debug, Default)]
pub(crate) struct StreamPace(Mutex<State>);

#[derive(Debug, Default)]
struct State {
    spent: Duration,
    bytes: u64,
    /// Set while a piece was handed over and the next is not asked for yet.
    waiting_since: Option<Instant>,
}

impl ConnPace {
    /// The bound of a listener; `None` when `min_rate` is 0 (off).
    pub(super) fn new(min_rate: u64, window: Duration) -> Option<Arc<Self>> {
        (min_rate > 0).then(|| {
            Arc::new(Self {
                min_rate,
                window,
                streams: Mutex::new(Vec::new()),
            })
        })
    }

    /// A pace for a new answer, watched until its body is dropped.
    pub(super) fn track(&self) -> Arc<StreamPace> {
        let pace = Arc::new(StreamPace::default());
        let mut streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        streams.retain(|s| s.strong_count() > 0);
        streams.push(Arc::downgrade(&pace));
        pace
    }

    /// Resolves when a stream of the connection reads too slowly.
    pub(super) async fn too_slow(&self) {
        let every = (self.window / 4).max(Duration::from_millis(10));
        loop {
            tokio::time::sleep(every).await;
            let now = Instant::now();
            let streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
            let slow = streams
                .iter()
                .filter_map(Weak::upgrade)
                .any(|s| s.judge(now, self.min_rate, self.window));
            if slow {
                return;
            }
        }
    }
}

impl StreamPace {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the window of waiting is over with too few bytes taken;
    /// starts the next window when it is over with enough.
    fn judge(&self, now: Instant, min_rate: u64, window: Duration) -> bool {
        let mut st = self.state();
        let waiting = st.waiting_since.map_or(Duration::ZERO, |t| now - t);
        let spent = st.spent + waiting;
        if spent < window {
            return false;
        }
        if (st.bytes as f64) < min_rate as f64 * spent.as_secs_f64() {
            return true;
        }
        st.spent = Duration::ZERO;
        st.bytes = 0;
        if st.waiting_since.is_some() {
            st.waiting_since = Some(now);
        }
        false
    }

    /// The body is asked for its next piece: the wait is over.
    fn resumed(&self, now: Instant) {
        let mut st = self.state();
        if let Some(t) = st.waiting_since.take() {
            st.spent += now - t;
        }
    }

    /// A piece of `n` bytes was handed over: waiting starts, unless the
    /// body is over.
    fn handed(&self, n: usize, now: Instant, more: bool) {
        let mut st = self.state();
        st.bytes += n as u64;
        st.waiting_since = more.then_some(now);
    }
}

/// An HTTP/2 answer's body with its pace tracked (`None`: no bound).
#[derive(Debug)]
pub(super) struct PacedBody {
    inner: LoggedBody,
    pace: Option<Arc<StreamPace>>,
}

impl PacedBody {
    /// `inner`, tracked by `pace`.
    pub(super) fn new(inner: LoggedBody, pace: Option<Arc<StreamPace>>) -> Self {
        Self { inner, pace }
    }
}

impl Body for PacedBody {
    type Data = Bytes;
    type Error = ProxyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ProxyError>>> {
        let this = &mut *self;
        let Some(pace) = &this.pace else {
            return Pin::new(&mut this.inner).poll_frame(cx);
        };
        pace.resumed(Instant::now());
        let next = std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if let Some(Ok(frame)) = &next {
            if let Some(data) = frame.data_ref() {
                pace.handed(data.len(), Instant::now(), !this.inner.is_end_stream());
            }
        }
        Poll::Ready(next)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_of_waiting_are_judged() {
        let conn = ConnPace::new(100, Duration::from_secs(1)).unwrap();
        let pace = conn.track();
        let t0 = Instant::now();
        // A big first piece, then a long wait: enough for the first window.
        pace.handed(1000, t0, true);
        assert!(!pace.judge(t0 + Duration::from_millis(500), 100, Duration::from_secs(1)));
        assert!(!pace.judge(
            t0 + Duration::from_millis(1200),
            100,
            Duration::from_secs(1)
        ));
        // The next window: 10 bytes in 1 s of waiting is under 100 B/s.
        pace.resumed(t0 + Duration::from_millis(1300));
        pace.handed(10, t0 + Duration::from_millis(1300), true);
        assert!(pace.judge(
            t0 + Duration::from_millis(2300),
            100,
            Duration::from_secs(1)
        ));
        // Time not spent waiting (the body was being read) does not count.
        let idle = conn.track();
        idle.handed(10, t0, false);
        assert!(!idle.judge(t0 + Duration::from_secs(60), 100, Duration::from_secs(1)));
    }

    #[test]
    fn rate_zero_turns_it_off() {
        assert!(ConnPace::new(0, Duration::from_secs(1)).is_none());
    }
}
