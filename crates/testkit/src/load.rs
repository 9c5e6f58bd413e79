//! A load loop for tests that change a running tollgate under traffic
//! (reloads, a binary upgrade): client threads send `GET path` without
//! pause, half on keep-alive connections and half on a new connection per
//! request, and count what failed.
//!
//! What counts as a failure: a refused or failed connect, a write error on
//! a new connection, an answer other than 200 with the expected body, or a
//! connection closed mid-answer. A reused keep-alive connection that the
//! server closed while idle (EOF or reset before any byte of the answer) is
//! retried once on a new connection, as every HTTP client does for an
//! idempotent request; those retries are counted apart.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// No loop runs longer than this, even if the test never stops it.
const HARD_LIMIT: Duration = Duration::from_secs(120);

/// Per read and write on a connection.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// What a [`LoadLoop`] counted.
#[derive(Debug, Default, Clone)]
pub struct LoadReport {
    /// Requests answered 200 with the expected body.
    pub ok: u64,
    /// Connects refused or failed.
    pub refused: u64,
    /// Requests that failed otherwise.
    pub failed: u64,
    /// Requests retried because an idle keep-alive connection was closed.
    pub retried: u64,
    /// The first few failures, described.
    pub errors: Vec<String>,
}

#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    errors: Mutex<Vec<String>>,
}

impl Counts {
    fn fail(&self, refused: bool, what: String) {
        let counter = if refused { &self.refused } else { &self.failed };
        counter.fetch_add(1, Ordering::Relaxed);
        let mut errors = self.errors.lock().unwrap();
        if errors.len() < 10 {
            errors.push(what);
        }
    }
}

/// Client threads sending requests to one address until stopped.
pub struct LoadLoop {
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
    threads: Vec<JoinHandle<()>>,
}

impl LoadLoop {
    /// Starts `threads` client threads (even ones keep connections alive,
    /// odd ones open one per request) sending `GET path` to `addr` and
    /// expecting 200 with `body`.
    pub fn start(addr: SocketAddr, path: &str, body: &str, threads: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Counts::default());
        let threads = (0..threads)
            .map(|i| {
                let (stop, counts) = (stop.clone(), counts.clone());
                let request = format!("GET {path} HTTP/1.1\r\nHost: load\r\n\r\n").into_bytes();
                let body = body.as_bytes().to_vec();
                std::thread::spawn(move || {
                    client(addr, &request, &body, i % 2 == 0, &stop, &counts)
                })
            })
            .collect();
        Self {
            stop,
            counts,
            threads,
        }
    }

    /// Requests answered well so far.
    pub fn ok(&self) -> u64 {
        self.counts.ok.load(Ordering::Relaxed)
    }

    /// Stops the clients and says what they counted.
    pub fn stop(self) -> LoadReport {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        let c = &self.counts;
        LoadReport {
            ok: c.ok.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            retried: c.retried.load(Ordering::Relaxed),
            errors: c.errors.lock().unwrap().clone(),
        }
    }
}

/// One client thread's loop.
fn client(
    addr: SocketAddr,
    request: &[u8],
    body: &[u8],
    keep_alive: bool,
    stop: &AtomicBool,
    counts: &Counts,
) {
    let started = Instant::now();
    let mut conn: Option<TcpStream> = None;
    while !stop.load(Ordering::Relaxed) && started.elapsed() < HARD_LIMIT {
        let reused = conn.is_some();
        let mut stream = match conn.take() {
            Some(s) => s,
            None => match open(addr) {
                Ok(s) => s,
                Err(e) => {
                    counts.fail(true, format!("connect: {e}"));
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
            },
        };
        match exchange(&mut stream, request, body) {
            Ok(close) => {
                counts.ok.fetch_add(1, Ordering::Relaxed);
                if keep_alive && !close {
                    conn = Some(stream);
                }
            }
            Err(Outcome::ClosedBeforeAnswer) if reused => {
                counts.retried.fetch_add(1, Ordering::Relaxed);
            }
            Err(Outcome::ClosedBeforeAnswer) => {
                counts.fail(false, "closed before any answer on a new connection".into())
            }
            Err(Outcome::Bad(what)) => counts.fail(false, what),
        }
    }
}

fn open(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    s.set_nodelay(true)?;
    Ok(s)
}

enum Outcome {
    /// EOF or reset before a byte of the answer.
    ClosedBeforeAnswer,
    Bad(String),
}

/// Sends one request and reads its answer: whether the server will close
/// the connection (`Connection: close`).
fn exchange(stream: &mut TcpStream, request: &[u8], body: &[u8]) -> Result<bool, Outcome> {
    if stream.write_all(request).is_err() {
        return Err(Outcome::ClosedBeforeAnswer);
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) if got.is_empty() => return Err(Outcome::ClosedBeforeAnswer),
            Ok(0) => return Err(Outcome::Bad("closed mid-answer".into())),
            Err(e) => return Err(Outcome::Bad(format!("read: {e}"))),
            Ok(n) => n,
        };
        got.extend_from_slice(&buf[..n]);
        let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| Outcome::Bad(format!("no content-length: {head}")))?;
        if got.len() < end + 4 + length {
            continue;
        }
        if !head.starts_with("http/1.1 200") || &got[end + 4..end + 4 + length] != body {
            return Err(Outcome::Bad(format!(
                "unexpected answer: {}",
                String::from_utf8_lossy(&got)
            )));
        }
        return Ok(head.contains("connection: close"));
    }
}
