//! Binding one listening socket per worker on the same address.
//!
//! The workers' sockets share their port through SO_REUSEPORT, which would
//! also let any other process of the same user (another tollgate, a stale
//! instance) join the group silently and take part of the traffic. So each
//! group starts with a probe: the address is bound once *without*
//! SO_REUSEPORT, which fails with "address already in use" when anything
//! listens there, and released before the group binds it.

use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};

use socket2::{Domain, Protocol, Socket, Type};

/// Backlog of each listening socket; the kernel caps it at somaxconn.
const BACKLOG: i32 = 4096;

/// Binds `count` sockets on `addr` with SO_REUSEPORT so each worker accepts on
/// its own and the kernel spreads connections. With port 0 the probe picks
/// the port and the group binds it. Fails with `AddrInUse` when any other
/// socket listens on `addr`, even one with SO_REUSEPORT.
pub fn bind_group(addr: SocketAddr, count: usize) -> io::Result<Vec<TcpListener>> {
    let addr = probe(addr, Type::STREAM, Protocol::TCP)?;
    let group = group(addr, count, |addr| {
        let socket = reuse_port_socket(addr, Type::STREAM, Protocol::TCP)?;
        // Accepted sockets inherit TCP_NODELAY on Linux: one setsockopt here
        // instead of one per connection.
        socket.set_tcp_nodelay(true)?;
        socket.bind(&addr.into())?;
        socket.listen(BACKLOG)?;
        Ok(socket)
    })?;
    Ok(group.into_iter().map(TcpListener::from).collect())
}

/// Binds `count` UDP sockets on `addr` with SO_REUSEPORT, one per worker:
/// the kernel hashes each client's address and port to one of them, so a
/// client's datagrams keep reaching the same worker. Fails with `AddrInUse`
/// when any other socket is bound to `addr`.
pub fn bind_udp_group(addr: SocketAddr, count: usize) -> io::Result<Vec<UdpSocket>> {
    let addr = probe(addr, Type::DGRAM, Protocol::UDP)?;
    let group = group(addr, count, |addr| {
        let socket = reuse_port_socket(addr, Type::DGRAM, Protocol::UDP)?;
        socket.bind(&addr.into())?;
        Ok(socket)
    })?;
    Ok(group.into_iter().map(UdpSocket::from).collect())
}

/// Binds `addr` alone for a moment (no SO_REUSEPORT) to learn that nobody
/// else holds it, and returns the address bound (the port picked for port
/// 0). TCP keeps SO_REUSEADDR, which only lets connections of an earlier
/// run in TIME_WAIT be ignored, never a listening socket; UDP must not set
/// it, since two UDP sockets with it share a port.
fn probe(addr: SocketAddr, ty: Type, protocol: Protocol) -> io::Result<SocketAddr> {
    let socket = Socket::new(Domain::for_address(addr), ty, Some(protocol))?;
    if ty == Type::STREAM {
        socket.set_reuse_address(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into()).map_err(|e| {
        if e.kind() == io::ErrorKind::AddrInUse {
            io::Error::new(
                io::ErrorKind::AddrInUse,
                "address already in use: another process (or another tollgate) listens there",
            )
        } else {
            e
        }
    })?;
    socket
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("bound socket has no IP address"))
}

/// `count` sockets made by `bind`, the first on `addr` and the others on
/// the address it got (the port it picked when `addr` has port 0).
fn group(
    addr: SocketAddr,
    count: usize,
    bind: impl Fn(SocketAddr) -> io::Result<Socket>,
) -> io::Result<Vec<Socket>> {
    let first = bind(addr)?;
    let actual = first
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("bound socket has no IP address"))?;
    let mut all = Vec::with_capacity(count.max(1));
    all.push(first);
    for _ in 1..count {
        all.push(bind(actual)?);
    }
    Ok(all)
}

/// A non-blocking socket for `addr`'s family with SO_REUSEADDR and
/// SO_REUSEPORT, IPv6 sockets IPv6 only; not bound yet.
fn reuse_port_socket(addr: SocketAddr, ty: Type, protocol: Protocol) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), ty, Some(protocol))?;
    socket.set_reuse_address(true)?;
    #[cfg(unix)]
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Disables Nagle's algorithm; a proxy writes whole messages and must not wait.
pub fn set_nodelay(stream: &tokio::net::TcpStream) {
    // Best effort: a socket that refuses it still works, only slower.
    let _ = stream.set_nodelay(true);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_sockets_inherit_nodelay() {
        let group = bind_group("127.0.0.1:0".parse().unwrap(), 1).unwrap();
        let listener = &group[0];
        let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        listener.set_nonblocking(false).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        assert!(accepted.nodelay().unwrap());
    }

    #[test]
    fn udp_group_shares_one_port() {
        let group = bind_udp_group("127.0.0.1:0".parse().unwrap(), 2).unwrap();
        let port = group[0].local_addr().unwrap().port();
        assert_ne!(port, 0);
        assert_eq!(group[1].local_addr().unwrap().port(), port);
    }

    #[test]
    fn a_port_held_by_another_group_is_refused() {
        let held = bind_group("127.0.0.1:0".parse().unwrap(), 2).unwrap();
        let addr = held[0].local_addr().unwrap();
        let err = bind_group(addr, 2).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        assert!(err.to_string().contains("address already in use"), "{err}");
        let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let err = bind_group(plain.local_addr().unwrap(), 1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }

    #[test]
    fn a_udp_port_held_by_another_group_is_refused() {
        let held = bind_udp_group("127.0.0.1:0".parse().unwrap(), 2).unwrap();
        let addr = held[0].local_addr().unwrap();
        let err = bind_udp_group(addr, 2).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }

    #[test]
    fn group_shares_one_port() {
        let group = bind_group("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        let port = group[0].local_addr().unwrap().port();
        assert_ne!(port, 0);
        assert!(group.iter().all(|l| l.local_addr().unwrap().port() == port));
    }
}
