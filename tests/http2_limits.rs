//! HTTP/2 limits of a listener (`http2:` in the config): the advertised and
//! enforced SETTINGS_MAX_CONCURRENT_STREAMS and SETTINGS_MAX_HEADER_LIST_SIZE,
//! and the rapid-reset guard. Frame-level cases are written as raw frames
//! over a plain TcpStream (a well-behaved client library would never open a
//! stream over the limit); the header-list case uses the `h2` crate.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use tollgate_testkit::bytes::Bytes;
use tollgate_testkit::http::Request;
use tollgate_testkit::{connect, get, h2_get, render, Tollgate, Upstream};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// Frame types.
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
// Flags.
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
// SETTINGS parameters.
const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;
const SETTINGS_MAX_HEADER_LIST_SIZE: u16 = 0x6;
// Error codes.
const PROTOCOL_ERROR: u32 = 0x1;
const REFUSED_STREAM: u32 = 0x7;
const CANCEL: u32 = 0x8;
const ENHANCE_YOUR_CALM: u32 = 0xb;

#[derive(Debug)]
struct Frame {
    ty: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

impl Frame {
    fn u32_at(&self, i: usize) -> u32 {
        u32::from_be_bytes(self.payload[i..i + 4].try_into().expect("4 bytes"))
    }
}

/// What reading the next frame gave.
#[derive(Debug)]
enum Next {
    Frame(Frame),
    /// EOF or a reset: the server closed the connection.
    Closed,
    /// Nothing complete arrived before the deadline.
    Timeout,
}

/// A byte-level HTTP/2 client connection (prior knowledge).
struct RawH2 {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawH2 {
    /// Connects, sends the preface and empty SETTINGS, waits for the
    /// server's SETTINGS (returned as (id, value) pairs) and acknowledges them.
    fn connect(addr: SocketAddr) -> (Self, Vec<(u16, u32)>) {
        let mut c = Self {
            stream: connect(addr),
            buf: Vec::new(),
        };
        let mut hello = PREFACE.to_vec();
        hello.extend_from_slice(&frame(SETTINGS, 0, 0, &[]));
        c.stream.write_all(&hello).expect("write preface");
        let deadline = Instant::now() + Duration::from_secs(5);
        let settings = loop {
            match c.next(deadline) {
                Next::Frame(f) if f.ty == SETTINGS && f.flags & ACK == 0 => break f,
                Next::Frame(_) => {}
                other => panic!("no SETTINGS from the server: {other:?}"),
            }
        };
        let params = settings
            .payload
            .chunks_exact(6)
            .map(|p| {
                (
                    u16::from_be_bytes([p[0], p[1]]),
                    u32::from_be_bytes([p[2], p[3], p[4], p[5]]),
                )
            })
            .collect();
        c.stream
            .write_all(&frame(SETTINGS, ACK, 0, &[]))
            .expect("write SETTINGS ACK");
        (c, params)
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write frames");
    }

    /// The next frame, reading until `deadline`.
    fn next(&mut self, deadline: Instant) -> Next {
        loop {
            if self.buf.len() >= 9 {
                let len = u32::from_be_bytes([0, self.buf[0], self.buf[1], self.buf[2]]) as usize;
                if self.buf.len() >= 9 + len {
                    let f = Frame {
                        ty: self.buf[3],
                        flags: self.buf[4],
                        stream: u32::from_be_bytes(self.buf[5..9].try_into().expect("4 bytes"))
                            & 0x7fff_ffff,
                        payload: self.buf[9..9 + len].to_vec(),
                    };
                    self.buf.drain(..9 + len);
                    return Next::Frame(f);
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Next::Timeout;
            }
            self.stream
                .set_read_timeout(Some(left))
                .expect("read timeout");
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Next::Closed,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Next::Timeout
                }
                Err(_) => return Next::Closed,
            }
        }
    }
}

fn frame(ty: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = len.to_be_bytes()[1..].to_vec();
    f.push(ty);
    f.push(flags);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// HPACK integer with an `n`-bit prefix (RFC 7541 §5.1).
fn hpack_int(out: &mut Vec<u8>, prefix_bits: u8, flags: u8, mut value: usize) {
    let max = (1usize << prefix_bits) - 1;
    if value < max {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max as u8);
    value -= max;
    while value >= 128 {
        out.push((value % 128) as u8 | 0x80);
        value /= 128;
    }
    out.push(value as u8);
}

fn hpack_str(out: &mut Vec<u8>, s: &str) {
    hpack_int(out, 7, 0, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// A GET request header block: static-table `:method GET` and `:scheme
/// http`, `:path` and `:authority` as literals without indexing, then
/// `extra` fields as literals with new names.
fn request_block(path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut b = vec![0x82, 0x86];
    hpack_int(&mut b, 4, 0, 4); // :path
    hpack_str(&mut b, path);
    hpack_int(&mut b, 4, 0, 1); // :authority
    hpack_str(&mut b, "h2.test");
    for (n, v) in extra {
        b.push(0);
        hpack_str(&mut b, n);
        hpack_str(&mut b, v);
    }
    b
}

/// A complete GET (HEADERS with END_HEADERS | END_STREAM) on `stream`.
fn get_frame(stream: u32, path: &str) -> Vec<u8> {
    frame(
        HEADERS,
        END_HEADERS | END_STREAM,
        stream,
        &request_block(path, &[]),
    )
}

/// A response header block that starts with the static-table entry for
/// `:status 200` (how hyper's encoder writes it).
fn is_status_200(block: &[u8]) -> bool {
    block.first() == Some(&0x88)
}

fn start(up: &Upstream, http2: &str) -> Tollgate {
    Tollgate::start_with_defaults(&render(
        r#"
listeners:
  - name: web
    address: 127.0.0.1:0
    http2: {http2}
upstreams:
  - {name: u, targets: [{address: "{up}"}]}
routes:
  - {name: all, upstream: u}
"#,
        &[("up", &up.addr()), ("http2", &http2)],
    ))
}

#[test]
fn max_concurrent_streams_is_advertised_and_enforced() {
    // Each request takes 1.5s upstream, so streams 1 and 3 are still open
    // when stream 5 arrives.
    let up = Upstream::slow(Duration::from_millis(1500));
    let tg = start(
        &up,
        "{max_concurrent_streams: 2, max_header_list_size: 4KiB}",
    );
    let (mut c, settings) = RawH2::connect(tg.addr("web"));
    let setting = |id: u16| settings.iter().find(|(i, _)| *i == id).map(|(_, v)| *v);
    assert_eq!(
        setting(SETTINGS_MAX_CONCURRENT_STREAMS),
        Some(2),
        "{settings:?}"
    );
    assert_eq!(
        setting(SETTINGS_MAX_HEADER_LIST_SIZE),
        Some(4096),
        "{settings:?}"
    );

    let mut burst = get_frame(1, "/one");
    burst.extend(get_frame(3, "/three"));
    burst.extend(get_frame(5, "/five"));
    c.send(&burst);

    // Before the slow answers: stream 5 is refused, 1 and 3 are not.
    let deadline = Instant::now() + Duration::from_millis(1200);
    let mut refused = None;
    loop {
        match c.next(deadline) {
            Next::Frame(f) if f.ty == RST_STREAM => {
                assert_eq!(f.stream, 5, "a stream within the limit was reset: {f:?}");
                refused = Some(f.u32_at(0));
            }
            Next::Frame(f) if f.ty == GOAWAY => {
                panic!("GOAWAY (code {:#x}) instead of a stream error", f.u32_at(4))
            }
            Next::Frame(_) => {}
            Next::Closed => panic!("connection closed instead of refusing one stream"),
            Next::Timeout => break,
        }
    }
    let code = refused.expect("the third concurrent stream was not refused");
    assert!(
        code == REFUSED_STREAM || code == PROTOCOL_ERROR,
        "third stream reset with code {code:#x}"
    );

    // The two admitted streams complete.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut answered = Vec::new();
    while answered.len() < 2 {
        match c.next(deadline) {
            Next::Frame(f) if f.ty == HEADERS => {
                assert!(is_status_200(&f.payload), "stream {} not 200", f.stream);
                answered.push(f.stream);
            }
            Next::Frame(f) => {
                assert!(f.ty != RST_STREAM && f.ty != GOAWAY, "unexpected {f:?}");
            }
            other => panic!("admitted streams not answered: {other:?}"),
        }
    }
    answered.sort_unstable();
    assert_eq!(answered, [1, 3]);

    // A slot is free again: a new stream on the same connection is served.
    c.send(&get_frame(7, "/seven"));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match c.next(deadline) {
            Next::Frame(f) if f.ty == HEADERS && f.stream == 7 => {
                assert!(is_status_200(&f.payload));
                break;
            }
            Next::Frame(f) => assert!(
                !(f.ty == RST_STREAM && f.stream == 7) && f.ty != GOAWAY,
                "unexpected {f:?}"
            ),
            other => panic!("stream 7 not answered: {other:?}"),
        }
    }
    let mut paths: Vec<String> = up.requests().into_iter().map(|r| r.path).collect();
    paths.sort();
    assert_eq!(
        paths,
        ["/one", "/seven", "/three"],
        "the refused stream reached the upstream"
    );
}

#[test]
fn header_list_over_max_header_list_size_is_rejected() {
    let up = Upstream::echo();
    let tg = start(&up, "{max_header_list_size: 2KiB}");
    let addr = tg.addr("web");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (big, small) = rt.block_on(async move {
        tokio::time::timeout(Duration::from_secs(10), async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let (mut client, conn) = h2::client::handshake(tcp).await.expect("h2 handshake");
            let conn = tokio::spawn(conn);
            let send = |client: &mut h2::client::SendRequest<Bytes>, big: bool| {
                let mut req = Request::builder().uri(format!("http://{addr}/h"));
                if big {
                    req = req.header("x-big", "v".repeat(4000));
                }
                client
                    .send_request(req.body(()).expect("request"), true)
                    .map(|(resp, _)| resp)
            };
            client = client.ready().await.expect("ready");
            let big = match send(&mut client, true) {
                Ok(resp) => resp.await.map(|r| r.status().as_u16()),
                Err(e) => Err(e),
            };
            client = client.ready().await.expect("connection still usable");
            let small = send(&mut client, false)
                .expect("send")
                .await
                .map(|r| r.status().as_u16());
            conn.abort();
            (big, small)
        })
        .await
        .expect("HTTP/2 exchange took longer than 10s")
    });
    match big {
        Ok(status) => assert_eq!(status, 431, "oversized header list answered {status}"),
        Err(e) => assert!(
            e.is_reset() && !e.is_go_away(),
            "oversized header list: expected 431 or a stream error, got {e:?}"
        ),
    }
    // A stream error, not a connection error: the next stream is served.
    assert_eq!(small.expect("normal request after the oversized one"), 200);
    assert_eq!(
        up.request_count(),
        1,
        "the oversized request reached the upstream"
    );
}

/// Reads until GOAWAY or close (`Some` with what happened) or `deadline`.
fn goaway_or_close(c: &mut RawH2, deadline: Instant) -> Option<String> {
    loop {
        match c.next(deadline) {
            Next::Frame(f) if f.ty == GOAWAY => return Some(format!("GOAWAY {:#x}", f.u32_at(4))),
            Next::Frame(_) => {}
            Next::Closed => return Some("closed".to_owned()),
            Next::Timeout => return None,
        }
    }
}

/// The connection was cut off the way the rapid-reset guard should.
fn assert_cut_off(outcome: Option<String>, what: &str) {
    let outcome = outcome.unwrap_or_else(|| panic!("{what} without GOAWAY or close"));
    assert!(
        outcome == "closed" || outcome == format!("GOAWAY {ENHANCE_YOUR_CALM:#x}"),
        "{what}: answered with {outcome}"
    );
}

/// Fresh connections are still served after an attack on another one.
fn assert_still_serving(addr: SocketAddr) {
    assert_eq!(h2_get(addr, "/fresh").status, 200);
    assert_eq!(get(addr, "/fresh-h1").status, 200);
}

#[test]
fn rapid_reset_burst_is_cut_off() {
    // Defaults (max_pending_resets: 100). 1,000 streams, each HEADERS
    // immediately followed by RST_STREAM, in one write.
    let up = Upstream::slow(Duration::from_millis(200));
    let tg = start(&up, "{}");
    let addr = tg.addr("web");
    let (mut c, _) = RawH2::connect(addr);
    let mut burst = Vec::new();
    for n in 0..1000u32 {
        let id = 1 + 2 * n;
        burst.extend(get_frame(id, "/reset"));
        burst.extend(frame(RST_STREAM, 0, id, &CANCEL.to_be_bytes()));
    }
    // A write error means the server already closed: also a cut-off.
    let outcome = match c.stream.write_all(&burst) {
        Ok(()) => goaway_or_close(&mut c, Instant::now() + Duration::from_secs(5)),
        Err(_) => Some("closed".to_owned()),
    };
    assert_cut_off(outcome, "1,000 streams opened and reset in one burst");
    assert!(
        up.request_count() <= 200,
        "{} reset streams reached the upstream",
        up.request_count()
    );
    assert_still_serving(addr);
}

/// Rapid reset paced by the round trip: each stream is opened, a PING makes
/// sure the server has taken it (its request is on its way upstream), then
/// the stream is reset. Never more than one stream is open, so
/// SETTINGS_MAX_CONCURRENT_STREAMS does not help; only a per-connection count
/// of client resets (`max_pending_resets`, documented as "stream resets a
/// client may cause on one connection before it is closed") can.
#[test]
fn rapid_reset_paced_by_round_trip_is_cut_off() {
    let up = Upstream::slow(Duration::from_millis(200));
    let tg = start(&up, "{max_pending_resets: 100}");
    let addr = tg.addr("web");
    let (mut c, _) = RawH2::connect(addr);
    let mut outcome = None;
    'streams: for n in 0..1000u32 {
        let id = 1 + 2 * n;
        let mut bytes = get_frame(id, "/reset");
        bytes.extend(frame(PING, 0, 0, &u64::from(id).to_be_bytes()));
        if c.stream.write_all(&bytes).is_err() {
            outcome = Some("closed".to_owned());
            break;
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            match c.next(deadline) {
                Next::Frame(f) if f.ty == GOAWAY => {
                    outcome = Some(format!("GOAWAY {:#x}", f.u32_at(4)));
                    break 'streams;
                }
                Next::Frame(f) if f.ty == PING && f.flags & ACK != 0 => break,
                Next::Frame(_) => {}
                Next::Closed => {
                    outcome = Some("closed".to_owned());
                    break 'streams;
                }
                Next::Timeout => panic!("no PING ACK for stream {id}"),
            }
        }
        if c.stream
            .write_all(&frame(RST_STREAM, 0, id, &CANCEL.to_be_bytes()))
            .is_err()
        {
            outcome = Some("closed".to_owned());
            break;
        }
    }
    if outcome.is_none() {
        outcome = goaway_or_close(&mut c, Instant::now() + Duration::from_secs(1));
    }
    let upstream = (up.connection_count(), up.request_count());
    assert_cut_off(
        outcome,
        &format!(
            "1,000 streams opened and reset one round trip apart \
             (upstream saw {} connections, {} requests)",
            upstream.0, upstream.1
        ),
    );
    assert!(
        upstream.1 <= 200,
        "{} reset streams reached the upstream",
        upstream.1
    );
    assert_still_serving(addr);
}

/// The first GOAWAY's error code from a connection that sent `bytes`,
/// `None` when the server closed without one.
fn goaway_code_after(addr: SocketAddr, bytes: &[u8]) -> Option<u32> {
    let mut c = RawH2 {
        stream: connect(addr),
        buf: Vec::new(),
    };
    c.send(bytes);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match c.next(deadline) {
            Next::Frame(f) if f.ty == GOAWAY => return Some(f.u32_at(4)),
            Next::Frame(_) => {}
            Next::Closed | Next::Timeout => return None,
        }
    }
}

#[test]
fn invalid_preface_ends_with_goaway_protocol_error() {
    let up = Upstream::echo();
    let tg = start(&up, "");
    let addr = tg.addr("web");
    // The magic damaged after its first line.
    assert_eq!(
        goaway_code_after(addr, b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"),
        Some(PROTOCOL_ERROR),
        "damaged magic"
    );
    // The magic right, but a PING where the SETTINGS frame must be.
    let mut bytes = PREFACE.to_vec();
    bytes.extend_from_slice(&frame(PING, 0, 0, &[0; 8]));
    assert_eq!(
        goaway_code_after(addr, &bytes),
        Some(PROTOCOL_ERROR),
        "no SETTINGS first"
    );
    assert_still_serving(addr);
}

fn start_with_limits(up: &Upstream, limits: &str) -> Tollgate {
    Tollgate::start_with_defaults(&render(
        r#"
listeners:
  - name: web
    address: 127.0.0.1:0
    limits: {limits}
upstreams:
  - {name: u, targets: [{address: "{up}"}]}
routes:
  - {name: all, upstream: u}
"#,
        &[("up", &up.addr()), ("limits", &limits)],
    ))
}

/// Reads frames until the end of stream `id`'s answer; its HEADERS block.
fn answer_of(c: &mut RawH2, id: u32, deadline: Instant) -> Vec<u8> {
    let mut head = None;
    loop {
        match c.next(deadline) {
            Next::Frame(f) if f.stream == id && f.ty == HEADERS && head.is_none() => {
                let end = f.flags & END_STREAM != 0;
                head = Some(f.payload);
                if end {
                    return head.expect("head");
                }
            }
            Next::Frame(f) if f.stream == id && f.flags & END_STREAM != 0 => {
                return head.expect("an answer's HEADERS before its end");
            }
            Next::Frame(_) => {}
            other => panic!("stream {id} not answered: {other:?}"),
        }
    }
}

#[test]
fn idle_connection_is_closed_after_keepalive_timeout_but_not_a_busy_one() {
    // The answer takes longer than the idle timeout: an open stream keeps
    // the connection; once it has ended, 1s of silence closes it.
    let up = Upstream::slow(Duration::from_millis(1500));
    let tg = start_with_limits(&up, "{keepalive_timeout: 1s}");
    let (mut c, _) = RawH2::connect(tg.addr("web"));
    c.send(&get_frame(1, "/slow"));
    let head = answer_of(&mut c, 1, Instant::now() + Duration::from_secs(10));
    assert!(is_status_200(&head), "the slow stream was cut off");
    let ended = Instant::now();
    let outcome = goaway_or_close(&mut c, ended + Duration::from_secs(8));
    let waited = ended.elapsed();
    assert!(
        matches!(outcome.as_deref(), Some("closed") | Some("GOAWAY 0x0")),
        "an idle connection was not closed: {outcome:?}"
    );
    assert!(
        waited >= Duration::from_millis(900),
        "closed {waited:?} after the last stream, before the idle timeout"
    );
    assert_still_serving(tg.addr("web"));
}

#[test]
fn client_that_never_sends_its_settings_is_closed_after_header_read_timeout() {
    let up = Upstream::echo();
    let tg = start_with_limits(&up, "{header_read_timeout: 1s}");
    let mut c = RawH2 {
        stream: connect(tg.addr("web")),
        buf: Vec::new(),
    };
    // The connection preface without the SETTINGS frame that must follow.
    c.send(PREFACE);
    let outcome = goaway_or_close(&mut c, Instant::now() + Duration::from_secs(8));
    assert!(
        outcome.is_some(),
        "a stalled HTTP/2 handshake held the connection"
    );
    assert_still_serving(tg.addr("web"));
}

/// A sized answer ends its stream with END_STREAM on its last DATA frame,
/// not on an empty DATA frame sent after it (one frame and one write fewer
/// per answer, as other servers do).
#[test]
fn a_sized_answer_ends_its_stream_on_its_last_data_frame() {
    let up = Upstream::echo();
    let tg = start(&up, "{}");
    let (mut c, _) = RawH2::connect(tg.addr("web"));
    c.send(&get_frame(1, "/sized"));
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut data_frames = Vec::new();
    loop {
        match c.next(deadline) {
            Next::Frame(f) if f.stream == 1 && f.ty == DATA => {
                data_frames.push(f.payload.len());
                if f.flags & END_STREAM != 0 {
                    break;
                }
            }
            Next::Frame(f) if f.stream == 1 && f.flags & END_STREAM != 0 => {
                panic!("the answer ended without DATA: {f:?}")
            }
            Next::Frame(_) => {}
            other => panic!("stream 1 not answered: {other:?}"),
        }
    }
    assert!(
        data_frames.iter().all(|n| *n > 0),
        "an empty DATA frame carried the end: {data_frames:?}"
    );
}
