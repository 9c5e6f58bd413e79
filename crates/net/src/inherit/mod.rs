//! Listening sockets a process did not bind itself: handed over by the
//! tollgate it replaces (zero-downtime upgrade, `handover`), or passed by
//! systemd's socket activation (`LISTEN_FDS`). The server takes each
//! listener's sockets from here before binding, so connections waiting in
//! the kernel's backlog are accepted by the new process instead of reset.

pub mod handover;

use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::fd::OwnedFd;

/// What a handed-over socket serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    /// A TCP listener (HTTP, HTTPS, L4 TCP or TLS passthrough).
    Tcp,
    /// A UDP listener's socket.
    Udp,
    /// The admin API's listener.
    Admin,
}

impl SocketKind {
    fn word(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Admin => "admin",
        }
    }

    fn from_word(word: &str) -> Option<Self> {
        match word {
            "tcp" => Some(Self::Tcp),
            "udp" => Some(Self::Udp),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// One received socket: what it is for and its descriptor.
#[derive(Debug)]
pub struct HandedSocket {
    /// What it serves.
    pub kind: SocketKind,
    /// The listener's name; empty when unknown (systemd).
    pub name: String,
    /// The address it is bound to.
    pub address: SocketAddr,
    /// The socket.
    pub fd: OwnedFd,
}

/// Where inherited sockets came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Nothing was inherited.
    None,
    /// The tollgate process this one replaces.
    Upgrade,
    /// systemd socket activation.
    Systemd,
}

/// The sockets not yet taken by a listener.
#[derive(Debug)]
pub struct Inherited {
    sockets: Vec<HandedSocket>,
    origin: Origin,
}

impl Inherited {
    /// No inherited socket: every listener binds its own.
    pub fn none() -> Self {
        Self {
            sockets: Vec::new(),
            origin: Origin::None,
        }
    }

    /// The sockets received from the process being replaced.
    pub fn from_upgrade(sockets: Vec<HandedSocket>) -> Self {
        Self {
            sockets,
            origin: Origin::Upgrade,
        }
    }

    /// The sockets systemd passed (`LISTEN_FDS` for this `LISTEN_PID`),
    /// TCP or UDP, matched to listeners by address; none when the
    /// variables are absent or name another process.
    pub fn from_systemd() -> io::Result<Self> {
        let mut fds = listenfd::ListenFd::from_env();
        let mut sockets = Vec::new();
        for i in 0..fds.len() {
            let fd_number = i + 3;
            let socket = match fds.take_tcp_listener(i) {
                Ok(Some(l)) => (SocketKind::Tcp, l.local_addr()?, OwnedFd::from(l)),
                Ok(None) => continue,
                Err(_) => match fds.take_udp_socket(i) {
                    Ok(Some(s)) => (SocketKind::Udp, s.local_addr()?, OwnedFd::from(s)),
                    _ => {
                        return Err(io::Error::other(format!(
                            "systemd passed fd {fd_number}, which is neither a TCP listener nor a UDP socket"
                        )))
                    }
                },
            };
            sockets.push(HandedSocket {
                kind: socket.0,
                name: String::new(),
                address: socket.1,
                fd: socket.2,
            });
        }
        let origin = if sockets.is_empty() {
            Origin::None
        } else {
            Origin::Systemd
        };
        Ok(Self { sockets, origin })
    }

    /// Where the sockets came from.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// The TCP listening sockets for listener `name` on `address` (port 0:
    /// any port on that IP), non-blocking; empty when none was inherited.
    pub fn take_tcp(&mut self, name: &str, address: SocketAddr) -> io::Result<Vec<TcpListener>> {
        self.take(SocketKind::Tcp, name, address)
            .into_iter()
            .map(|fd| {
                let l = TcpListener::from(fd);
                l.set_nonblocking(true)?;
                Ok(l)
            })
            .collect()
    }

    /// The UDP sockets for listener `name` on `address`, non-blocking.
    pub fn take_udp(&mut self, name: &str, address: SocketAddr) -> io::Result<Vec<UdpSocket>> {
        self.take(SocketKind::Udp, name, address)
            .into_iter()
            .map(|fd| {
                let s = UdpSocket::from(fd);
                s.set_nonblocking(true)?;
                Ok(s)
            })
            .collect()
    }

    /// The admin API's listening socket on `address`, non-blocking.
    pub fn take_admin(&mut self, address: SocketAddr) -> io::Result<Option<TcpListener>> {
        let mut fds = self.take(SocketKind::Admin, "", address);
        if fds.is_empty() && self.origin == Origin::Systemd {
            fds = self.take(SocketKind::Tcp, "", address);
        }
        let Some(fd) = fds.pop() else { return Ok(None) };
        let l = TcpListener::from(fd);
        l.set_nonblocking(true)?;
        Ok(Some(l))
    }

    /// The sockets no listener took, as `KIND ADDRESS` for messages.
    pub fn leftover(&self) -> Vec<String> {
        self.sockets
            .iter()
            .map(|s| format!("{} {}", s.kind.word(), s.address))
            .collect()
    }

    /// Removes and returns the matching sockets: same kind, same listener
    /// name (sockets without a name match any), and the configured address
    /// (its port 0 matches any port on the same IP).
    fn take(&mut self, kind: SocketKind, name: &str, address: SocketAddr) -> Vec<OwnedFd> {
        let fits = |s: &HandedSocket| {
            s.kind == kind
                && (s.name.is_empty() || kind == SocketKind::Admin || s.name == name)
                && (s.address == address || (address.port() == 0 && s.address.ip() == address.ip()))
        };
        let (taken, kept) = std::mem::take(&mut self.sockets)
            .into_iter()
            .partition(|s| fits(s));
        self.sockets = kept;
        taken.into_iter().map(|s: HandedSocket| s.fd).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn sockets_cross_a_unix_socket_with_their_names() {
        let a = TcpListener::bind("127.0.0.1:0").unwrap();
        let b = TcpListener::bind("127.0.0.1:0").unwrap();
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (addr_a, addr_b, addr_u) = (
            a.local_addr().unwrap(),
            b.local_addr().unwrap(),
            u.local_addr().unwrap(),
        );
        // Many of one kind, to cross more than one batch.
        let many: Vec<TcpListener> = (0..40).map(|_| a.try_clone().unwrap()).collect();
        let (left, right) = UnixStream::pair().unwrap();
        let mut out: Vec<handover::Outgoing<'_>> = vec![
            (SocketKind::Admin, "", addr_b, b.as_fd()),
            (SocketKind::Udp, "dns", addr_u, u.as_fd()),
        ];
        out.extend(
            many.iter()
                .map(|l| (SocketKind::Tcp, "web", addr_a, l.as_fd())),
        );
        let sender = std::thread::scope(|s| {
            let t = s.spawn(|| handover::send(&left, &out));
            let got = handover::receive(&right).unwrap();
            t.join().unwrap().unwrap();
            got
        });
        let mut inherited = Inherited::from_upgrade(sender);
        let web = inherited
            .take_tcp("web", "127.0.0.1:0".parse().unwrap())
            .unwrap();
        assert_eq!(web.len(), 40);
        // The received socket is the very listener: a connection to it is
        // accepted through the received descriptor.
        let _client = std::net::TcpStream::connect(addr_a).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let accepted = loop {
            match web[0].accept() {
                Ok(c) => break c,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    assert!(std::time::Instant::now() < deadline, "nothing accepted");
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(accepted.0.local_addr().unwrap(), addr_a);
        assert!(inherited.take_tcp("other", addr_a).unwrap().is_empty());
        assert_eq!(inherited.take_udp("dns", addr_u).unwrap().len(), 1);
        assert!(inherited.take_admin(addr_b).unwrap().is_some());
        assert!(inherited.leftover().is_empty());
    }

    #[test]
    fn a_listener_on_another_address_takes_nothing() {
        let a = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = a.local_addr().unwrap();
        let mut inherited = Inherited::from_upgrade(vec![HandedSocket {
            kind: SocketKind::Tcp,
            name: "web".into(),
            address: addr,
            fd: OwnedFd::from(a),
        }]);
        let elsewhere: SocketAddr = "127.0.0.2:1".parse().unwrap();
        assert!(inherited.take_tcp("web", elsewhere).unwrap().is_empty());
        assert_eq!(inherited.leftover(), vec![format!("tcp {addr}")]);
    }
}
