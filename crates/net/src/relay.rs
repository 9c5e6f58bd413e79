//! The L4 byte relay: copies two streams into each other until both
//! directions have ended, passing a half-close on, and gives up after a
//! period without traffic.
//!
//! One task polls both directions (no task per direction, no channel);
//! each direction owns one buffer that starts small and grows while reads
//! fill it, so an idle or chatty connection stays cheap and a bulk transfer
//! gets large reads and writes. Nothing is allocated per chunk.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// Buffer each direction starts with.
pub const RELAY_INITIAL_BUFFER: usize = 16 * 1024;
/// Buffer each direction grows to at most, by default.
pub const RELAY_MAX_BUFFER: usize = 64 * 1024;

/// How a relay runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayConfig {
    /// The relay ends when no byte moved in either direction this long.
    pub idle_timeout: Duration,
    /// Largest buffer per direction (at least [`RELAY_INITIAL_BUFFER`] is used).
    pub max_buffer: usize,
    /// When the second direction ends, flush its writer but leave the FIN
    /// to the caller dropping the stream: one system call fewer per
    /// connection, and the same packets for TCP, whose close sends the FIN
    /// (nothing is left unread by then). Wrong for streams that must say
    /// goodbye themselves (TLS's close_notify): keep it `false` for those.
    pub close_sends_last_fin: bool,
}

impl RelayConfig {
    /// A relay ending after `idle_timeout` of silence, with the default buffers.
    pub fn new(idle_timeout: Duration) -> Self {
        Self {
            idle_timeout,
            max_buffer: RELAY_MAX_BUFFER,
            close_sends_last_fin: false,
        }
    }
}

/// Why a relay ended.
#[derive(Debug)]
pub enum RelayEnd {
    /// Both sides finished sending and each end was passed on.
    Closed,
    /// No byte moved in either direction for the idle timeout.
    IdleTimeout,
    /// Reading or writing one side failed (e.g. a reset).
    Error(io::Error),
}

/// What a relay did.
#[derive(Debug)]
pub struct RelayOutcome {
    /// Bytes written to `b` (read from `a`).
    pub a_to_b: u64,
    /// Bytes written to `a` (read from `b`).
    pub b_to_a: u64,
    /// Why it ended.
    pub end: RelayEnd,
}

/// Relays `a` and `b` into each other until both directions have ended,
/// one of them fails, or nothing moves for `config.idle_timeout`.
///
/// When one side ends its sending (reads end of file), everything read
/// from it is written to the other side and the other side's write half is
/// shut down (a TCP FIN), while the opposite direction keeps flowing.
pub async fn relay<A, B>(a: &mut A, b: &mut B, config: &RelayConfig) -> RelayOutcome
where
    A: AsyncRead + AsyncWrite + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    let max = config.max_buffer.max(RELAY_INITIAL_BUFFER);
    let mut a_to_b = Direction::new(max);
    let mut b_to_a = Direction::new(max);
    let idle = config.idle_timeout;
    let mut last_activity = Instant::now();
    let timer = tokio::time::sleep_until(last_activity + idle);
    tokio::pin!(timer);
    let end = poll_fn(|cx| {
        let before = a_to_b.bytes + b_to_a.bytes;
        if !a_to_b.finished {
            a_to_b.skip_shutdown = config.close_sends_last_fin && b_to_a.finished;
            if let Poll::Ready(Err(e)) = a_to_b.poll_copy(cx, &mut *a, &mut *b) {
                return Poll::Ready(RelayEnd::Error(e));
            }
        }
        if !b_to_a.finished {
            b_to_a.skip_shutdown = config.close_sends_last_fin && a_to_b.finished;
            if let Poll::Ready(Err(e)) = b_to_a.poll_copy(cx, &mut *b, &mut *a) {
                return Poll::Ready(RelayEnd::Error(e));
            }
        }
        if a_to_b.finished && b_to_a.finished {
            return Poll::Ready(RelayEnd::Closed);
        }
        if a_to_b.bytes + b_to_a.bytes != before {
            // One clock read per wake-up with progress; the timer itself is
            // only moved when it fires early.
            last_activity = Instant::now();
        }
        loop {
            ready!(timer.as_mut().poll(cx));
            let deadline = last_activity + idle;
            if deadline <= Instant::now() {
                return Poll::Ready(RelayEnd::IdleTimeout);
            }
            timer.as_mut().reset(deadline);
        }
    })
    .await;
    RelayOutcome {
        a_to_b: a_to_b.bytes,
        b_to_a: b_to_a.bytes,
        end,
    }
}

/// One direction of a relay: read into the buffer, write it all out, repeat.
struct Direction {
    buf: Box<[u8]>,
    max: usize,
    /// Bytes `buf[start..end]` are read and not yet written.
    start: usize,
    end: usize,
    /// The reader reported end of file.
    read_done: bool,
    /// Bytes were written since the last flush.
    need_flush: bool,
    /// End of file was passed on (the writer is shut down).
    finished: bool,
    /// At end of file, only flush: the caller's close sends the FIN.
    skip_shutdown: bool,
    /// Bytes written so far.
    bytes: u64,
}

impl Direction {
    fn new(max: usize) -> Self {
        Self {
            buf: vec![0; RELAY_INITIAL_BUFFER].into_boxed_slice(),
            max,
            start: 0,
            end: 0,
            read_done: false,
            need_flush: false,
            finished: false,
            skip_shutdown: false,
            bytes: 0,
        }
    }

    /// Copies until the reader has nothing more right now (`Pending`), or
    /// the direction is over (`Ready(Ok)`), or it failed.
    fn poll_copy<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        r: &mut R,
        w: &mut W,
    ) -> Poll<io::Result<()>>
    where
        R: AsyncRead + Unpin + ?Sized,
        W: AsyncWrite + Unpin + ?Sized,
    {
        loop {
            while self.start < self.end {
                let n = ready!(Pin::new(&mut *w).poll_write(cx, &self.buf[self.start..self.end]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                self.start += n;
                self.bytes += n as u64;
                self.need_flush = true;
            }
            if self.read_done {
                if self.need_flush {
                    ready!(Pin::new(&mut *w).poll_flush(cx))?;
                    self.need_flush = false;
                }
                if !self.skip_shutdown {
                    ready!(Pin::new(&mut *w).poll_shutdown(cx))?;
                }
                self.finished = true;
                // The buffer is not needed any more; a half-closed
                // connection may stay open a long time.
                self.buf = Box::new([]);
                return Poll::Ready(Ok(()));
            }
            // A read that filled the whole buffer suggests a bulk transfer:
            // larger reads mean fewer system calls per byte.
            if self.end == self.buf.len() && self.buf.len() < self.max {
                let grown = (self.buf.len() * 2).min(self.max);
                self.buf = vec![0; grown].into_boxed_slice();
            }
            self.start = 0;
            self.end = 0;
            let mut rb = ReadBuf::new(&mut self.buf);
            match Pin::new(&mut *r).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {
                    let n = rb.filled().len();
                    if n == 0 {
                        self.read_done = true;
                    } else {
                        self.end = n;
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    // Nothing more to read for now: push out what buffered
                    // writers (TLS) hold. Plain sockets flush for free.
                    if self.need_flush {
                        ready!(Pin::new(&mut *w).poll_flush(cx))?;
                        self.need_flush = false;
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn copies_both_ways_and_passes_half_close_on() {
        for close_sends_last_fin in [false, true] {
            rt().block_on(async {
                let (mut client, mut proxy_a) = tokio::io::duplex(1024);
                let (mut proxy_b, mut server) = tokio::io::duplex(1024);
                let config = RelayConfig {
                    close_sends_last_fin,
                    ..RelayConfig::new(Duration::from_secs(5))
                };
                // The relay's streams are dropped when it returns, as the
                // proxy drops its sockets.
                let relay =
                    tokio::spawn(async move { relay(&mut proxy_a, &mut proxy_b, &config).await });
                let payload: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
                let sent = payload.clone();
                let writer = tokio::spawn(async move {
                    client.write_all(&sent).await.unwrap();
                    client.shutdown().await.unwrap();
                    // The other direction still flows after our FIN.
                    let mut back = Vec::new();
                    client.read_to_end(&mut back).await.unwrap();
                    back
                });
                let mut got = Vec::new();
                server.read_to_end(&mut got).await.unwrap();
                assert_eq!(got, payload);
                server.write_all(b"answer after your FIN").await.unwrap();
                server.shutdown().await.unwrap();
                assert_eq!(writer.await.unwrap(), b"answer after your FIN");
                let out = relay.await.unwrap();
                assert!(matches!(out.end, RelayEnd::Closed), "{:?}", out.end);
                assert_eq!(out.a_to_b, 100_000);
                assert_eq!(out.b_to_a, 21);
            });
        }
    }

    #[test]
    fn idle_relay_times_out_but_traffic_keeps_it_alive() {
        rt().block_on(async {
            tokio::time::pause();
            let (mut client, mut proxy_a) = tokio::io::duplex(64);
            let (mut proxy_b, mut server) = tokio::io::duplex(64);
            let relay = tokio::spawn(async move {
                relay(
                    &mut proxy_a,
                    &mut proxy_b,
                    &RelayConfig::new(Duration::from_secs(10)),
                )
                .await
            });
            // A byte every 6 s: never 10 s of silence.
            for _ in 0..4 {
                tokio::time::sleep(Duration::from_secs(6)).await;
                client.write_all(b"x").await.unwrap();
                let mut b = [0u8; 1];
                server.read_exact(&mut b).await.unwrap();
            }
            let started = Instant::now();
            let out = relay.await.unwrap();
            assert!(matches!(out.end, RelayEnd::IdleTimeout), "{:?}", out.end);
            // Ten seconds after the last byte (the timer rounds up to 1 ms).
            let waited = started.elapsed();
            assert!(
                waited >= Duration::from_secs(10) && waited <= Duration::from_millis(10_010),
                "{waited:?}"
            );
            assert_eq!((out.a_to_b, out.b_to_a), (4, 0));
        });
    }

    #[test]
    fn buffer_grows_to_the_limit_only() {
        rt().block_on(async {
            let (mut tx, mut rx) = tokio::io::duplex(256 * 1024);
            tx.write_all(&vec![7u8; 200 * 1024]).await.unwrap();
            let mut d = Direction::new(40 * 1024);
            let mut sink = Vec::new();
            let mut cx = Context::from_waker(std::task::Waker::noop());
            // Everything available is copied, then the reader has no more.
            assert!(d.poll_copy(&mut cx, &mut rx, &mut sink).is_pending());
            assert_eq!(sink.len(), 200 * 1024);
            assert_eq!(d.buf.len(), 40 * 1024);
            drop(tx);
            assert!(matches!(
                d.poll_copy(&mut cx, &mut rx, &mut sink),
                Poll::Ready(Ok(()))
            ));
            assert!(d.finished && d.buf.is_empty());
        });
    }
}
