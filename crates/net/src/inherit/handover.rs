//! The wire format of a socket hand-over between two tollgate processes,
//! over a connected Unix stream socket:
//!
//! 1. a manifest: a 4-byte big-endian length, then one line per socket,
//!    `KIND NAME ADDRESS` (`tcp web 127.0.0.1:8080`, `udp dns [::1]:53`,
//!    `admin - 127.0.0.1:9901`);
//! 2. the descriptors in the manifest's order, in batches of at most
//!    [`BATCH`], each batch attached (SCM_RIGHTS) to one byte, so that a
//!    one-byte `recvmsg` takes exactly one batch: a stream socket never
//!    merges bytes that carry descriptors of their own.
//!
//! Received descriptors are close-on-exec. No unsafe code: rustix wraps
//! `sendmsg`/`recvmsg` and the control buffers.

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use rustix::net::{
    recvmsg, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

use super::{HandedSocket, SocketKind};

/// Descriptors sent per message; far below the kernel's limit (253).
const BATCH: usize = 32;

/// The largest manifest accepted: a hand-over of thousands of sockets.
const MAX_MANIFEST: usize = 1 << 20;

/// One socket to send: its kind, listener name, bound address and descriptor.
pub type Outgoing<'a> = (SocketKind, &'a str, SocketAddr, BorrowedFd<'a>);

/// Sends `sockets` over `stream` (blocking).
pub fn send(mut stream: &UnixStream, sockets: &[Outgoing<'_>]) -> io::Result<()> {
    let manifest: String = sockets
        .iter()
        .map(|(kind, name, addr, _)| {
            let name = if name.is_empty() { "-" } else { name };
            format!("{} {name} {addr}\n", kind.word())
        })
        .collect();
    let len = u32::try_from(manifest.len()).map_err(|_| io::Error::other("manifest too long"))?;
    stream.write_all(&len.to_be_bytes())?;
    stream.write_all(manifest.as_bytes())?;
    let fds: Vec<BorrowedFd<'_>> = sockets.iter().map(|s| s.3).collect();
    for batch in fds.chunks(BATCH) {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(BATCH))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        if !control.push(SendAncillaryMessage::ScmRights(batch)) {
            return Err(io::Error::other("control buffer too small"));
        }
        let sent = sendmsg(
            stream,
            &[IoSlice::new(&[1])],
            &mut control,
            SendFlags::empty(),
        )?;
        if sent != 1 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "hand-over cut short",
            ));
        }
    }
    Ok(())
}

/// Receives the sockets [`send`] sent over `stream` (blocking).
pub fn receive(mut stream: &UnixStream) -> io::Result<Vec<HandedSocket>> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_MANIFEST {
        return Err(invalid("manifest too long"));
    }
    let mut manifest = vec![0u8; len];
    stream.read_exact(&mut manifest)?;
    let manifest = String::from_utf8(manifest).map_err(|_| invalid("manifest is not UTF-8"))?;
    let entries = manifest
        .lines()
        .map(parse_line)
        .collect::<io::Result<Vec<_>>>()?;
    let mut fds: Vec<OwnedFd> = Vec::with_capacity(entries.len());
    while fds.len() < entries.len() {
        let before = fds.len();
        receive_batch(stream, &mut fds)?;
        if fds.len() == before {
            return Err(invalid("a hand-over message carried no descriptor"));
        }
    }
    if fds.len() != entries.len() {
        return Err(invalid("more descriptors than the manifest names"));
    }
    Ok(entries
        .into_iter()
        .zip(fds)
        .map(|((kind, name, address), fd)| HandedSocket {
            kind,
            name,
            address,
            fd,
        })
        .collect())
}

/// One byte and the descriptors attached to it, appended to `fds`.
fn receive_batch(stream: &UnixStream, fds: &mut Vec<OwnedFd>) -> io::Result<()> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(BATCH))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut byte = [0u8; 1];
    let got = recvmsg(
        stream,
        &mut [IoSliceMut::new(&mut byte)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    if got.bytes == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the hand-over ended before every descriptor arrived",
        ));
    }
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = message {
            fds.extend(received);
        }
    }
    Ok(())
}

/// `KIND NAME ADDRESS`.
fn parse_line(line: &str) -> io::Result<(SocketKind, String, SocketAddr)> {
    let mut parts = line.split(' ');
    let (Some(kind), Some(name), Some(addr), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("manifest line is not `KIND NAME ADDRESS`"));
    };
    let kind = SocketKind::from_word(kind).ok_or_else(|| invalid("unknown socket kind"))?;
    let name = if name == "-" {
        String::new()
    } else {
        name.into()
    };
    let addr = addr.parse().map_err(|_| invalid("bad socket address"))?;
    Ok((kind, name, addr))
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}
