//! `udp` listeners: each client address gets a session, a UDP socket
//! connected to one target (picked once, so the client sticks to it);
//! replies are sent back from the listener's socket. A session ends after
//! `idle_timeout` without a datagram either way, or when its target
//! refuses (ICMP port unreachable, which also counts as a passive health
//! failure). Sessions are bounded by `max_sessions` per process.
//!
//! With SO_REUSEPORT the kernel sends a client's datagrams to the same
//! worker every time, so each worker keeps its own session table.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::{watch, Notify, OwnedSemaphorePermit};
use tokio::time::Instant;

use tollgate_ops::{AccessLogBuffer, L4Record};

use super::connect::{pick, report, Candidates};
use crate::metrics_edge::{EdgeCounters, UdpSessionEnd};
use crate::server::{admit, ActiveGuard, Admitted, ListenerCtx, WorkerSlot};
use crate::snapshot::{InFlightTicket, Snapshot};

/// Room for the largest UDP payload.
const MAX_DATAGRAM: usize = 65_536;
/// Replies forwarded per wake-up of a session before others get a turn.
const REPLY_BURST: usize = 32;

/// One client's session.
struct Session {
    /// Connected to the target.
    socket: UdpSocket,
    /// The generation the session began in: its target's health and
    /// in-flight counts are reported there.
    snapshot: Arc<Snapshot>,
    /// The upstream's index.
    upstream: usize,
    /// The target's index in the upstream.
    target: usize,
    /// Milliseconds after the table's epoch of the last datagram either way.
    last_seen: AtomicU64,
    /// Wakes the session's task to end it (its target refused).
    closed: Notify,
    /// Datagram bytes from the client to the target.
    bytes_in: AtomicU64,
    /// Datagrams from the client sent to the target.
    datagrams_in: AtomicU64,
}

/// What a listener's receive loop and its sessions' tasks share.
struct Table {
    listener: Arc<UdpSocket>,
    sessions: Mutex<HashMap<SocketAddr, Arc<Session>>>,
    epoch: Instant,
    idle: Duration,
    /// One reply buffer for every session of this worker: filled and sent
    /// without an await in between, so a single-threaded worker never
    /// waits for it, and a session costs no buffer of its own.
    reply: Mutex<Box<[u8]>>,
}

impl Table {
    fn touch(&self, s: &Session) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        s.last_seen.store(ms, Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Arc<Session>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets `client`'s session if it is still `session`.
    fn remove(&self, client: SocketAddr, session: &Arc<Session>) {
        let mut map = self.lock();
        if map.get(&client).is_some_and(|s| Arc::ptr_eq(s, session)) {
            map.remove(&client);
        }
    }
}

/// Relays datagrams of a `udp` listener until the worker stops. A new
/// session takes the worker's current generation (a reload reaches new
/// clients) and keeps it. After shutdown starts, datagrams of new clients
/// are dropped while existing sessions go on until they end (they count as
/// active for the drain); after an upgrade's hand-over nothing more is read.
pub(crate) async fn serve_udp(
    socket: UdpSocket,
    ctx: Arc<ListenerCtx>,
    slot: Arc<WorkerSlot>,
    mut shutdown: watch::Receiver<bool>,
    active: Arc<AtomicUsize>,
) {
    // A reload keeps listeners as they are, so the idle timeout stays.
    let Some(idle) = l4_upstream(&slot.load().snapshot, &ctx).map(|(_, idle)| idle) else {
        tracing::error!("udp listener without an upstream");
        return;
    };
    let table = Arc::new(Table {
        listener: Arc::new(socket),
        sessions: Mutex::new(HashMap::new()),
        epoch: Instant::now(),
        idle,
        reply: Mutex::new(vec![0u8; MAX_DATAGRAM].into_boxed_slice()),
    });
    let mut buf = vec![0u8; MAX_DATAGRAM].into_boxed_slice();
    let mut stopping = *shutdown.borrow();
    loop {
        let received = tokio::select! {
            r = table.listener.recv_from(&mut buf) => r,
            _ = shutdown.changed(), if !stopping => {
                // Handed over to a new process that reads this very socket:
                // every datagram is its own from now on (a client of an
                // open session starts a new one there); the sessions here
                // still relay their replies until they end.
                if ctx.handed_over.load(Ordering::SeqCst) {
                    return;
                }
                stopping = true;
                continue;
            }
        };
        let (n, client) = match received {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!("udp receive failed: {e}");
                tokio::task::yield_now().await;
                continue;
            }
        };
        let existing = table.lock().get(&client).cloned();
        let (session, sent) = match existing {
            Some(s) => {
                let sent = s.socket.try_send(&buf[..n]);
                (s, sent)
            }
            None if stopping => continue,
            None => match open(&table, &ctx, &slot, client, &active).await {
                // A new socket's writability is not known before the event
                // loop has looked once (`try_send` would drop the datagram).
                Some(s) => {
                    let sent = s.socket.send(&buf[..n]).await;
                    (s, sent)
                }
                None => continue,
            },
        };
        table.touch(&session);
        match sent {
            Ok(n) => {
                session.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
                session.datagrams_in.fetch_add(1, Ordering::Relaxed);
            }
            // A full socket buffer drops the datagram, as the network would.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => {
                if e.kind() == io::ErrorKind::ConnectionRefused {
                    session.report(false);
                }
                tracing::debug!(%client, "udp session ends: {e}");
                table.remove(client, &session);
                session.closed.notify_one();
            }
        }
    }
}

/// The upstream and idle timeout of listener `ctx` in `snapshot`.
fn l4_upstream(snapshot: &Snapshot, ctx: &ListenerCtx) -> Option<(usize, Duration)> {
    let l4 = snapshot.config.listeners.get(ctx.index)?.l4.as_ref()?;
    Some((l4.upstream?, l4.idle_timeout))
}

/// Opens a session for `client` in the worker's current generation:
/// admission (`ip_filter`, `per_client` sessions), a `max_sessions`
/// permit, a target by the upstream's algorithm (skipping targets without
/// an address or whose socket cannot be set up), and a task that relays
/// its replies.
async fn open(
    table: &Arc<Table>,
    ctx: &ListenerCtx,
    slot: &WorkerSlot,
    client: SocketAddr,
    active: &Arc<AtomicUsize>,
) -> Option<Arc<Session>> {
    let snapshot = slot.load().snapshot.clone();
    // A refused client's datagrams are dropped (each one checked again).
    let admitted = admit(&snapshot, ctx.index, client.ip())?;
    let Ok(permit) = ctx.connections.clone().try_acquire_owned() else {
        tracing::debug!(%client, "max_sessions reached: datagram dropped");
        return None;
    };
    let (u, _) = l4_upstream(&snapshot, ctx)?;
    let upstream = snapshot.config.upstreams.get(u)?;
    let candidates = Candidates::of(&snapshot, u)?;
    let all = candidates.set();
    let mut excluded = None;
    loop {
        let set = excluded.as_ref().unwrap_or(all);
        let t = pick(&snapshot, u, set, client.ip())?;
        // The target's current DNS answer (kept fresh by the resolver
        // thread): this loop never waits for a lookup.
        let connected = match snapshot.addrs[u][t].pick() {
            Some(target) => connected_socket(target).await,
            None => Err(io::Error::other("resolves to no address")),
        };
        match connected {
            Ok(socket) => {
                let session = Arc::new(Session {
                    socket,
                    snapshot: snapshot.clone(),
                    upstream: u,
                    target: t,
                    last_seen: AtomicU64::new(0),
                    closed: Notify::new(),
                    bytes_in: AtomicU64::new(0),
                    datagrams_in: AtomicU64::new(0),
                });
                let edge = slot.load().metrics.carried().edge.clone();
                edge.udp_opened(ctx.index);
                table.lock().insert(client, session.clone());
                let listener = snapshot.config.listeners.get(ctx.index);
                let task = SessionTask {
                    table: table.clone(),
                    session: session.clone(),
                    client,
                    log: listener
                        .and_then(|l| Some((l.l4.as_ref()?.access_log, l)))
                        .filter(|(on, _)| *on)
                        .map(|(_, l)| SessionLog {
                            log: slot.load().log.clone(),
                            listener: l.name.clone(),
                            wall: std::time::SystemTime::now(),
                            start: Instant::now(),
                        }),
                    bytes_out: 0,
                    datagrams_out: 0,
                    edge,
                    listener: ctx.index,
                    _ticket: InFlightTicket::acquire(&snapshot, u, t),
                    _permit: permit,
                    _admitted: admitted,
                    _active: ActiveGuard::new(active.clone()),
                };
                tokio::spawn(task.run());
                return Some(session);
            }
            Err(e) => {
                let address = &upstream.targets[t].address;
                tracing::debug!(upstream = %upstream.name, "udp target {address}: {e}; trying another");
                report(&snapshot, u, t, false);
                excluded.get_or_insert_with(|| all.clone()).set(t, false);
            }
        }
    }
}

impl Session {
    /// Passive health: how the session's target answered.
    fn report(&self, ok: bool) {
        report(&self.snapshot, self.upstream, self.target, ok);
    }
}

/// A UDP socket connected to `target`.
async fn connected_socket(target: SocketAddr) -> io::Result<UdpSocket> {
    let any = match target.ip() {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let socket = UdpSocket::bind(SocketAddr::new(any, 0)).await?;
    socket.connect(target).await?;
    Ok(socket)
}

/// Where a session's access line goes, and what it needs from its start.
struct SessionLog {
    log: Arc<AccessLogBuffer>,
    listener: String,
    wall: std::time::SystemTime,
    start: Instant,
}

/// The task of one session: replies back to the client, idle expiry.
struct SessionTask {
    table: Arc<Table>,
    session: Arc<Session>,
    client: SocketAddr,
    /// `None` when the listener has `access_log: false`.
    log: Option<SessionLog>,
    /// Reply bytes sent to the client.
    bytes_out: u64,
    /// Replies sent to the client.
    datagrams_out: u64,
    /// The worker thread's counters (sessions, datagrams, bytes).
    edge: Arc<EdgeCounters>,
    /// The listener's index.
    listener: usize,
    // Held for the session's life: in flight on the target, one of
    // `max_sessions`, its client's place under `per_client`, active for
    // the drain.
    _ticket: InFlightTicket,
    _permit: OwnedSemaphorePermit,
    _admitted: Admitted,
    _active: ActiveGuard,
}

impl SessionTask {
    async fn run(mut self) {
        let end = self.relay().await;
        self.table.remove(self.client, &self.session);
        self.edge.udp_closed(
            self.listener,
            UdpSessionEnd {
                datagrams_in: self.session.datagrams_in.load(Ordering::Relaxed),
                datagrams_out: self.datagrams_out,
                bytes_in: self.session.bytes_in.load(Ordering::Relaxed),
                bytes_out: self.bytes_out,
            },
        );
        self.log_line(end);
    }

    /// Relays replies until the session ends; says how it ended.
    async fn relay(&mut self) -> &'static str {
        let (table, session) = (self.table.clone(), self.session.clone());
        let idle = tokio::time::sleep_until(Instant::now() + table.idle);
        tokio::pin!(idle);
        let mut answered = false;
        loop {
            tokio::select! {
                // ERROR too: an ICMP refusal is reported as a socket error,
                // which does not make the socket readable.
                r = session.socket.ready(Interest::READABLE | Interest::ERROR) => {
                    let Ok(ready) = r else { return "error" };
                    if ready.is_error() {
                        match session.socket.take_error() {
                            Ok(Some(e)) | Err(e) => {
                                self.failed(&e);
                                return "error";
                            }
                            // Spurious: clear the readiness so it can fire again.
                            Ok(None) => {
                                let _ = session.socket.try_io(Interest::ERROR, || {
                                    Err::<(), _>(io::ErrorKind::WouldBlock.into())
                                });
                            }
                        }
                    }
                    if !ready.is_readable() {
                        continue;
                    }
                    match self.forward_replies() {
                        Ok(0) => {}
                        Ok(_) => {
                            table.touch(&session);
                            if !answered {
                                answered = true;
                                session.report(true);
                            }
                        }
                        Err(e) => {
                            self.failed(&e);
                            return "error";
                        }
                    }
                }
                () = &mut idle => {
                    let last = Duration::from_millis(session.last_seen.load(Ordering::Relaxed));
                    let due = table.epoch + last + table.idle;
                    if due <= Instant::now() {
                        return "idle_timeout";
                    }
                    idle.as_mut().reset(due);
                }
                // The receive loop could not send to the target.
                () = session.closed.notified() => return "error",
            }
        }
    }

    /// The session's access line, when the listener wants one.
    fn log_line(&self, end: &str) {
        let Some(l) = &self.log else { return };
        let s = &self.session;
        let upstream = s.snapshot.config.upstreams.get(s.upstream);
        l.log.record_l4(&L4Record {
            start: l.wall,
            listener: &l.listener,
            client: self.client,
            upstream: upstream.map(|u| u.name.as_str()),
            target: upstream
                .and_then(|u| u.targets.get(s.target))
                .map(|t| t.address.as_str()),
            bytes_in: s.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out,
            duration: l.start.elapsed(),
            end,
        });
    }

    /// The session's socket failed: a refusal counts against the target.
    fn failed(&self, e: &io::Error) {
        if e.kind() == io::ErrorKind::ConnectionRefused {
            self.session.report(false);
        }
        tracing::debug!(client = %self.client, "udp session ends: {e}");
    }

    /// Sends the replies waiting on the session's socket to the client;
    /// how many there were.
    fn forward_replies(&mut self) -> io::Result<usize> {
        let mut buf = self.table.reply.lock().unwrap_or_else(|p| p.into_inner());
        for sent in 0..REPLY_BURST {
            match self.session.socket.try_recv(&mut buf) {
                Ok(n) => {
                    // Best effort, as UDP is: a full buffer drops the reply.
                    if let Ok(n) = self.table.listener.try_send_to(&buf[..n], self.client) {
                        self.bytes_out += n as u64;
                        self.datagrams_out += 1;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(sent),
                Err(e) => return Err(e),
            }
        }
        Ok(REPLY_BURST)
    }
}
