//! The listening sockets of a starting server: taken from those inherited
//! (an upgrade's hand-over, systemd) or bound afresh, dealt to the worker
//! threads, and a duplicate of each kept for the next upgrade's hand-over.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use tollgate_config::{Listener, ListenerProtocol};
use tollgate_net::{Inherited, SocketKind};

use super::worker::WorkerSocket;
use super::ListenerCtx;

/// A listening socket kept for a hand-over: kind, listener name, address.
pub(crate) type Kept = (SocketKind, String, SocketAddr, OwnedFd);

/// One worker's sockets, each with its listener's context.
pub(super) type Dealt = Vec<(WorkerSocket, Arc<ListenerCtx>)>;

/// The sockets of listener `l`: the inherited ones when there are, else
/// `workers` bound with SO_REUSEPORT; with the bound address.
pub(super) fn listener_sockets(
    l: &Listener,
    workers: usize,
    inherited: &mut Inherited,
) -> io::Result<(Vec<WorkerSocket>, SocketAddr)> {
    let named = |e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("listener {} on {}: {e}", l.name, l.address),
        )
    };
    let group: Vec<WorkerSocket> = match l.protocol {
        ListenerProtocol::Udp => {
            let mut g = inherited.take_udp(&l.name, l.address).map_err(named)?;
            if g.is_empty() {
                g = tollgate_net::bind_udp_group(l.address, workers).map_err(named)?;
            }
            g.into_iter().map(WorkerSocket::Datagram).collect()
        }
        _ => {
            let mut g = inherited.take_tcp(&l.name, l.address).map_err(named)?;
            if g.is_empty() {
                g = tollgate_net::bind_group(l.address, workers).map_err(named)?;
            }
            g.into_iter().map(WorkerSocket::Stream).collect()
        }
    };
    let local = group[0].local_addr().map_err(named)?;
    Ok((group, local))
}

/// Duplicates of every socket of `groups`, for a later hand-over.
pub(super) fn keep(
    groups: &[Vec<WorkerSocket>],
    addresses: &[(String, SocketAddr)],
) -> io::Result<Vec<Kept>> {
    let mut kept = Vec::new();
    for (group, (name, addr)) in groups.iter().zip(addresses) {
        for socket in group {
            let (kind, fd) = match socket {
                WorkerSocket::Stream(s) => (SocketKind::Tcp, s.as_fd().try_clone_to_owned()?),
                WorkerSocket::Datagram(s) => (SocketKind::Udp, s.as_fd().try_clone_to_owned()?),
            };
            kept.push((kind, name.clone(), *addr, fd));
        }
    }
    Ok(kept)
}

/// Deals each listener's sockets to `workers` workers: worker `w` takes
/// sockets `w`, `w + workers`, ...; a worker left without one (fewer
/// inherited sockets than workers) accepts on a duplicate of socket
/// `w % count`, sharing its queue.
pub(super) fn deal(
    groups: Vec<Vec<WorkerSocket>>,
    contexts: &[Arc<ListenerCtx>],
    workers: usize,
) -> io::Result<Vec<Dealt>> {
    let mut dealt: Vec<Dealt> = (0..workers).map(|_| Vec::new()).collect();
    for (group, ctx) in groups.into_iter().zip(contexts) {
        let count = group.len();
        for w in count..workers {
            dealt[w].push((group[w % count].try_clone()?, ctx.clone()));
        }
        for (i, socket) in group.into_iter().enumerate() {
            dealt[i % workers].push((socket, ctx.clone()));
        }
    }
    Ok(dealt)
}
