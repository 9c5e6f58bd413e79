//! Taking exactly the PROXY header off a socket.
//!
//! The bytes after the header belong to whoever serves the connection next
//! (the HTTP server, the relay), which reads the socket itself. So the
//! header is found by peeking, and only its bytes are read: a peek shows
//! what arrived, [`super::parse`] says how long the header is, and the
//! socket is read exactly that far. While the header is incomplete every
//! byte seen is part of it, so those are read too, and the next peek waits
//! for more instead of spinning on the same bytes.

use std::io;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::{parse, ProxyHeader, MAX_HEADER_BYTES};

/// What one peek looks at: enough for any common header in one go.
const PEEK: usize = 512;

/// Reads a PROXY protocol header (either version) from the start of
/// `stream`, leaving everything after it unread. Fails with
/// `InvalidData` (the message says why) when the stream does not start
/// with a valid header, and `UnexpectedEof` when it closes first. Has no
/// time limit of its own: callers bound it.
pub async fn read_header(stream: &mut TcpStream) -> io::Result<ProxyHeader> {
    let mut seen: Vec<u8> = Vec::new();
    let mut peeked = [0u8; PEEK];
    loop {
        let room = (MAX_HEADER_BYTES + 1 - seen.len()).min(PEEK);
        let n = stream.peek(&mut peeked[..room]).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before the PROXY protocol header was complete",
            ));
        }
        let consumed = seen.len();
        seen.extend_from_slice(&peeked[..n]);
        match parse(&seen) {
            Ok(Some((header, used))) => {
                // The header's unread part is within this peek.
                let rest = used.saturating_sub(consumed).min(n);
                stream.read_exact(&mut peeked[..rest]).await?;
                return Ok(header);
            }
            Ok(None) => {
                // All of it is header: take it off the socket.
                stream.read_exact(&mut peeked[..n]).await?;
            }
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{encode, ProxyAddresses, ProxyVersion};
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    async fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        (c, s)
    }

    #[test]
    fn reads_only_the_header_even_when_it_arrives_in_pieces() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            for version in [ProxyVersion::V1, ProxyVersion::V2] {
                let (mut client, mut server) = pair().await;
                let a = ProxyAddresses {
                    source: "[2001:db8::7]:4242".parse().unwrap(),
                    destination: "[2001:db8::1]:443".parse().unwrap(),
                };
                let mut bytes = Vec::new();
                encode(version, Some(&a), &mut bytes);
                bytes.extend_from_slice(b"GET / HTTP/1.1\r\n");
                let writer = tokio::spawn(async move {
                    client.set_nodelay(true).unwrap();
                    for piece in bytes.chunks(7) {
                        client.write_all(piece).await.unwrap();
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    client
                });
                let h = read_header(&mut server).await.unwrap();
                assert_eq!(h.addresses, Some(a));
                let _client = writer.await.unwrap();
                let mut rest = [0u8; 16];
                server.read_exact(&mut rest).await.unwrap();
                assert_eq!(&rest, b"GET / HTTP/1.1\r\n");
            }
        });
    }

    #[test]
    fn garbage_and_early_close_fail() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (mut client, mut server) = pair().await;
            client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
            let e = read_header(&mut server).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData);
            assert_eq!(e.to_string(), "no PROXY protocol header");

            let (mut client, mut server) = pair().await;
            client.write_all(b"PROXY TCP4 1.2.3.4").await.unwrap();
            drop(client);
            let e = read_header(&mut server).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        });
    }
}
