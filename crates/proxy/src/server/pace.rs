//! The slow-reader bound on writing answers (`limits.min_send_rate` over
//! `limits.send_rate_window`). `send_timeout` alone lets a client hold a
//! connection for ever by reading a few bytes at a time (every write makes
//! some progress); here the time spent waiting for the client to take
//! bytes is added up, and each time it reaches a window the bytes it took
//! in that window must reach the minimum rate, or the connection is closed.
//!
//! Only waiting counts: bytes that fit in the socket buffers at once (most
//! answers) cost no time, and an upstream that streams slowly (SSE, long
//! polls) is never the client's fault.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tollgate_net::InboundStream;

/// What a paced write may end with besides success.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum WriteFailed {
    /// The client is gone or the socket failed.
    Io,
    /// A write made no progress for `send_timeout`.
    Stalled,
    /// The client took less than the minimum rate over a window.
    TooSlow,
}

/// The pace of one connection's writes.
#[derive(Debug)]
pub(crate) struct Pace {
    /// Bytes per second; 0: no bound.
    min_rate: u64,
    window: Duration,
    send_timeout: Duration,
    /// Time spent in writes in the current window.
    spent: Duration,
    /// Bytes written in the current window.
    bytes: u64,
    /// Set once a client was found too slow.
    tripped: bool,
}

impl Pace {
    /// A pace with the listener's limits.
    pub(crate) fn new(min_rate: u64, window: Duration, send_timeout: Duration) -> Self {
        Self {
            min_rate,
            window,
            send_timeout,
            spent: Duration::ZERO,
            bytes: 0,
            tripped: false,
        }
    }

    /// Longest one write may make no progress (`limits.send_timeout`).
    pub(crate) fn send_timeout(&self) -> Duration {
        self.send_timeout
    }

    /// Whether this connection was closed for reading too slowly.
    pub(crate) fn tripped(&self) -> bool {
        self.tripped
    }

    /// Starts counting afresh (a new answer).
    pub(crate) fn reset(&mut self) {
        self.spent = Duration::ZERO;
        self.bytes = 0;
    }

    /// How long the next write may wait: to the window's end, and never
    /// past the stall bound.
    fn allowance(&self, stalled: Duration) -> Duration {
        let stall_left = self.send_timeout.saturating_sub(stalled);
        if self.min_rate == 0 {
            return stall_left;
        }
        stall_left.min(self.window.saturating_sub(self.spent))
    }

    /// Counts one write (`n` bytes in `took`) and judges a window that is over.
    fn record(&mut self, n: usize, took: Duration) -> Result<(), WriteFailed> {
        self.spent += took;
        self.bytes += n as u64;
        if self.min_rate == 0 || self.spent < self.window {
            return Ok(());
        }
        let wanted = (self.min_rate as f64 * self.spent.as_secs_f64()) as u64;
        if self.bytes < wanted {
            self.tripped = true;
            return Err(WriteFailed::TooSlow);
        }
        self.reset();
        Ok(())
    }

    /// Writes all of `first` then `second` (vectored while both are left).
    pub(crate) async fn write_pair(
        &mut self,
        stream: &mut InboundStream,
        mut first: &[u8],
        mut second: &[u8],
    ) -> Result<(), WriteFailed> {
        let mut stalled = Duration::ZERO;
        while !first.is_empty() || !second.is_empty() {
            // Most writes fit in the socket buffer at once: tried before any
            // clock is read or timer made, and (waiting for nobody) they
            // cost no time.
            let n = match try_now(|cx| poll_write_pair(stream, cx, first, second)).await {
                Some(Ok(0) | Err(_)) => return Err(WriteFailed::Io),
                Some(Ok(n)) => {
                    stalled = Duration::ZERO;
                    self.record(n, Duration::ZERO)?;
                    n
                }
                None => {
                    self.timed_write(stream, first, second, &mut stalled)
                        .await?
                }
            };
            if n < first.len() {
                first = &first[n..];
            } else {
                second = &second[n - first.len()..];
                first = &[];
            }
        }
        // A no-op for TCP; over TLS it pushes out records still buffered.
        match try_now(|cx| Pin::new(&mut *stream).poll_flush(cx)).await {
            Some(Ok(())) => return Ok(()),
            Some(Err(_)) => return Err(WriteFailed::Io),
            None => {}
        }
        match tokio::time::timeout(self.send_timeout, stream.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(WriteFailed::Io),
            Err(_) => Err(WriteFailed::Stalled),
        }
    }

    /// One write that had to wait for the client, bounded by the window and
    /// the stall limit; the bytes it took (possibly none).
    async fn timed_write(
        &mut self,
        stream: &mut InboundStream,
        first: &[u8],
        second: &[u8],
        stalled: &mut Duration,
    ) -> Result<usize, WriteFailed> {
        let started = Instant::now();
        let limit = self.allowance(*stalled);
        let write = std::future::poll_fn(|cx| poll_write_pair(stream, cx, first, second));
        let n = match tokio::time::timeout(limit, write).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Err(WriteFailed::Io),
            Ok(Ok(n)) => n,
            Err(_) => 0,
        };
        let took = started.elapsed();
        if n == 0 {
            *stalled += took;
            if *stalled >= self.send_timeout {
                return Err(WriteFailed::Stalled);
            }
        } else {
            *stalled = Duration::ZERO;
        }
        self.record(n, took)?;
        Ok(n)
    }
}

/// Writes what it can of `first` then `second`, vectored while both are left.
fn poll_write_pair(
    stream: &mut InboundStream,
    cx: &mut Context<'_>,
    first: &[u8],
    second: &[u8],
) -> Poll<std::io::Result<usize>> {
    if first.is_empty() {
        Pin::new(stream).poll_write(cx, second)
    } else {
        let slices = [std::io::IoSlice::new(first), std::io::IoSlice::new(second)];
        Pin::new(stream).poll_write_vectored(cx, &slices)
    }
}

/// `poll` polled once: its result if it is ready now, `None` if it would wait.
async fn try_now<T>(mut poll: impl FnMut(&mut Context<'_>) -> Poll<T>) -> Option<T> {
    std::future::poll_fn(|cx| {
        Poll::Ready(match poll(cx) {
            Poll::Ready(v) => Some(v),
            Poll::Pending => None,
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_judged_on_time_spent_waiting() {
        let second = Duration::from_secs(1);
        let mut pace = Pace::new(100, second, Duration::from_secs(60));
        // A quick fill costs no time.
        assert!(pace.record(1 << 20, Duration::ZERO).is_ok());
        assert!(pace.record(10, Duration::from_millis(900)).is_ok());
        // Window over with plenty of bytes: judged and reset.
        assert!(pace.record(10, Duration::from_millis(200)).is_ok());
        assert_eq!(pace.bytes, 0);
        assert_eq!(pace.allowance(Duration::ZERO), second);
        // Next window: 30 bytes in 1.1 s is under 100 B/s.
        assert!(pace.record(30, Duration::from_millis(1100)).is_err());
        assert!(pace.tripped());
    }

    #[test]
    fn rate_zero_only_bounds_stalls() {
        let mut pace = Pace::new(0, Duration::from_secs(1), Duration::from_secs(5));
        assert!(pace.record(0, Duration::from_secs(100)).is_ok());
        assert_eq!(
            pace.allowance(Duration::from_secs(2)),
            Duration::from_secs(3)
        );
    }
}
