//! Accept-time checks of a listener: its IP filter and its per-client
//! connection cap, for HTTP and L4 listeners alike. A refused connection is
//! closed before anything is read from it (behind a trusted PROXY sender,
//! right after its header). Listeners with neither setting pay two
//! `Option` checks.

use std::net::IpAddr;

use tollgate_edge::client_limits::ConnectionSlot;

use super::ListenerCtx;
use crate::snapshot::Snapshot;

/// What an admitted connection (or UDP session) holds until it closes.
#[derive(Debug)]
pub(crate) struct Admitted {
    /// Its place under the per-client connection cap, if the listener has one.
    _slot: Option<ConnectionSlot>,
}

/// A connection's admission as far as its peer address decides it.
#[derive(Debug)]
pub(crate) enum AtAccept {
    /// Admitted by its peer address.
    Admitted(Admitted),
    /// The peer is a trusted PROXY sender: the client its header names
    /// is checked once the header is read.
    AfterProxyHeader,
}

impl AtAccept {
    /// Checks a connection from `peer` on listener `ctx`; `None` refuses it.
    pub(crate) fn check(snapshot: &Snapshot, ctx: &ListenerCtx, peer: IpAddr) -> Option<Self> {
        if ctx.expects_proxy_header(peer) {
            return Some(Self::AfterProxyHeader);
        }
        admit(snapshot, ctx.index, peer).map(Self::Admitted)
    }

    /// The admission once the connection's client is known (the PROXY
    /// header's source, or the peer); `None` refuses it.
    pub(crate) fn complete(
        self,
        snapshot: &Snapshot,
        ctx: &ListenerCtx,
        client: IpAddr,
    ) -> Option<Admitted> {
        match self {
            Self::Admitted(a) => Some(a),
            Self::AfterProxyHeader => admit(snapshot, ctx.index, client),
        }
    }
}

/// Admits a connection from `ip` on listener `index`; `None` refuses it.
pub(crate) fn admit(snapshot: &Snapshot, index: usize, ip: IpAddr) -> Option<Admitted> {
    let listener = snapshot.config.listeners.get(index)?;
    if let Some(filter) = &listener.ip_filter {
        if !tollgate_edge::ip_allowed(filter, ip) {
            tracing::debug!(client = %ip, listener = %listener.name, "connection refused by ip_filter");
            return None;
        }
    }
    let slot = match snapshot.client_limits.get(index) {
        Some(Some(limiter)) => {
            let Some(slot) = limiter.connect(ip) else {
                tracing::debug!(client = %ip, listener = %listener.name, "connection refused: per_client.max_connections");
                return None;
            };
            Some(slot)
        }
        _ => None,
    };
    Some(Admitted { _slot: slot })
}
