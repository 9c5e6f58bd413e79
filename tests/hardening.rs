//! Hardening of the HTTP/1.1 front end against malformed, ambiguous and
//! abusive input. Every case is written as raw bytes to a tollgate listener
//! in front of an echo upstream; each test checks the status code, that the
//! connection is closed afterwards (EOF within a bounded time) and, for
//! request-smuggling shapes, that the upstream received nothing (or only the
//! first, legitimate request).

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use tollgate_testkit::{connect, get, render, serde_json, Tollgate, Upstream};

/// How long any read in this file waits for the server.
const READ_BOUND: Duration = Duration::from_secs(5);
/// How long to give the upstream to record a request that might still be in flight.
const SETTLE: Duration = Duration::from_millis(50);

/// Listener `web` with small limits, in front of one echo upstream. Paths
/// under `/small` allow 1 KiB bodies; everything else the default.
const CONFIG: &str = r#"
listeners:
  - name: web
    address: 127.0.0.1:0
    limits:
      max_header_bytes: 2KiB
      max_headers: 20
      max_uri_length: 256
      header_read_timeout: 500ms
      keepalive_timeout: 1s
upstreams:
  - {name: echo, targets: [{address: "{up}"}]}
routes:
  - {name: small, match: {path: {prefix: /small}}, upstream: echo, max_body: 1KiB}
  - {name: all, upstream: echo}
"#;

struct Setup {
    up: Upstream,
    tg: Tollgate,
}

impl Setup {
    fn new() -> Self {
        let up = Upstream::echo();
        let tg = Tollgate::start_with_defaults(&render(CONFIG, &[("up", &up.addr())]));
        Self { up, tg }
    }

    fn addr(&self) -> SocketAddr {
        self.tg.addr("web")
    }

    /// Paths the upstream received, after giving in-flight requests a moment.
    fn upstream_paths(&self) -> Vec<String> {
        thread::sleep(SETTLE);
        self.up.requests().into_iter().map(|r| r.path).collect()
    }
}

/// What came back on a connection.
struct Answer {
    bytes: Vec<u8>,
    /// The server closed the connection (EOF or reset) within the bound.
    closed: bool,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// Reads until EOF (or a reset) or until `bound` passes.
fn read_to_eof(stream: &mut TcpStream, bound: Duration) -> Answer {
    let deadline = Instant::now() + bound;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Answer {
                bytes,
                closed: false,
            };
        }
        stream.set_read_timeout(Some(left)).expect("read timeout");
        match stream.read(&mut buf) {
            Ok(0) => {
                return Answer {
                    bytes,
                    closed: true,
                }
            }
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Answer {
                    bytes,
                    closed: false,
                }
            }
            // Reset / aborted: the server is gone too.
            Err(_) => {
                return Answer {
                    bytes,
                    closed: true,
                }
            }
        }
    }
}

/// Writes `raw` on a new connection (write errors are ignored: the server
/// may already have answered and closed) and reads until EOF.
fn send(addr: SocketAddr, raw: &[u8]) -> Answer {
    let mut stream = connect(addr);
    let _ = stream.write_all(raw);
    read_to_eof(&mut stream, READ_BOUND)
}

/// Status code of the first status line in `bytes`, if there is one.
fn status_of(bytes: &[u8]) -> Option<u16> {
    let line_end = bytes.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&bytes[..line_end]).ok()?;
    let rest = line.strip_prefix("HTTP/1.1 ")?;
    let code = rest.get(..3)?;
    if !code.bytes().all(|b| b.is_ascii_digit()) || !matches!(rest.as_bytes().get(3), Some(b' ')) {
        return None;
    }
    code.parse().ok().filter(|c| (100..=599).contains(c))
}

/// One response split off a byte stream.
struct Resp {
    status: u16,
    head: String,
    body: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Splits a stream of HTTP/1.1 responses (Content-Length or chunked bodies;
/// a final response without framing takes the rest). Panics on garbage.
fn split_responses(mut bytes: &[u8]) -> Vec<Resp> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let status =
            status_of(bytes).unwrap_or_else(|| panic!("no status line in {:?}", lossy(bytes)));
        let head_end = find(bytes, b"\r\n\r\n")
            .unwrap_or_else(|| panic!("incomplete head in {:?}", lossy(bytes)));
        let head = String::from_utf8_lossy(&bytes[..head_end]).to_ascii_lowercase();
        let mut rest = &bytes[head_end + 4..];
        let header = |name: &str| {
            head.lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(n, _)| n.trim() == name)
                .map(|(_, v)| v.trim().to_owned())
        };
        let bodiless = (100..200).contains(&status) || status == 204 || status == 304;
        let body = if bodiless {
            Vec::new()
        } else if header("transfer-encoding").as_deref() == Some("chunked") {
            let mut body = Vec::new();
            loop {
                let eol = find(rest, b"\r\n").expect("chunk size line");
                let size =
                    usize::from_str_radix(std::str::from_utf8(&rest[..eol]).expect("size"), 16)
                        .expect("hex chunk size");
                rest = &rest[eol + 2..];
                if size == 0 {
                    let end = find(rest, b"\r\n").expect("end of chunked body");
                    rest = &rest[end + 2..];
                    break;
                }
                body.extend_from_slice(&rest[..size]);
                rest = &rest[size + 2..];
            }
            body
        } else if let Some(n) = header("content-length") {
            let n: usize = n.parse().expect("content-length");
            let body = rest[..n].to_vec();
            rest = &rest[n..];
            body
        } else {
            let body = rest.to_vec();
            rest = &[];
            body
        };
        out.push(Resp { status, head, body });
        bytes = rest;
    }
    out
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The `path` an echo upstream reported in a response body.
fn echoed_path(resp: &Resp) -> String {
    let v: serde_json::Value = serde_json::from_slice(&resp.body)
        .unwrap_or_else(|e| panic!("not an echo body ({e}): {:?}", lossy(&resp.body)));
    v["path"].as_str().expect("echo path").to_owned()
}

/// `answer` starts with a `status` answer and the connection closed after it.
fn assert_closed_after(answer: &Answer, status: u16) {
    assert_eq!(status_of(&answer.bytes), Some(status), "{}", answer.text());
    assert!(answer.closed, "connection left open after {status}");
}

/// Writes `raw`, less than a whole request (the server must answer
/// without waiting for the rest), and expects a `status` answer, the
/// connection closed, and nothing at the upstream.
fn assert_answered_early(raw: &[u8], status: u16) {
    let s = Setup::new();
    let mut stream = connect(s.addr());
    stream.write_all(raw).expect("write");
    let answer = read_to_eof(&mut stream, READ_BOUND);
    assert_closed_after(&answer, status);
    assert!(s.upstream_paths().is_empty());
}

/// Sends `raw`, expects exactly `status` as the only answer, the connection
/// closed afterwards, and nothing at the upstream.
fn assert_rejected(raw: &[u8], status: u16) {
    let s = Setup::new();
    let answer = send(s.addr(), raw);
    assert_eq!(
        status_of(&answer.bytes),
        Some(status),
        "request {:?} got {:?}",
        lossy(raw),
        answer.text()
    );
    let responses = split_responses(&answer.bytes);
    assert_eq!(
        responses.len(),
        1,
        "more than one answer to {:?}: {:?}",
        lossy(raw),
        answer.text()
    );
    assert!(
        responses[0].head.contains("connection: close"),
        "error answer without `Connection: close`: {:?}",
        answer.text()
    );
    assert!(
        answer.closed,
        "connection still open {READ_BOUND:?} after answering {status} to {:?}",
        lossy(raw)
    );
    assert_eq!(
        s.upstream_paths(),
        Vec::<String>::new(),
        "the upstream received something for {:?}",
        lossy(raw)
    );
}

/// A complete second request hidden in the body of a rejected one: if
/// tollgate ever used the "wrong" framing, the upstream would see it.
const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";

macro_rules! rejected {
    ($($(#[$attr:meta])* $name:ident: $raw:expr => $status:expr;)*) => {
        $(
            $(#[$attr])*
            #[test]
            fn $name() {
                let raw: Vec<u8> = $raw.into();
                assert_rejected(&raw, $status);
            }
        )*
    };
}

fn post(fields: &str, body: &str) -> Vec<u8> {
    format!("POST /x HTTP/1.1\r\nHost: a\r\n{fields}\r\n{body}").into_bytes()
}

// ---------------------------------------------------------------------------
// Message framing: Content-Length / Transfer-Encoding ambiguity.

rejected! {
    cl_and_te_together:
        post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", &format!("0\r\n\r\n{SMUGGLED}")) => 400;
    te_and_cl_together_te_first:
        post("Transfer-Encoding: chunked\r\nContent-Length: 40\r\n", &format!("0\r\n\r\n{SMUGGLED}")) => 400;
    cl_duplicate_lines_differ:
        post("Content-Length: 5\r\nContent-Length: 6\r\n", &format!("hello!{SMUGGLED}")) => 400;
    cl_list_differs:
        post("Content-Length: 5, 6\r\n", &format!("hello!{SMUGGLED}")) => 400;
    cl_plus_sign:
        post("Content-Length: +5\r\n", &format!("hello{SMUGGLED}")) => 400;
    cl_negative:
        post("Content-Length: -1\r\n", SMUGGLED) => 400;
    cl_hex:
        post("Content-Length: 0x5\r\n", &format!("hello{SMUGGLED}")) => 400;
    cl_inner_space:
        post("Content-Length: 5 5\r\n", &format!("hello{SMUGGLED}")) => 400;
    cl_empty:
        post("Content-Length: \r\n", SMUGGLED) => 400;
    cl_overflows_u64:
        post("Content-Length: 99999999999999999999999\r\n", SMUGGLED) => 400;
    te_gzip_then_chunked_is_not_implemented:
        post("Transfer-Encoding: gzip, chunked\r\n", &format!("0\r\n\r\n{SMUGGLED}")) => 501;
    te_chunked_twice:
        post("Transfer-Encoding: chunked, chunked\r\n", &format!("0\r\n\r\n{SMUGGLED}")) => 400;
    te_chunked_twice_on_two_lines:
        post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", &format!("0\r\n\r\n{SMUGGLED}")) => 400;
    te_identity:
        post("Transfer-Encoding: identity\r\n", &format!("0\r\n\r\n{SMUGGLED}")) => 400;
    te_chunked_then_gzip:
        post("Transfer-Encoding: chunked, gzip\r\n", &format!("0\r\n\r\n{SMUGGLED}")) => 400;
    te_not_a_token:
        post("Transfer-Encoding: \"chunked\"\r\n", &format!("0\r\n\r\n{SMUGGLED}")) => 400;
    te_misspelt:
        post("Transfer-Encoding: xchunked\r\n", &format!("0\r\n\r\n{SMUGGLED}")) => 400;
    te_on_http10:
        format!("POST /x HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{SMUGGLED}") => 400;
    te_with_vertical_tab:
        post("Transfer-Encoding: \x0bchunked\r\n", &format!("0\r\n\r\n{SMUGGLED}")) => 400;
}

// ---------------------------------------------------------------------------
// Chunked body framing errors (the head is fine, the body is not).

fn chunked(body: &str) -> Vec<u8> {
    post(
        "Transfer-Encoding: chunked\r\n",
        &format!("{body}{SMUGGLED}"),
    )
}

rejected! {
    chunk_size_not_hex: chunked("zz\r\nhello\r\n0\r\n\r\n") => 400;
    chunk_size_empty: chunked("\r\nhello\r\n0\r\n\r\n") => 400;
    chunk_size_17_hex_digits: chunked("00000000000000005\r\nhello\r\n0\r\n\r\n") => 400;
    chunk_size_not_below_2_pow_63: chunked("8000000000000000\r\nhello\r\n0\r\n\r\n") => 400;
    chunk_size_trailing_space: chunked("5 \r\nhello\r\n0\r\n\r\n") => 400;
    chunk_size_negative: chunked("-5\r\nhello\r\n0\r\n\r\n") => 400;
    chunk_size_bare_lf: chunked("5\nhello\r\n0\r\n\r\n") => 400;
    chunk_data_missing_crlf: chunked("5\r\nhelloXX\r\n0\r\n\r\n") => 400;
    chunk_data_bare_lf: chunked("5\r\nhello\n0\r\n\r\n") => 400;
}

// ---------------------------------------------------------------------------
// Header section and request line syntax.

fn get_with(fields: &str) -> Vec<u8> {
    format!("GET / HTTP/1.1\r\nHost: a\r\n{fields}\r\n").into_bytes()
}

rejected! {
    obs_fold: get_with("X-A: a\r\n b\r\n") => 400;
    obs_fold_with_tab: get_with("X-A: a\r\n\tb\r\n") => 400;
    bare_cr_in_header_value: get_with("X-A: a\rb\r\n") => 400;
    bare_cr_line_ending: get_with("X-A: a\rX-B: b\r\n") => 400;
    bare_lf_line_endings: &b"GET / HTTP/1.1\nHost: a\n\n"[..] => 400;
    bare_lf_after_one_header: &b"GET / HTTP/1.1\r\nHost: a\nX-A: b\r\n\r\n"[..] => 400;
    whitespace_before_colon: &b"GET / HTTP/1.1\r\nHost : a\r\n\r\n"[..] => 400;
    tab_before_colon: get_with("Transfer-Encoding\t: chunked\r\n") => 400;
    nul_in_header_value: get_with("X-A: a\0b\r\n") => 400;
    del_in_header_value: get_with("X-A: a\x7fb\r\n") => 400;
    empty_header_name: get_with(": a\r\n") => 400;
    request_line_two_spaces: &b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n"[..] => 400;
    request_line_tab: &b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"[..] => 400;
    request_line_trailing_space: &b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n"[..] => 400;
    method_with_invalid_chars: &b"G(E)T / HTTP/1.1\r\nHost: a\r\n\r\n"[..] => 400;
    method_with_non_ascii: &b"G\xc3\x89T / HTTP/1.1\r\nHost: a\r\n\r\n"[..] => 400;
    target_with_space: &b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"[..] => 400;
    target_with_fragment: &b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n"[..] => 400;
    absolute_target_with_userinfo: &b"GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n"[..] => 400;
    missing_host_on_http11: &b"GET / HTTP/1.1\r\nX-A: a\r\n\r\n"[..] => 400;
    two_host_headers: &b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"[..] => 400;
    two_identical_host_headers: &b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"[..] => 400;
    host_with_space: &b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n"[..] => 400;
    host_with_userinfo: &b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"[..] => 400;
    lowercase_http_version: &b"GET / http/1.1\r\nHost: a\r\n\r\n"[..] => 400;
    http_1_2_is_not_supported: &b"GET / HTTP/1.2\r\nHost: a\r\n\r\n"[..] => 505;
    http_2_0_request_line_is_not_supported: &b"GET / HTTP/2.0\r\nHost: a\r\n\r\n"[..] => 505;
    http_3_0_is_not_supported: &b"GET / HTTP/3.0\r\nHost: a\r\n\r\n"[..] => 505;
    unsupported_expectation: get_with("Expect: 200-ok\r\n") => 417;
}

// ---------------------------------------------------------------------------
// Limits from the listener's `limits` and the route's `max_body`.

#[test]
fn head_over_max_header_bytes_is_431() {
    let big = "v".repeat(3000);
    assert_rejected(&get_with(&format!("X-Big: {big}\r\n")), 431);
}

#[test]
fn head_over_max_header_bytes_without_end_is_431() {
    // The head never ends: the limit must trigger on the buffered bytes alone.
    let s = Setup::new();
    let mut raw = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    for i in 0..200 {
        raw.extend_from_slice(format!("X-F{i}: 0123456789\r\n").as_bytes());
    }
    let answer = send(s.addr(), &raw);
    assert_closed_after(&answer, 431);
    assert!(s.upstream_paths().is_empty());
}

#[test]
fn more_than_max_headers_is_431() {
    let fields: String = (0..25).map(|i| format!("X-F{i}: {i}\r\n")).collect();
    assert_rejected(&get_with(&fields), 431);
}

#[test]
fn exactly_max_headers_is_accepted() {
    let s = Setup::new();
    // Host + Connection + 18 more = 20 = max_headers.
    let fields: String = (0..18).map(|i| format!("X-F{i}: {i}\r\n")).collect();
    let raw = format!("GET /ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n{fields}\r\n");
    let answer = send(s.addr(), raw.as_bytes());
    assert_closed_after(&answer, 200);
}

#[test]
fn uri_over_max_uri_length_is_414() {
    let path = format!("/{}", "a".repeat(300));
    assert_rejected(
        format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes(),
        414,
    );
}

#[test]
fn uri_over_max_uri_length_is_414_before_the_line_ends() {
    assert_answered_early(format!("GET /{}", "a".repeat(400)).as_bytes(), 414);
}

#[test]
fn content_length_over_max_body_is_413_without_reading_the_body() {
    // Only the head: the 413 must come without waiting for the 2 KiB body.
    assert_answered_early(
        b"POST /small/upload HTTP/1.1\r\nHost: a\r\nContent-Length: 2048\r\n\r\n",
        413,
    );
}

#[test]
fn content_length_over_max_body_with_expect_gets_413_not_100() {
    assert_answered_early(
        b"POST /small/upload HTTP/1.1\r\nHost: a\r\nContent-Length: 2048\r\n\
          Expect: 100-continue\r\n\r\n",
        413,
    );
}

#[test]
fn chunked_body_over_max_body_is_413_mid_stream() {
    let s = Setup::new();
    let mut stream = connect(s.addr());
    stream
        .write_all(b"POST /small/upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        .expect("write head");
    // 4 x 512 bytes = 2 KiB, one chunk at a time; stop writing once tollgate
    // has answered (writes may then fail).
    let chunk = format!("200\r\n{}\r\n", "x".repeat(512));
    let mut answer = Answer {
        bytes: Vec::new(),
        closed: false,
    };
    for _ in 0..4 {
        if stream.write_all(chunk.as_bytes()).is_err() {
            break;
        }
        answer = read_to_eof(&mut stream, Duration::from_millis(200));
        if !answer.bytes.is_empty() || answer.closed {
            break;
        }
    }
    if answer.bytes.is_empty() && !answer.closed {
        let _ = stream.write_all(b"0\r\n\r\n");
        answer = read_to_eof(&mut stream, READ_BOUND);
    } else if !answer.closed {
        let more = read_to_eof(&mut stream, READ_BOUND);
        answer.bytes.extend_from_slice(&more.bytes);
        answer.closed = more.closed;
    }
    assert_closed_after(&answer, 413);
    thread::sleep(SETTLE);
    for r in s.up.requests() {
        assert!(
            r.body.len() < 2048,
            "the upstream got the complete over-limit body"
        );
    }
}

#[test]
fn body_within_max_body_is_forwarded() {
    // Control for the two 413 tests: the same route accepts 1 KiB.
    let s = Setup::new();
    let body = "y".repeat(1024);
    let raw = format!(
        "POST /small/upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1024\r\nConnection: close\r\n\r\n{body}"
    );
    let answer = send(s.addr(), raw.as_bytes());
    assert_closed_after(&answer, 200);
    assert_eq!(s.up.last_request().body.len(), 1024);
}

// ---------------------------------------------------------------------------
// Slow and idle clients.

#[test]
fn slowloris_head_is_cut_off() {
    // header_read_timeout is 500ms; one byte every 100ms of a head that would
    // take 6s to arrive. Every single read is quick, so only a deadline on
    // the whole head stops it.
    let s = Setup::new();
    let head = b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut stream = connect(s.addr());
    let start = Instant::now();
    let mut answer = Answer {
        bytes: Vec::new(),
        closed: false,
    };
    for &b in head.iter() {
        let _ = stream.write_all(&[b]);
        let part = read_to_eof(&mut stream, Duration::from_millis(100));
        answer.bytes.extend_from_slice(&part.bytes);
        if part.closed {
            answer.closed = true;
            break;
        }
        assert!(
            start.elapsed() < READ_BOUND,
            "still open after {READ_BOUND:?}"
        );
    }
    let elapsed = start.elapsed();
    assert!(
        answer.closed,
        "the whole slow head was accepted ({elapsed:?}): {}",
        answer.text()
    );
    assert!(
        elapsed < Duration::from_millis(2500),
        "cut off only after {elapsed:?}"
    );
    assert!(
        answer.bytes.is_empty() || status_of(&answer.bytes) == Some(408),
        "expected 408 or a plain close, got {:?}",
        answer.text()
    );
    assert!(s.upstream_paths().is_empty());
}

#[test]
fn silent_connection_is_closed() {
    let s = Setup::new();
    let mut stream = connect(s.addr());
    let start = Instant::now();
    let answer = read_to_eof(&mut stream, READ_BOUND);
    assert!(
        answer.closed,
        "a connection that never sent a byte stayed open"
    );
    assert!(
        start.elapsed() < Duration::from_millis(2500),
        "closed only after {:?}",
        start.elapsed()
    );
    assert!(
        answer.bytes.is_empty() || status_of(&answer.bytes) == Some(408),
        "{}",
        answer.text()
    );
}

#[test]
fn idle_keepalive_connection_is_closed_after_keepalive_timeout() {
    let s = Setup::new();
    let mut stream = connect(s.addr());
    let one = b"GET /one HTTP/1.1\r\nHost: a\r\n\r\n";
    stream.write_all(one).expect("write");
    let first = read_to_eof(&mut stream, Duration::from_millis(300));
    assert!(!first.closed, "closed after a keep-alive request");
    assert_eq!(status_of(&first.bytes), Some(200), "{}", first.text());

    // Still usable well within keepalive_timeout (1s)...
    thread::sleep(Duration::from_millis(300));
    stream
        .write_all(b"GET /two HTTP/1.1\r\nHost: a\r\n\r\n")
        .expect("write");
    let second = read_to_eof(&mut stream, Duration::from_millis(300));
    assert!(!second.closed, "closed before keepalive_timeout");
    assert_eq!(status_of(&second.bytes), Some(200), "{}", second.text());

    // ...and closed, without an answer, once idle for longer than it.
    let idle_since = Instant::now();
    let rest = read_to_eof(&mut stream, READ_BOUND);
    let idle = idle_since.elapsed() + Duration::from_millis(300);
    assert!(rest.closed, "idle connection still open after {idle:?}");
    assert!(rest.bytes.is_empty(), "unexpected bytes: {}", rest.text());
    assert!(
        idle >= Duration::from_millis(800) && idle < Duration::from_millis(2500),
        "closed after {idle:?} idle, keepalive_timeout is 1s"
    );
}

// ---------------------------------------------------------------------------
// Pipelining.

#[test]
fn pipelined_requests_are_answered_in_order() {
    let s = Setup::new();
    let raw = b"GET /first HTTP/1.1\r\nHost: a\r\n\r\n\
                POST /second HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc\
                GET /third HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    let answer = send(s.addr(), raw);
    assert!(answer.closed, "not closed after `Connection: close`");
    let responses = split_responses(&answer.bytes);
    let got: Vec<(u16, String)> = responses
        .iter()
        .map(|r| (r.status, echoed_path(r)))
        .collect();
    assert_eq!(
        got,
        vec![
            (200, "/first".to_owned()),
            (200, "/second".to_owned()),
            (200, "/third".to_owned())
        ]
    );
    assert_eq!(s.upstream_paths(), ["/first", "/second", "/third"]);
    assert_eq!(s.up.requests()[1].body.as_ref(), b"abc");
}

#[test]
fn pipelined_heads_longer_than_the_first_read_buffer_are_answered_whole() {
    // The client read buffer starts at 1 KiB: heads of 1.2–1.9 KiB, many
    // in one write, must grow and reclaim it without losing a byte.
    let s = Setup::new();
    let mut raw = Vec::new();
    let mut sent = Vec::new();
    for i in 0..24 {
        let value = format!("{i}-{}", "x".repeat(1200 + i * 30));
        let close = if i == 23 { "Connection: close\r\n" } else { "" };
        raw.extend_from_slice(
            format!("GET /p{i} HTTP/1.1\r\nHost: a\r\nX-Long: {value}\r\n{close}\r\n").as_bytes(),
        );
        sent.push(value);
    }
    let answer = send(s.addr(), &raw);
    assert!(answer.closed, "not closed after `Connection: close`");
    let responses = split_responses(&answer.bytes);
    assert_eq!(responses.len(), 24, "{}", answer.text());
    assert!(responses.iter().all(|r| r.status == 200));
    let requests = s.up.requests();
    let got: Vec<String> = requests
        .iter()
        .map(|r| {
            r.headers
                .get("x-long")
                .map(|v| v.to_str().unwrap_or("").to_owned())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(got, sent);
}

/// A valid request, then a smuggling attempt, in one write: the first is
/// answered 200, the second 400, the connection closes, and the upstream
/// saw only the first.
fn assert_pipelined_smuggling_rejected(attempt: &str, status: u16) {
    let s = Setup::new();
    let raw = format!("GET /first HTTP/1.1\r\nHost: a\r\n\r\n{attempt}{SMUGGLED}");
    let answer = send(s.addr(), raw.as_bytes());
    let responses = split_responses(&answer.bytes);
    assert_eq!(
        responses.len(),
        2,
        "{attempt:?}: expected two answers, got {:?}",
        answer.text()
    );
    assert_eq!(responses[0].status, 200);
    assert_eq!(echoed_path(&responses[0]), "/first");
    assert_eq!(
        responses[1].status,
        status,
        "{attempt:?}: {}",
        answer.text()
    );
    assert!(answer.closed, "{attempt:?}: connection left open");
    assert_eq!(s.upstream_paths(), ["/first"], "{attempt:?}");
    assert_eq!(s.up.request_count(), 1);
}

#[test]
fn pipelined_cl_te_smuggling_after_valid_request() {
    assert_pipelined_smuggling_rejected(
        "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    );
}

#[test]
fn pipelined_duplicate_cl_smuggling_after_valid_request() {
    assert_pipelined_smuggling_rejected(
        "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 36\r\n\r\n",
        400,
    );
}

#[test]
fn pipelined_obs_fold_te_smuggling_after_valid_request() {
    assert_pipelined_smuggling_rejected(
        "POST /x HTTP/1.1\r\nHost: a\r\nX-A: a\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    );
}

#[test]
fn pipelined_bad_chunk_after_valid_request() {
    assert_pipelined_smuggling_rejected(
        "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n",
        400,
    );
}

// ---------------------------------------------------------------------------
// Fuzz-ish: random and mutated heads never crash or wedge tollgate.

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const SEEDS: &[&str] = &[
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /p/q?x=1&y=%20 HTTP/1.1\r\nHost: a.example:80\r\nAccept: */*\r\nUser-Agent: fuzz\r\n\r\n",
    "POST /small/up HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
    "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;e=v\r\nabc\r\n0\r\nT: v\r\n\r\n",
    "GET http://a/x?y HTTP/1.1\r\nHost: b\r\nConnection: keep-alive, x-h\r\nX-H: 1\r\n\r\n",
    "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "PUT /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
    "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    "HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
];

const INTERESTING_BYTES: &[u8] = b"\r\n \t:;,\"\0\x7f\xff\x0b-+0123456789abcdefxX/?#%@*";

const INTERESTING_LINES: &[&str] = &[
    "Transfer-Encoding: chunked\r\n",
    "Transfer-Encoding: gzip, chunked\r\n",
    "Content-Length: 5\r\n",
    "Content-Length: -1\r\n",
    "Content-Length: 18446744073709551616\r\n",
    "Host: x\r\n",
    "Host: \r\n",
    " folded\r\n",
    "Connection: close\r\n",
    "Expect: 100-continue\r\n",
    "X: \x01\r\n",
    "\r\n",
    "\n",
];

fn mutate(rng: &mut XorShift, v: &mut Vec<u8>) {
    let i = rng.below(v.len() + 1);
    match rng.below(9) {
        0 if i < v.len() => v[i] = rng.next() as u8,
        1 if i < v.len() => v[i] = *rng.pick(INTERESTING_BYTES),
        2 => v.insert(i, *rng.pick(INTERESTING_BYTES)),
        3 if i < v.len() => {
            let n = rng.below(8).min(v.len() - i);
            v.drain(i..i + n);
        }
        4 => {
            // Insert a whole line at a line start.
            let at = v[..i]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
            let line = rng.pick(INTERESTING_LINES).as_bytes().to_vec();
            v.splice(at..at, line);
        }
        5 => v.truncate(i),
        6 => {
            // CRLF -> LF somewhere.
            if let Some(p) = find(&v[i.min(v.len())..], b"\r\n") {
                v.remove(i + p);
            }
        }
        7 if i < v.len() => {
            // Repeat a slice (bounded growth).
            let n = rng.below(64).min(v.len() - i);
            let piece = v[i..i + n].repeat(1 + rng.below(4));
            v.splice(i..i, piece);
        }
        _ => {
            let seed = rng.pick(SEEDS).as_bytes();
            v.extend_from_slice(seed);
        }
    }
}

fn fuzz_case(rng: &mut XorShift) -> Vec<u8> {
    match rng.below(10) {
        0 => (0..rng.below(300)).map(|_| rng.next() as u8).collect(),
        1 => (0..rng.below(300))
            .map(|_| *rng.pick(INTERESTING_BYTES))
            .collect(),
        _ => {
            let mut v = rng.pick(SEEDS).as_bytes().to_vec();
            for _ in 0..1 + rng.below(4) {
                mutate(rng, &mut v);
            }
            v
        }
    }
}

/// Sends one case (then half-closes so incomplete input ends at once) and
/// checks the answer: nothing, or starting with a valid HTTP/1.1 status
/// line; and the connection closed within the bound.
fn fuzz_one(addr: SocketAddr, case: &[u8]) -> Result<(), String> {
    let mut stream = connect(addr);
    let _ = stream.write_all(case);
    let _ = stream.shutdown(Shutdown::Write);
    let answer = read_to_eof(&mut stream, READ_BOUND);
    if !answer.bytes.is_empty() && status_of(&answer.bytes).is_none() {
        return Err(format!(
            "invalid answer to {:?}: {:?}",
            lossy(case),
            answer.text()
        ));
    }
    if !answer.closed {
        return Err(format!(
            "connection not closed within {READ_BOUND:?} after {:?} (answer {:?})",
            lossy(case),
            answer.text()
        ));
    }
    Ok(())
}

#[test]
fn fuzzed_heads_never_crash_or_wedge() {
    const CASES: usize = 2000;
    const THREADS: usize = 4;
    let s = Setup::new();
    let addr = s.addr();
    let start = Instant::now();
    let failures: Vec<String> = thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                scope.spawn(move || {
                    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 ^ ((t as u64 + 1) * 0x1234_5678));
                    let mut failures = Vec::new();
                    for _ in 0..CASES / THREADS {
                        let case = fuzz_case(&mut rng);
                        if let Err(e) = fuzz_one(addr, &case) {
                            failures.push(e);
                        }
                    }
                    failures
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("fuzz thread"))
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {CASES} cases failed, first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "fuzz loop took {:?}",
        start.elapsed()
    );
    // tollgate is still alive and answering normally.
    let resp = get(addr, "/after-fuzz");
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.echo().path, "/after-fuzz");
    let answer = send(
        addr,
        b"GET /raw-after-fuzz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert_closed_after(&answer, 200);
}

// ---------------------------------------------------------------------------
// CONNECT: tollgate is a reverse proxy without tunnelling support.

/// A CONNECT must not be relayed as an ordinary request: its authority-form
/// target has no path, and a 2xx answer to CONNECT switches the connection
/// to a tunnel (RFC 9110 §9.3.6), so it may carry no Content-Length and no
/// further HTTP may be parsed after it.
#[test]
fn connect_is_not_relayed_as_an_ordinary_request() {
    let s = Setup::new();
    let answer = send(
        s.addr(),
        b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n\
          GET /after-connect HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    let forwarded: Vec<String> = {
        thread::sleep(SETTLE);
        s.up.requests()
            .into_iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    };
    assert!(
        !forwarded.iter().any(|r| r == "CONNECT /"),
        "CONNECT reached the upstream with an origin-form target: {forwarded:?}"
    );
    let status = status_of(&answer.bytes).expect("a status line");
    if (200..300).contains(&status) {
        let responses = split_responses(&answer.bytes);
        assert!(
            !responses[0].head.contains("content-length")
                && !responses[0].head.contains("transfer-encoding"),
            "2xx to CONNECT with framing fields: {:?}",
            answer.text()
        );
        assert_eq!(
            responses.len(),
            1,
            "HTTP parsed after a 2xx to CONNECT: {:?}",
            answer.text()
        );
    }
    assert!(answer.closed);
}

// ---------------------------------------------------------------------------
// Request-target forms.

/// `GET http://a?b=1` is a valid absolute-form target whose path is empty;
/// in origin-form it must become `/?b=1` (RFC 9112 §3.2.1: an empty path is
/// sent as "/"). Found by the `h1_request` fuzz target's re-encoding check.
#[test]
fn absolute_form_with_empty_path_and_query_is_forwarded_as_origin_form() {
    let s = Setup::new();
    let answer = send(
        s.addr(),
        b"GET http://a?b=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.closed);
    assert_eq!(
        s.upstream_paths(),
        ["/?b=1"],
        "tollgate answered {:?}",
        answer.text()
    );
    assert_eq!(status_of(&answer.bytes), Some(200), "{}", answer.text());
}

#[test]
fn absolute_form_with_empty_path_is_forwarded_as_slash() {
    let s = Setup::new();
    let answer = send(
        s.addr(),
        b"GET http://a HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n",
    );
    assert_closed_after(&answer, 200);
    assert_eq!(s.upstream_paths(), ["/"]);
    // The target's authority wins over Host.
    assert_eq!(s.up.last_request().headers["host"], "a");
}
