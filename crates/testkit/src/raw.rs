//! Byte-exact HTTP/1.1 over a plain `std` TCP stream.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Version};

use crate::client::HttpResponse;
use crate::upstream::find;

/// Default time a raw read waits for the server.
const RAW_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects to `addr` (5 s timeout), with Nagle off.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, RAW_TIMEOUT)
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    let _ = stream.set_nodelay(true);
    stream
}

/// Connects to `addr` from the local address `from` (port chosen by the
/// OS), e.g. `127.0.0.2` to appear as another client on loopback (Linux
/// routes all of 127/8 to `lo`). 5 s timeout, Nagle off.
pub fn connect_from(from: std::net::IpAddr, addr: SocketAddr) -> TcpStream {
    let stream = crate::runtime().block_on(async move {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()
        } else {
            tokio::net::TcpSocket::new_v6()
        }
        .expect("socket");
        socket
            .bind(SocketAddr::new(from, 0))
            .unwrap_or_else(|e| panic!("bind {from}: {e}"));
        tokio::time::timeout(RAW_TIMEOUT, socket.connect(addr))
            .await
            .unwrap_or_else(|_| panic!("connect to {addr} from {from} timed out"))
            .unwrap_or_else(|e| panic!("connect to {addr} from {from}: {e}"))
    });
    let stream = stream.into_std().expect("std stream");
    stream.set_nonblocking(false).expect("blocking mode");
    let _ = stream.set_nodelay(true);
    stream
}

/// [`raw_request`] from the local address `from` (see [`connect_from`]).
pub fn raw_request_from(from: std::net::IpAddr, addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = connect_from(from, addr);
    // The server may refuse the connection before reading: a failed write
    // then shows as an empty answer.
    let _ = stream.write_all(bytes);
    read_to_close(&mut stream, RAW_TIMEOUT)
}

/// Writes `bytes` on a new connection and returns everything the server
/// sends until it closes the connection or 5 s pass.
pub fn raw_request(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    raw_request_timeout(addr, bytes, RAW_TIMEOUT)
}

/// [`raw_request`] with another time limit.
pub fn raw_request_timeout(addr: SocketAddr, bytes: &[u8], timeout: Duration) -> Vec<u8> {
    let mut stream = connect(addr);
    stream.write_all(bytes).expect("write request");
    read_to_close(&mut stream, timeout)
}

/// Reads from `stream` until the peer closes or 5 s pass; returns what arrived.
pub fn read_all(stream: &mut TcpStream) -> Vec<u8> {
    read_to_close(stream, RAW_TIMEOUT)
}

/// Reads until the peer closes or `timeout` passes; returns what arrived.
fn read_to_close(stream: &mut TcpStream, timeout: Duration) -> Vec<u8> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return out;
        }
        let _ = stream.set_read_timeout(Some(left));
        match stream.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return out,
        }
    }
}

/// Reads from `stream` until `needle` has arrived; returns everything read
/// (possibly more than up to the needle). Panics after 5 s.
pub fn read_until(stream: &mut TcpStream, needle: &[u8]) -> Vec<u8> {
    read_until_timeout(stream, needle, RAW_TIMEOUT).unwrap_or_else(|| {
        panic!(
            "{:?} did not arrive within {RAW_TIMEOUT:?}",
            String::from_utf8_lossy(needle)
        )
    })
}

/// Reads until `needle` has arrived (`Some` with everything read) or the
/// peer closes or `timeout` passes (`None`).
pub fn read_until_timeout(
    stream: &mut TcpStream,
    needle: &[u8],
    timeout: Duration,
) -> Option<Vec<u8>> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if find(&out, needle).is_some() {
            return Some(out);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        let _ = stream.set_read_timeout(Some(left));
        match stream.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

/// The status code of the first response in `bytes`; panics when there is
/// no status line.
pub fn parse_status(bytes: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().next().unwrap_or("");
    let mut parts = line.split(' ');
    let version = parts.next().unwrap_or("");
    assert!(
        version.starts_with("HTTP/1."),
        "no HTTP/1.x status line in {text:?}"
    );
    parts
        .next()
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status code in {text:?}"))
}

/// Parses the first response in `bytes`: status, header fields, and the
/// body decoded from Content-Length or chunked framing (or everything after
/// the head otherwise). Panics on a malformed message.
pub fn parse_response(bytes: &[u8]) -> HttpResponse {
    let head_end = find(bytes, b"\r\n\r\n")
        .unwrap_or_else(|| panic!("incomplete head: {:?}", String::from_utf8_lossy(bytes)));
    let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
    let rest = &bytes[head_end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let version = if status_line.starts_with("HTTP/1.0") {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let status = parse_status(status_line.as_bytes());
    let mut headers = HeaderMap::new();
    for line in lines {
        let (n, v) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("bad header line {line:?}"));
        headers.append(
            HeaderName::from_bytes(n.trim().as_bytes()).expect("header name"),
            HeaderValue::from_str(v.trim()).expect("header value"),
        );
    }
    let bodiless = (100..200).contains(&status) || status == 204 || status == 304;
    let chunked = headers
        .get("transfer-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let body = if bodiless {
        Vec::new()
    } else if chunked {
        decode_chunked(rest)
    } else if let Some(n) = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        assert!(rest.len() >= n, "body shorter than Content-Length {n}");
        rest[..n].to_vec()
    } else {
        rest.to_vec()
    };
    HttpResponse {
        status,
        version,
        headers,
        body: Bytes::from(body),
    }
}

/// Decodes a complete chunked body (trailers ignored).
fn decode_chunked(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = find(data, b"\r\n").expect("chunk size line");
        let line = String::from_utf8_lossy(&data[..line_end]);
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .unwrap_or_else(|_| panic!("bad chunk size {size_text:?}"));
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        assert!(data.len() >= size + 2, "truncated chunk");
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}
