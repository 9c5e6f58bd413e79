//! Accept-time checks of a listener: its IP filter and its per-client
//! connection cap. A refused connection is closed before anything is read
//! from it. Listeners with neither setting pay two `Option` checks.

use std::net::IpAddr;

use tollgate_edge::client_limits::ConnectionSlot;

use crate::snapshot::Snapshot;

/// What an admitted connection holds until it closes.
#[derive(Debug)]
pub(crate) struct Admitted {
    /// Its place under the per-client connection cap, if the listener has one.
    _slot: Option<ConnectionSlot>,
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
