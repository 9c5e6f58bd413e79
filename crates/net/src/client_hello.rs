//! The server name (SNI) of a TLS ClientHello, read without terminating
//! TLS: record layer → handshake message → extensions → `server_name`.
//!
//! The ClientHello may be split over several TLS records and several TCP
//! reads; [`sniff_server_name`] says when it needs more bytes, and refuses
//! anything larger than [`MAX_CLIENT_HELLO`]. It never panics: every length
//! is checked against what is there (see the unit tests and the fuzz target).

use std::borrow::Cow;
use std::fmt;
use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

/// The most bytes read while looking for the end of a ClientHello
/// (records included). Real ones are a few hundred bytes; with many
/// extensions or post-quantum key shares about 2 KiB.
pub const MAX_CLIENT_HELLO: usize = 16 * 1024;

const HANDSHAKE_RECORD: u8 = 22;
const CLIENT_HELLO: u8 = 1;
const SERVER_NAME: u16 = 0;
const HOST_NAME: u8 = 0;
/// A TLS plaintext record carries at most 2^14 bytes.
const MAX_RECORD: usize = 1 << 14;

/// How far sniffing got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sniffed {
    /// The ClientHello is not complete yet: read more.
    NeedMore,
    /// A complete ClientHello, with its host name (lowercase, without a
    /// trailing dot) when it sent one.
    Complete(Option<String>),
}

/// Why the bytes are not a usable ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientHelloError {
    /// Not a TLS handshake record (plain HTTP, SSLv2, ...).
    NotTls,
    /// A TLS handshake that breaks the format.
    Malformed(&'static str),
    /// Larger than [`MAX_CLIENT_HELLO`].
    TooLarge,
}

impl fmt::Display for ClientHelloError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotTls => f.write_str("not a TLS ClientHello"),
            Self::Malformed(why) => write!(f, "malformed TLS ClientHello: {why}"),
            Self::TooLarge => write!(f, "TLS ClientHello larger than {MAX_CLIENT_HELLO} bytes"),
        }
    }
}

impl std::error::Error for ClientHelloError {}

fn malformed(why: &'static str) -> ClientHelloError {
    ClientHelloError::Malformed(why)
}

/// Looks for the server name in the ClientHello at the start of `buf`.
pub fn sniff_server_name(buf: &[u8]) -> Result<Sniffed, ClientHelloError> {
    let Some(hello) = handshake_message(buf)? else {
        if buf.len() >= MAX_CLIENT_HELLO {
            return Err(ClientHelloError::TooLarge);
        }
        return Ok(Sniffed::NeedMore);
    };
    server_name(&hello).map(Sniffed::Complete)
}

/// Reads from `stream` into `buf` until it holds a whole ClientHello, and
/// returns its server name. `buf` keeps every byte read (to be replayed to
/// the server). Fails with `InvalidData` when the bytes are not a usable
/// ClientHello, `UnexpectedEof` when the stream ends first. No time limit
/// of its own: callers bound it.
pub async fn read_server_name<R>(stream: &mut R, buf: &mut Vec<u8>) -> io::Result<Option<String>>
where
    R: AsyncRead + Unpin + ?Sized,
{
    loop {
        match sniff_server_name(buf) {
            Ok(Sniffed::Complete(name)) => return Ok(name),
            Ok(Sniffed::NeedMore) => {}
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        }
        // Never more than the limit in total, whatever the reads return.
        let room = MAX_CLIENT_HELLO - buf.len();
        buf.reserve(room.min(4096));
        let n = stream.take(room as u64).read_buf(buf).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before the TLS ClientHello was complete",
            ));
        }
    }
}

/// The whole ClientHello handshake message (type and length included),
/// reassembled from as many records as it spans; `None` when incomplete.
fn handshake_message(buf: &[u8]) -> Result<Option<Cow<'_, [u8]>>, ClientHelloError> {
    let mut at = 0;
    let mut joined: Option<Vec<u8>> = None;
    let mut first: &[u8] = &[];
    loop {
        // The record header, checked byte by byte as it arrives.
        let Some(&kind) = buf.get(at) else {
            return Ok(None);
        };
        if kind != HANDSHAKE_RECORD {
            return Err(if at == 0 {
                ClientHelloError::NotTls
            } else {
                malformed("another record type inside the ClientHello")
            });
        }
        let Some(&major) = buf.get(at + 1) else {
            return Ok(None);
        };
        if major != 3 {
            return Err(ClientHelloError::NotTls);
        }
        let (Some(&hi), Some(&lo)) = (buf.get(at + 3), buf.get(at + 4)) else {
            return Ok(None);
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len == 0 {
            return Err(malformed("empty handshake record"));
        }
        if len > MAX_RECORD {
            return Err(malformed("record longer than 16 KiB"));
        }
        let start = at + 5;
        // What has arrived of this record's payload.
        let payload = &buf[start.min(buf.len())..(start + len).min(buf.len())];
        let complete = payload.len() == len;
        let message: &[u8] = match &mut joined {
            None if at == 0 => {
                first = payload;
                payload
            }
            None => {
                let mut v = Vec::with_capacity(first.len() + payload.len());
                v.extend_from_slice(first);
                v.extend_from_slice(payload);
                joined = Some(v);
                joined.as_deref().unwrap_or_default()
            }
            Some(v) => {
                v.extend_from_slice(payload);
                v
            }
        };
        if let Some(&t) = message.first() {
            if t != CLIENT_HELLO {
                return Err(malformed(
                    "the first handshake message is not a ClientHello",
                ));
            }
        }
        if message.len() >= 4 {
            let body = usize::from(message[1]) << 16
                | usize::from(message[2]) << 8
                | usize::from(message[3]);
            let total = 4 + body;
            if total > MAX_CLIENT_HELLO {
                return Err(ClientHelloError::TooLarge);
            }
            if message.len() >= total {
                // Bytes after the ClientHello in the same record would be
                // a second handshake message: legal, and not ours to read.
                return Ok(Some(match joined {
                    Some(mut v) => {
                        v.truncate(total);
                        Cow::Owned(v)
                    }
                    None => Cow::Borrowed(&first[..total]),
                }));
            }
        }
        if !complete {
            return Ok(None);
        }
        at = start + len;
    }
}

/// Reads big-endian fields off a slice, failing instead of panicking.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ClientHelloError> {
        if self.0.len() < n {
            return Err(malformed(what));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, ClientHelloError> {
        Ok(self.bytes(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, ClientHelloError> {
        let b = self.bytes(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A vector with a one- or two-byte length in front.
    fn vec8(&mut self, what: &'static str) -> Result<&'a [u8], ClientHelloError> {
        let n = self.u8(what)?;
        self.bytes(usize::from(n), what)
    }

    fn vec16(&mut self, what: &'static str) -> Result<&'a [u8], ClientHelloError> {
        let n = self.u16(what)?;
        self.bytes(usize::from(n), what)
    }
}

/// The host name in a whole ClientHello message (RFC 8446 §4.1.2, RFC 6066 §3).
fn server_name(message: &[u8]) -> Result<Option<String>, ClientHelloError> {
    let mut r = Reader(message.get(4..).unwrap_or_default());
    r.bytes(2 + 32, "truncated version and random")?;
    let session = r.vec8("truncated session id")?;
    if session.len() > 32 {
        return Err(malformed("session id longer than 32 bytes"));
    }
    let suites = r.vec16("truncated cipher suites")?;
    if suites.is_empty() || suites.len() % 2 != 0 {
        return Err(malformed("bad cipher suite list"));
    }
    if r.vec8("truncated compression methods")?.is_empty() {
        return Err(malformed("no compression method"));
    }
    if r.0.is_empty() {
        return Ok(None); // no extensions at all
    }
    let mut extensions = Reader(r.vec16("truncated extensions")?);
    if !r.0.is_empty() {
        return Err(malformed("bytes after the extensions"));
    }
    let mut name = None;
    let mut seen = false;
    while !extensions.0.is_empty() {
        let kind = extensions.u16("truncated extension")?;
        let data = extensions.vec16("truncated extension")?;
        if kind != SERVER_NAME {
            continue;
        }
        if seen {
            return Err(malformed("server_name sent twice"));
        }
        seen = true;
        let mut list = Reader(data);
        let mut names = Reader(list.vec16("truncated server_name list")?);
        if !list.0.is_empty() || names.0.is_empty() {
            return Err(malformed("bad server_name list"));
        }
        while !names.0.is_empty() {
            let kind = names.u8("truncated server name")?;
            let value = names.vec16("truncated server name")?;
            if kind == HOST_NAME && name.is_none() {
                name = Some(host_name(value)?);
            }
        }
    }
    Ok(name)
}

/// A DNS host name as sent: ASCII letters, digits, `-`, `_` and dots.
fn host_name(raw: &[u8]) -> Result<String, ClientHelloError> {
    let trimmed = raw.strip_suffix(b".").unwrap_or(raw);
    let ok = !trimmed.is_empty()
        && trimmed.len() <= 253
        && trimmed
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && trimmed.split(|&b| b == b'.').all(|l| !l.is_empty());
    if !ok {
        return Err(malformed("server name is not a host name"));
    }
    Ok(String::from_utf8_lossy(trimmed).to_ascii_lowercase())
}

/// A minimal ClientHello in one record, for tests here and elsewhere.
#[doc(hidden)]
pub fn build_client_hello(server_name: Option<&str>) -> Vec<u8> {
    let mut ext = Vec::new();
    if let Some(name) = server_name {
        let n = name.as_bytes();
        let entry_len = 3 + n.len();
        ext.extend_from_slice(&SERVER_NAME.to_be_bytes());
        ext.extend_from_slice(&((entry_len + 2) as u16).to_be_bytes());
        ext.extend_from_slice(&(entry_len as u16).to_be_bytes());
        ext.push(HOST_NAME);
        ext.extend_from_slice(&(n.len() as u16).to_be_bytes());
        ext.extend_from_slice(n);
    }
    // supported_versions: TLS 1.3, so the hello looks like a real one.
    ext.extend_from_slice(&[0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04]);
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x42; 32]);
    body.push(0); // session id
    body.extend_from_slice(&[0x00, 0x02, 0x13, 0x01]); // TLS_AES_128_GCM_SHA256
    body.extend_from_slice(&[0x01, 0x00]); // null compression
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![CLIENT_HELLO];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![HANDSHAKE_RECORD, 0x03, 0x01];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(name: Option<&str>) -> Sniffed {
        Sniffed::Complete(name.map(str::to_owned))
    }

    /// The same handshake message cut into records of `size` bytes.
    fn split_records(hello: &[u8], size: usize) -> Vec<u8> {
        let message = &hello[5..];
        let mut out = Vec::new();
        for piece in message.chunks(size) {
            out.extend_from_slice(&[HANDSHAKE_RECORD, 3, 1]);
            out.extend_from_slice(&(piece.len() as u16).to_be_bytes());
            out.extend_from_slice(piece);
        }
        out
    }

    #[test]
    fn finds_the_name_in_one_or_many_records_and_every_prefix_needs_more() {
        let hello = build_client_hello(Some("API.Example.com."));
        for bytes in [
            hello.clone(),
            split_records(&hello, 1),
            split_records(&hello, 13),
        ] {
            assert_eq!(
                sniff_server_name(&bytes),
                Ok(complete(Some("api.example.com")))
            );
            for cut in 0..bytes.len() {
                assert_eq!(
                    sniff_server_name(&bytes[..cut]),
                    Ok(Sniffed::NeedMore),
                    "cut {cut}"
                );
            }
            // Application data after the hello does not matter.
            let mut more = bytes.clone();
            more.extend_from_slice(&[23, 3, 3, 0, 1, 0]);
            assert_eq!(
                sniff_server_name(&more),
                Ok(complete(Some("api.example.com")))
            );
        }
        assert_eq!(
            sniff_server_name(&build_client_hello(None)),
            Ok(complete(None))
        );
    }

    #[test]
    fn not_tls_and_malformed() {
        assert_eq!(
            sniff_server_name(b"GET / HTTP/1.1\r\n"),
            Err(ClientHelloError::NotTls)
        );
        assert_eq!(
            sniff_server_name(&[0x80, 0x2e, 0x01]),
            Err(ClientHelloError::NotTls)
        );
        assert_eq!(
            sniff_server_name(&[22, 2, 0]),
            Err(ClientHelloError::NotTls)
        );
        assert!(sniff_server_name(&[22, 3, 1, 0, 0]).is_err());
        assert!(sniff_server_name(&[22, 3, 1, 0x40, 0x01]).is_err());
        // A ServerHello (type 2) is not a ClientHello.
        assert!(sniff_server_name(&[22, 3, 3, 0, 4, 2, 0, 0, 0]).is_err());
        // A stated length beyond the limit is refused without waiting.
        assert_eq!(
            sniff_server_name(&[22, 3, 1, 0, 4, 1, 0x01, 0, 0]),
            Err(ClientHelloError::TooLarge)
        );
        // Another record type between fragments.
        let hello = build_client_hello(Some("a.example"));
        let mut two = split_records(&hello, 10);
        two[15] = 23;
        assert!(matches!(
            sniff_server_name(&two),
            Err(ClientHelloError::Malformed(_))
        ));
        // Every single-byte corruption is handled without panicking.
        for i in 0..hello.len() {
            for v in [0u8, 1, 0x7f, 0xff] {
                let mut bad = hello.clone();
                bad[i] = v;
                let _ = sniff_server_name(&bad);
            }
        }
        // Truncating the message inside (lengths no longer add up).
        let mut short = hello.clone();
        let cut = short.len() - 3;
        short.truncate(cut);
        let hl = (short.len() - 9) as u32;
        short[6..9].copy_from_slice(&hl.to_be_bytes()[1..]);
        let rl = (short.len() - 5) as u16;
        short[3..5].copy_from_slice(&rl.to_be_bytes());
        assert!(matches!(
            sniff_server_name(&short),
            Err(ClientHelloError::Malformed(_))
        ));
    }

    #[test]
    fn bad_host_names_are_refused() {
        for bad in ["", "a..b", "a b", "caf\u{e9}.example", ".", "x/y"] {
            let hello = build_client_hello(Some(bad));
            assert!(
                matches!(
                    sniff_server_name(&hello),
                    Err(ClientHelloError::Malformed(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn reads_in_pieces_and_keeps_every_byte() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let hello = split_records(&build_client_hello(Some("x.example")), 50);
            let (mut tx, mut rx) = tokio::io::duplex(8);
            let sent = hello.clone();
            let writer = tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                tx.write_all(&sent).await.unwrap();
                tx.write_all(b"rest").await.unwrap();
                tx
            });
            let mut buf = Vec::new();
            let name = read_server_name(&mut rx, &mut buf).await.unwrap();
            assert_eq!(name.as_deref(), Some("x.example"));
            assert!(buf.starts_with(&hello));
            drop(writer.await.unwrap());

            // A hello sent one byte per record outgrows the limit before
            // it completes (6 bytes per byte of message): refused there.
            let (mut tx, mut rx) = tokio::io::duplex(64 * 1024);
            let mut endless = vec![22, 3, 1, 0, 4, 1, 0x00, 0x27, 0x10];
            while endless.len() < MAX_CLIENT_HELLO + 100 {
                endless.extend_from_slice(&[22, 3, 1, 0, 1, 0]);
            }
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let _ = tx.write_all(&endless).await;
                tx
            });
            let mut buf = Vec::new();
            let e = read_server_name(&mut rx, &mut buf).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData);
            assert!(e.to_string().contains("larger than"), "{e}");
            assert_eq!(buf.len(), MAX_CLIENT_HELLO);
        });
    }
}
