//! `tcp` and `tls_passthrough` listeners: accept, learn the client (PROXY
//! header), choose the upstream (SNI), connect with failover, send what
//! the target must see first, relay.

use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tollgate_config::{ListenerProtocol, ProxyProtocolVersion};
use tollgate_net::{ProxyAddresses, ProxyVersion, RelayConfig, RelayEnd};
use tollgate_ops::L4Record;

use super::connect::connect;
use super::proxy_header::accept_proxy_header;
use super::sni::SniTable;
use crate::server::WorkerSlot;
use crate::server::{next_connection, ActiveGuard, AtAccept, ListenerCtx};
use crate::snapshot::Snapshot;

/// What every connection of one listener shares (built once per worker).
#[derive(Debug)]
struct Plan {
    protocol: ListenerProtocol,
    /// Listener name, for the access line and events.
    listener: String,
    /// One access line per connection.
    access_log: bool,
    /// `tcp`: the upstream; `tls_passthrough`: by server name.
    sni: SniTable,
    relay: RelayConfig,
}

impl Plan {
    /// The plan of listener `ctx` in `snapshot`.
    fn of(snapshot: &Snapshot, ctx: &ListenerCtx) -> Option<Arc<Self>> {
        let listener = snapshot.config.listeners.get(ctx.index)?;
        let l4 = listener.l4.as_ref()?;
        Some(Arc::new(Plan {
            protocol: ctx.protocol,
            listener: listener.name.clone(),
            access_log: l4.access_log,
            sni: SniTable::new(l4),
            // Plain TCP on both sides: closing the sockets sends the last FIN.
            relay: RelayConfig {
                close_sends_last_fin: true,
                ..RelayConfig::new(l4.idle_timeout)
            },
        }))
    }
}

/// Accepts connections on an L4 stream listener until shutdown; each is
/// served by its own task, counted active until its relay ends.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    ctx: Arc<ListenerCtx>,
    slot: Arc<WorkerSlot>,
    mut shutdown: watch::Receiver<bool>,
    active: Arc<AtomicUsize>,
) {
    let mut snapshot = slot.load().snapshot.clone();
    let Some(mut plan) = Plan::of(&snapshot, &ctx) else {
        tracing::error!("L4 listener without L4 settings");
        return;
    };
    while let Some((stream, peer, permit)) = next_connection(&listener, &ctx, &mut shutdown).await {
        // A reload may have replaced the snapshot: the plan follows it.
        let current = slot.load().snapshot.clone();
        if !Arc::ptr_eq(&current, &snapshot) {
            if let Some(p) = Plan::of(&current, &ctx) {
                plan = p;
                snapshot = current;
            }
        }
        // `ip_filter` and `per_client` as on HTTP listeners: refused
        // clients are closed unread.
        let Some(admission) = AtAccept::check(&snapshot, &ctx, peer.ip()) else {
            continue;
        };
        #[cfg(not(target_os = "linux"))]
        tollgate_net::set_nodelay(&stream);
        let guard = ActiveGuard::new(active.clone());
        let (ctx, plan, snapshot, slot) =
            (ctx.clone(), plan.clone(), snapshot.clone(), slot.clone());
        let (wall, start) = (SystemTime::now(), Instant::now());
        // One `header_read_timeout` from accept bounds the PROXY header and
        // the ClientHello together.
        let sniff_by = tokio::time::Instant::now() + ctx.limits.header_read_timeout;
        tokio::spawn(async move {
            let ended = serve(stream, peer, sniff_by, admission, &ctx, &plan, &snapshot).await;
            slot.load()
                .metrics
                .carried()
                .edge
                .l4_ended(ctx.index, ended.bytes_in, ended.bytes_out);
            if plan.access_log {
                ended.log(&slot, &plan, &snapshot, wall, start);
            }
            drop(permit);
            drop(guard);
        });
    }
}

/// How one connection went, for its access line.
#[derive(Debug)]
struct Ended {
    /// The client (the one a PROXY header names, when trusted).
    client: SocketAddr,
    upstream: Option<usize>,
    target: Option<usize>,
    bytes_in: u64,
    bytes_out: u64,
    end: &'static str,
}

impl Ended {
    fn early(client: SocketAddr, end: &'static str) -> Self {
        Self {
            client,
            upstream: None,
            target: None,
            bytes_in: 0,
            bytes_out: 0,
            end,
        }
    }

    /// Writes the access line of the connection accepted at `wall`.
    fn log(
        &self,
        slot: &WorkerSlot,
        plan: &Plan,
        snapshot: &Snapshot,
        wall: SystemTime,
        start: Instant,
    ) {
        let worker = slot.load();
        let upstream = self.upstream.and_then(|u| snapshot.config.upstreams.get(u));
        let target = upstream.and_then(|u| u.targets.get(self.target?));
        worker.log.record_l4(&L4Record {
            start: wall,
            listener: &plan.listener,
            client: self.client,
            upstream: upstream.map(|u| u.name.as_str()),
            target: target.map(|t| t.address.as_str()),
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            duration: start.elapsed(),
            end: self.end,
        });
    }
}

/// Serves one client connection until its relay ends; says how it went.
async fn serve(
    mut client: TcpStream,
    peer: SocketAddr,
    sniff_by: tokio::time::Instant,
    admission: AtAccept,
    ctx: &ListenerCtx,
    plan: &Plan,
    snapshot: &Arc<Snapshot>,
) -> Ended {
    let Ok(original) = accept_proxy_header(&mut client, peer, ctx, sniff_by).await else {
        return Ended::early(peer, "proxy_header_error");
    };
    let source = original.map_or(peer, |a| a.source);
    // Held until the relay ends.
    let Some(_admitted) = admission.complete(snapshot, ctx, source.ip()) else {
        return Ended::early(source, "refused");
    };
    // Bytes read from the client before the relay starts (the ClientHello),
    // written to the target first.
    let mut sniffed = Vec::new();
    let upstream = match choose_upstream(&mut client, source, sniff_by, plan, &mut sniffed).await {
        Ok(u) => u,
        Err(end) => return Ended::early(source, end),
    };
    let mut ended = Ended {
        upstream: Some(upstream),
        ..Ended::early(source, "no_target")
    };
    let mut target = match connect(snapshot, upstream, source.ip()).await {
        Ok(t) => t,
        Err(e) => {
            let name = snapshot
                .config
                .upstreams
                .get(upstream)
                .map_or("", |u| u.name.as_str());
            // One line per connection would flood the log while an upstream
            // is down; health events and the access line (`end: no_target`)
            // already say it.
            tracing::debug!(
                listener = %plan.listener,
                client = %source,
                upstream = name,
                reason = e.to_string().as_str(),
                "no target reachable, connection closed"
            );
            return ended;
        }
    };
    ended.target = Some(target.target);
    ended.end = "error";
    let first = match first_bytes(snapshot, upstream, original, &client, peer, sniffed) {
        Ok(b) => b,
        Err(e) => {
            tracing::debug!(client = %source, "closing: {e}");
            return ended;
        }
    };
    if !first.is_empty() && target.stream.write_all(&first).await.is_err() {
        return ended;
    }
    drop(first);
    let outcome = tollgate_net::relay(&mut client, &mut target.stream, &plan.relay).await;
    ended.bytes_in = outcome.a_to_b;
    ended.bytes_out = outcome.b_to_a;
    ended.end = match &outcome.end {
        RelayEnd::Closed => "closed",
        RelayEnd::IdleTimeout => "idle_timeout",
        RelayEnd::Error(_) => "error",
    };
    tracing::debug!(
        client = %source,
        target = target.target,
        sent = outcome.a_to_b,
        received = outcome.b_to_a,
        end = ended.end,
        "relay ended"
    );
    ended
}

/// The upstream for this connection: the listener's, or (`tls_passthrough`)
/// the one its ClientHello's server name routes to, the hello kept in
/// `sniffed`. Errors say how the connection ended.
async fn choose_upstream(
    client: &mut TcpStream,
    source: SocketAddr,
    sniff_by: tokio::time::Instant,
    plan: &Plan,
    sniffed: &mut Vec<u8>,
) -> Result<usize, &'static str> {
    if plan.protocol != ListenerProtocol::TlsPassthrough {
        return plan.sni.route(None).ok_or("no_target");
    }
    let read = tollgate_net::read_server_name(client, sniffed);
    let name = match tokio::time::timeout_at(sniff_by, read).await {
        Ok(Ok(name)) => name,
        Ok(Err(e)) => {
            tracing::debug!(client = %source, "closing: {e}");
            return Err("no_client_hello");
        }
        Err(_) => {
            tracing::debug!(client = %source, "closing: no TLS ClientHello within header_read_timeout");
            return Err("no_client_hello");
        }
    };
    plan.sni.route(name.as_deref()).ok_or_else(|| {
        tracing::debug!(client = %source, server_name = ?name, "closing: no sni route and no default upstream");
        "no_sni_route"
    })
}

/// What the target gets before the relay: the PROXY header when its
/// upstream asks for one (the original endpoints, or this connection's),
/// then the bytes read while sniffing.
fn first_bytes(
    snapshot: &Snapshot,
    upstream: usize,
    original: Option<ProxyAddresses>,
    client: &TcpStream,
    peer: SocketAddr,
    sniffed: Vec<u8>,
) -> std::io::Result<Vec<u8>> {
    let version = match snapshot
        .config
        .upstreams
        .get(upstream)
        .and_then(|u| u.proxy_protocol)
    {
        None => return Ok(sniffed),
        Some(ProxyProtocolVersion::V1) => ProxyVersion::V1,
        Some(ProxyProtocolVersion::V2) => ProxyVersion::V2,
    };
    let addresses = match original {
        Some(a) => a,
        None => ProxyAddresses {
            source: peer,
            destination: client.local_addr()?,
        },
    };
    let mut out = Vec::with_capacity(64 + sniffed.len());
    tollgate_net::proxy_protocol::encode(version, Some(&addresses), &mut out);
    out.extend_from_slice(&sniffed);
    Ok(out)
}
