//! Picking a target of an upstream for an L4 client and connecting to it,
//! with failover: a target that refuses or times out the connect is
//! reported to passive health and skipped for another (each at most once).

use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use tokio::net::TcpStream;
use tollgate_balance::{Available, PickContext};
use tollgate_config::{Balance, HashOn};

use crate::snapshot::{InFlightTicket, Snapshot};

/// A connected target, counted in flight until the ticket drops.
pub(super) struct Connected {
    pub(super) stream: TcpStream,
    pub(super) target: usize,
    pub(super) _ticket: InFlightTicket,
}

/// The targets of upstream `u` that may be picked now: the health state's
/// current set, or every target without a `health` section.
pub(super) enum Candidates<'s> {
    All(&'s Available),
    Current(Arc<Available>),
}

impl Candidates<'_> {
    /// `None` when no target may be picked (all down, `when_all_down: fail`).
    pub(super) fn of(snapshot: &Snapshot, u: usize) -> Option<Candidates<'_>> {
        let set = match snapshot.health.get(u)? {
            None => Candidates::All(snapshot.available.get(u)?),
            Some(h) => h.current().map(Candidates::Current)?,
        };
        // Targets drained through the admin API take no new connection.
        match snapshot.drained.get(u)?.exclude(set.set()) {
            Some(undrained) => Some(Candidates::Current(Arc::new(undrained))),
            None => Some(set),
        }
    }

    pub(super) fn set(&self) -> &Available {
        match self {
            Candidates::All(a) => a,
            Candidates::Current(a) => a,
        }
    }
}

/// A target among `available` by the upstream's algorithm; the hashing
/// algorithms hash the client's address (the only key a byte stream has).
pub(super) fn pick(
    snapshot: &Snapshot,
    u: usize,
    available: &Available,
    client: IpAddr,
) -> Option<usize> {
    let mut key = [0u8; 16];
    let mut ctx = PickContext::new(available);
    match &snapshot.config.upstreams.get(u)?.balance {
        Balance::IpHash => ctx = ctx.with_client_ip(client),
        // Validation allows no other key for upstreams of L4 listeners; the
        // bytes are the ones HTTP hashes, so both pick alike.
        Balance::ConsistentHash(HashOn::ClientIp) => {
            let len = match client.to_canonical() {
                IpAddr::V4(v4) => {
                    key[..4].copy_from_slice(&v4.octets());
                    4
                }
                IpAddr::V6(v6) => {
                    key = v6.octets();
                    16
                }
            };
            ctx = ctx.with_hash_key(&key[..len]);
        }
        _ => {}
    }
    snapshot.balancers.get(u)?.pick(&ctx)
}

/// Passive health: how a connect to target `t` of upstream `u` went.
pub(super) fn report(snapshot: &Snapshot, u: usize, t: usize, ok: bool) {
    if let Some(Some(h)) = snapshot.health.get(u) {
        if ok {
            h.record_success(t);
        } else {
            h.record_failure(t);
        }
    }
}

/// Connects to a target of upstream `u` for a client at `client`.
pub(super) async fn connect(
    snapshot: &Arc<Snapshot>,
    u: usize,
    client: IpAddr,
) -> io::Result<Connected> {
    let unavailable = || io::Error::other("no available target");
    let upstream = snapshot.config.upstreams.get(u).ok_or_else(unavailable)?;
    let candidates = Candidates::of(snapshot, u).ok_or_else(unavailable)?;
    let all = candidates.set();
    let mut excluded: Option<Available> = None;
    let mut last_error = None;
    loop {
        let set = excluded.as_ref().unwrap_or(all);
        let Some(t) = pick(snapshot, u, set, client) else {
            return Err(last_error.unwrap_or_else(unavailable));
        };
        // Counted from the pick, so simultaneous connects spread out.
        let ticket = InFlightTicket::acquire(snapshot, u, t);
        let address = upstream.targets[t].address.as_str();
        // The target's current DNS answer (kept fresh by the resolver thread).
        let resolved = snapshot.addrs[u][t].pick();
        let attempt = tokio::time::timeout(upstream.connect_timeout, async move {
            match resolved {
                Some(a) => TcpStream::connect(a).await,
                None => Err(io::Error::other("resolves to no address")),
            }
        });
        let started = std::time::Instant::now();
        let error = match attempt.await {
            Ok(Ok(stream)) => {
                report(snapshot, u, t, true);
                // A byte stream has no response time: least_request weighs
                // targets by how fast they accept connections.
                if let Some(b) = snapshot.balancers.get(u) {
                    b.record_latency(t, started.elapsed());
                }
                tollgate_net::set_nodelay(&stream);
                return Ok(Connected {
                    stream,
                    target: t,
                    _ticket: ticket,
                });
            }
            Ok(Err(e)) => io::Error::new(e.kind(), format!("connect to {address} failed: {e}")),
            Err(_) => io::Error::new(
                io::ErrorKind::TimedOut,
                format!("connect to {address} timed out"),
            ),
        };
        tracing::debug!(upstream = %upstream.name, "{error}; trying another target");
        report(snapshot, u, t, false);
        excluded.get_or_insert_with(|| all.clone()).set(t, false);
        last_error = Some(error);
    }
}
