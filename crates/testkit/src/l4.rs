//! Byte-stream and datagram servers for L4 tests: each binds `127.0.0.1:0`,
//! runs on the kit's runtime, counts what reaches it, and stops (listener
//! and every connection closed) when its handle is dropped.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::{JoinHandle, JoinSet};

use crate::runtime;

/// What a [`TcpServer`] does with a connection.
#[derive(Debug, Clone, Copy)]
enum Mode {
    Echo,
    Hello,
    CountThenAnswer,
    ProxyEcho,
}

#[derive(Debug, Default)]
struct Counts {
    accepted: AtomicUsize,
    open: AtomicUsize,
}

/// A TCP test server. Dropping it closes the listener and every connection.
#[derive(Debug)]
pub struct TcpServer {
    addr: SocketAddr,
    counts: Arc<Counts>,
    task: JoinHandle<()>,
}

impl TcpServer {
    /// Echoes every byte back; when the client half-closes, finishes the
    /// echo and closes.
    pub fn echo() -> Self {
        Self::start(Mode::Echo)
    }

    /// Sends its address and `\n` first (see [`TcpServer::id`]), then echoes.
    pub fn hello() -> Self {
        Self::start(Mode::Hello)
    }

    /// Reads until the client half-closes, then answers `got N bytes` and
    /// closes (a half-close test: the answer comes after the client's FIN).
    pub fn count_then_answer() -> Self {
        Self::start(Mode::CountThenAnswer)
    }

    /// Expects a PROXY protocol header (v1 or v2), answers
    /// `PROXY <source> <destination>\n` (`PROXY LOCAL\n` without addresses,
    /// `NO PROXY HEADER: <error>\n` without a valid header, then closes),
    /// then echoes.
    pub fn proxy_echo() -> Self {
        Self::start(Mode::ProxyEcho)
    }

    fn start(mode: Mode) -> Self {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind tcp server");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("address");
        let counts = Arc::new(Counts::default());
        let _guard = runtime().enter();
        let listener = TcpListener::from_std(std_listener).expect("tcp listener");
        let task = runtime().spawn(accept_loop(
            listener,
            mode,
            addr.to_string(),
            counts.clone(),
        ));
        Self { addr, counts, task }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What a [`TcpServer::hello`] server sends first (without the `\n`).
    pub fn id(&self) -> String {
        self.addr.to_string()
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.counts.accepted.load(Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.counts.open.load(Ordering::SeqCst)
    }
}

impl Drop for TcpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, mode: Mode, id: String, counts: Arc<Counts>) {
    // Dropping the set (when this task is aborted) aborts every connection.
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        counts.accepted.fetch_add(1, Ordering::SeqCst);
        counts.open.fetch_add(1, Ordering::SeqCst);
        let _ = stream.set_nodelay(true);
        let (id, counts) = (id.clone(), counts.clone());
        connections.spawn(async move {
            let _ = serve(stream, mode, &id).await;
            counts.open.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

async fn serve(mut stream: tokio::net::TcpStream, mode: Mode, id: &str) -> std::io::Result<()> {
    match mode {
        Mode::Echo => {}
        Mode::Hello => stream.write_all(format!("{id}\n").as_bytes()).await?,
        Mode::CountThenAnswer => {
            let mut total = 0usize;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = stream.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                total += n;
            }
            stream
                .write_all(format!("got {total} bytes").as_bytes())
                .await?;
            return stream.shutdown().await;
        }
        Mode::ProxyEcho => {
            let line = match tollgate_net::proxy_protocol::read_header(&mut stream).await {
                Ok(h) => match h.addresses {
                    Some(a) => format!("PROXY {} {}\n", a.source, a.destination),
                    None => "PROXY LOCAL\n".to_owned(),
                },
                Err(e) => {
                    let line = format!("NO PROXY HEADER: {e}\n");
                    stream.write_all(line.as_bytes()).await?;
                    return stream.shutdown().await;
                }
            };
            stream.write_all(line.as_bytes()).await?;
        }
    }
    let (mut r, mut w) = stream.split();
    tokio::io::copy(&mut r, &mut w).await?;
    w.shutdown().await
}

/// Reads one `\n`-terminated line from a blocking stream (5 s limit), e.g.
/// the greeting of a [`TcpServer::hello`] server. Reads byte by byte so
/// nothing after the line is consumed.
pub fn read_line(stream: &mut TcpStream) -> String {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match stream.read(&mut byte) {
            Ok(1) if byte[0] == b'\n' => break,
            Ok(1) => line.push(byte[0]),
            Ok(_) => break,
            Err(e) => panic!(
                "reading a line: {e} (got {:?})",
                String::from_utf8_lossy(&line)
            ),
        }
    }
    String::from_utf8_lossy(&line).into_owned()
}

/// Like [`read_line`] over a buffered reader (for long conversations).
pub fn read_line_buffered<R: Read>(reader: &mut BufReader<R>) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).expect("read line");
    line.trim_end_matches('\n').to_owned()
}

/// A UDP echo server: answers each datagram with `<its address>|<payload>`
/// and remembers the source addresses it saw.
#[derive(Debug)]
pub struct UdpServer {
    addr: SocketAddr,
    sources: Arc<Mutex<Vec<SocketAddr>>>,
    task: JoinHandle<()>,
}

impl UdpServer {
    /// Starts the server.
    pub fn echo() -> Self {
        let std_socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind udp server");
        std_socket.set_nonblocking(true).expect("nonblocking");
        let addr = std_socket.local_addr().expect("address");
        let sources = Arc::new(Mutex::new(Vec::new()));
        let _guard = runtime().enter();
        let socket = UdpSocket::from_std(std_socket).expect("udp socket");
        let seen = sources.clone();
        let task = runtime().spawn(async move {
            let mut buf = vec![0u8; 65_536];
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                    continue;
                };
                seen.lock().unwrap_or_else(|p| p.into_inner()).push(from);
                let mut answer = format!("{addr}|").into_bytes();
                answer.extend_from_slice(&buf[..n]);
                let _ = socket.send_to(&answer, from).await;
            }
        });
        Self {
            addr,
            sources,
            task,
        }
    }

    /// The bound address (also the prefix of every answer).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every datagram's source address, in order of arrival.
    pub fn sources(&self) -> Vec<SocketAddr> {
        self.sources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Distinct source addresses seen (one per tollgate session).
    pub fn distinct_sources(&self) -> usize {
        self.sources().into_iter().collect::<HashSet<_>>().len()
    }
}

impl Drop for UdpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Sends `payload` from `socket` to `to` and waits up to `wait` for an
/// answer; `None` when none came.
pub fn udp_exchange(
    socket: &std::net::UdpSocket,
    to: SocketAddr,
    payload: &[u8],
    wait: Duration,
) -> Option<String> {
    socket.send_to(payload, to).expect("udp send");
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 65_536];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        let _ = socket.set_read_timeout(Some(left));
        match socket.recv_from(&mut buf) {
            Ok((n, _)) => return Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return None
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("udp receive: {e}"),
        }
    }
}
