//! Binding one listening socket per worker on the same address.

use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};

use socket2::{Domain, Protocol, Socket, Type};

/// Backlog of each listening socket; the kernel caps it at somaxconn.
const BACKLOG: i32 = 4096;

/// Binds `count` sockets on `addr` with SO_REUSEPORT so each worker accepts on
/// its own and the kernel spreads connections. With port 0 the first socket
/// picks the port and the others join it.
pub fn bind_group(addr: SocketAddr, count: usize) -> io::Result<Vec<TcpListener>> {
    let first = bind_one(addr)?;
    let actual = first.local_addr()?;
    let mut all = Vec::with_capacity(count.max(1));
    all.push(first);
    for _ in 1..count {
        all.push(bind_one(actual)?);
    }
    Ok(all)
}

fn bind_one(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    #[cfg(unix)]
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    // Accepted sockets inherit TCP_NODELAY on Linux: one setsockopt here
    // instead of one per connection.
    socket.set_tcp_nodelay(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Binds `count` UDP sockets on `addr` with SO_REUSEPORT, one per worker:
/// the kernel hashes each client's address and port to one of them, so a
/// client's datagrams keep reaching the same worker.
pub fn bind_udp_group(addr: SocketAddr, count: usize) -> io::Result<Vec<UdpSocket>> {
    let first = bind_udp(addr)?;
    let actual = first.local_addr()?;
    let mut all = Vec::with_capacity(count.max(1));
    all.push(first);
    for _ in 1..count {
        all.push(bind_udp(actual)?);
    }
    Ok(all)
}

fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    #[cfg(unix)]
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
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
    fn group_shares_one_port() {
        let group = bind_group("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        let port = group[0].local_addr().unwrap().port();
        assert_ne!(port, 0);
        assert!(group.iter().all(|l| l.local_addr().unwrap().port() == port));
    }
}
