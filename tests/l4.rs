//! L4 listeners against real sockets: TCP relays (bulk data, half-close,
//! failover, health, least connections, idle timeout), TLS passthrough by
//! SNI with a hand-built ClientHello, and UDP sessions.

use std::collections::hash_map::DefaultHasher;
use std::hash::Hasher;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use tollgate_net::client_hello::build_client_hello;
use tollgate_testkit::{
    connect, connect_from, read_all, read_line, render, udp_exchange, unused_addr, TcpServer,
    Tollgate, UdpServer,
};

/// tollgate with a `tcp` listener in front of `targets`; `listener` and
/// `upstream` are written into the listener and the upstream.
fn tcp_relay(targets: &[SocketAddr], listener: &str, upstream: &str) -> Tollgate {
    let list: Vec<String> = targets
        .iter()
        .map(|t| format!("{{address: \"{t}\"}}"))
        .collect();
    Tollgate::start_with_defaults(&render(
        r#"
listeners:
  - name: tcp
    address: 127.0.0.1:0
    protocol: tcp
    upstream: pool
{listener}
upstreams:
  - name: pool
    targets: [{targets}]
{upstream}
"#,
        &[
            ("targets", &list.join(", ")),
            ("listener", &listener),
            ("upstream", &upstream),
        ],
    ))
}

/// Waits (polling, at most `limit`) until `done` holds.
fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Reads exactly `n` bytes (5 s limit).
fn read_n(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = vec![0u8; n];
    stream.read_exact(&mut buf).expect("read");
    buf
}

/// Whether the peer closed (or reset) the connection within `limit`
/// without sending anything.
fn closed_without_data(stream: &mut TcpStream, limit: Duration) -> bool {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut b = [0u8; 1];
    match stream.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe),
    }
}

#[test]
fn tcp_relay_carries_100_mb_each_way_byte_for_byte() {
    const BLOCK: usize = 1 << 20;
    const BLOCKS: u64 = 100;
    let echo = TcpServer::echo();
    let tg = tcp_relay(&[echo.addr()], "", "");
    let mut up = connect(tg.addr("tcp"));
    let mut down = up.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        // One pseudo-random block, numbered in each copy so a lost,
        // repeated or reordered block changes the hash.
        let mut block = vec![0u8; BLOCK];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for b in block.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b.copy_from_slice(&x.to_le_bytes()[..b.len()]);
        }
        let mut hash = DefaultHasher::new();
        for i in 0..BLOCKS {
            block[..8].copy_from_slice(&i.to_le_bytes());
            hash.write(&block);
            up.write_all(&block).expect("write");
        }
        up.shutdown(Shutdown::Write).unwrap();
        hash.finish()
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    down.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut hash = DefaultHasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        assert!(Instant::now() < deadline, "100 MB took over 2 minutes");
        let n = down.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        hash.write(&buf[..n]);
        total += n as u64;
    }
    let sent = writer.join().unwrap();
    assert_eq!(total, BLOCKS * BLOCK as u64);
    assert_eq!(hash.finish(), sent);
    // The relay ended with both sides: nothing in flight.
    wait_until(Duration::from_secs(2), "relay end", || {
        tg.in_flight("pool") == [0]
    });
}

#[test]
fn half_close_is_passed_on_and_the_answer_still_arrives() {
    let server = TcpServer::count_then_answer();
    let tg = tcp_relay(&[server.addr()], "", "");
    let mut s = connect(tg.addr("tcp"));
    s.write_all(b"hello world").unwrap();
    // The server answers only once it has seen our FIN.
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut s), b"got 11 bytes");
}

#[test]
fn a_refused_target_is_skipped_for_another() {
    let live = TcpServer::hello();
    let tg = tcp_relay(&[unused_addr(), live.addr()], "", "");
    for _ in 0..6 {
        let mut s = connect(tg.addr("tcp"));
        assert_eq!(read_line(&mut s), live.id());
        s.write_all(b"ping").unwrap();
        assert_eq!(read_n(&mut s, 4), b"ping");
    }
    assert_eq!(live.accepted(), 6);
}

#[test]
fn passive_health_ejects_a_target_whose_connects_fail() {
    let a = TcpServer::hello();
    let b = TcpServer::hello();
    let tg = tcp_relay(
        &[a.addr(), b.addr()],
        "",
        "    health: {passive: {consecutive_failures: 1, eject_for: 30s}}",
    );
    let b_addr = b.addr();
    drop(b);
    // The first connection picked for b fails over to a and ejects b.
    for _ in 0..2 {
        let mut s = connect(tg.addr("tcp"));
        assert_eq!(read_line(&mut s), a.id());
    }
    // b listens again, but stays out for the ejection: without health
    // round robin would send every other connection there.
    let back = std::net::TcpListener::bind(b_addr).expect("rebind b's port");
    back.set_nonblocking(true).unwrap();
    for _ in 0..6 {
        let mut s = connect(tg.addr("tcp"));
        assert_eq!(read_line(&mut s), a.id());
    }
    assert!(
        matches!(back.accept(), Err(e) if e.kind() == ErrorKind::WouldBlock),
        "b got a connection while ejected"
    );
}

#[test]
fn active_checks_take_a_stopped_target_out_and_no_connection_fails() {
    let a = TcpServer::hello();
    let b = TcpServer::hello();
    let tg = tcp_relay(
        &[a.addr(), b.addr()],
        "",
        "    health: {active: {interval: 100ms, unhealthy: 1, healthy: 1}, when_all_down: fail}",
    );
    drop(b);
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(500) {
        let mut s = connect(tg.addr("tcp"));
        assert_eq!(read_line(&mut s), a.id());
    }
    // With every target down, connections are closed at once.
    drop(a);
    wait_until(Duration::from_secs(3), "all targets out", || {
        let mut s = connect(tg.addr("tcp"));
        closed_without_data(&mut s, Duration::from_secs(1))
    });
}

#[test]
fn least_connections_counts_long_lived_relays() {
    let a = TcpServer::hello();
    let b = TcpServer::hello();
    let tg = tcp_relay(&[a.addr(), b.addr()], "", "    balance: least_connections");
    let mut first = connect(tg.addr("tcp"));
    let mut second = connect(tg.addr("tcp"));
    let ids = [read_line(&mut first), read_line(&mut second)];
    assert_eq!(ids, [a.id(), b.id()]);
    assert_eq!(tg.in_flight("pool"), [1, 1]);
    // b's relay ends; a's stays open.
    drop(second);
    wait_until(Duration::from_secs(2), "b's relay ends", || {
        tg.in_flight("pool") == [1, 0]
    });
    // Fewest connections: b, although round robin's turn is a.
    let mut third = connect(tg.addr("tcp"));
    assert_eq!(read_line(&mut third), b.id());
    assert_eq!(tg.in_flight("pool"), [1, 1]);
    drop((first, third));
    wait_until(Duration::from_secs(2), "every relay ends", || {
        tg.in_flight("pool") == [0, 0]
    });
}

#[test]
fn an_idle_relay_is_closed_after_idle_timeout() {
    let echo = TcpServer::echo();
    let tg = tcp_relay(&[echo.addr()], "    idle_timeout: 300ms", "");
    let mut s = connect(tg.addr("tcp"));
    // Traffic keeps it open past the timeout.
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(100));
        s.write_all(b"x").unwrap();
        assert_eq!(read_n(&mut s, 1), b"x");
    }
    let quiet = Instant::now();
    assert!(closed_without_data(&mut s, Duration::from_secs(3)));
    let waited = quiet.elapsed();
    assert!(
        waited >= Duration::from_millis(280),
        "closed after {waited:?}"
    );
    wait_until(Duration::from_secs(2), "target side closed", || {
        echo.open() == 0
    });
}

#[test]
fn ip_filter_and_per_client_hold_on_a_tcp_listener() {
    let echo = TcpServer::echo();
    let tg = tcp_relay(
        &[echo.addr()],
        "    ip_filter: {deny: [127.0.0.2]}\n    per_client: {max_connections: 1}",
        "",
    );
    let addr = tg.addr("tcp");
    let other: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    // Refused by the filter: closed unread, the target never sees it.
    let mut refused = connect_from(other, addr);
    let _ = refused.write_all(b"x");
    assert!(closed_without_data(&mut refused, Duration::from_secs(3)));
    // One relay per client: a second one from the same address is closed.
    let mut first = connect(addr);
    first.write_all(b"1").unwrap();
    assert_eq!(read_n(&mut first, 1), b"1");
    let mut second = connect(addr);
    let _ = second.write_all(b"2");
    assert!(closed_without_data(&mut second, Duration::from_secs(3)));
    assert_eq!(echo.accepted(), 1);
    // Its place comes back when the first relay ends.
    drop(first);
    wait_until(Duration::from_secs(3), "first relay ends", || {
        tg.in_flight("pool") == [0]
    });
    let mut third = connect(addr);
    third.write_all(b"3").unwrap();
    assert_eq!(read_n(&mut third, 1), b"3");
}

#[test]
fn max_connections_bounds_open_relays() {
    let echo = TcpServer::echo();
    let tg = tcp_relay(&[echo.addr()], "    limits: {max_connections: 1}", "");
    let mut first = connect(tg.addr("tcp"));
    first.write_all(b"1").unwrap();
    assert_eq!(read_n(&mut first, 1), b"1");
    // The second waits in the backlog until the first is gone.
    let mut second = connect(tg.addr("tcp"));
    second.write_all(b"2").unwrap();
    second
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut b = [0u8; 1];
    assert!(
        second.read(&mut b).is_err(),
        "served beyond max_connections"
    );
    drop(first);
    assert_eq!(read_n(&mut second, 1), b"2");
}

/// Sends a ClientHello for `name` in two writes (so tollgate may see it in
/// two reads), expects the target's greeting, then the hello echoed back
/// byte for byte.
fn tls_reaches(addr: SocketAddr, name: Option<&str>, want: &TcpServer) {
    let hello = build_client_hello(name);
    let mut s = connect(addr);
    s.write_all(&hello[..7]).unwrap();
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(5));
    s.write_all(&hello[7..]).unwrap();
    assert_eq!(read_line(&mut s), want.id(), "{name:?}");
    assert_eq!(read_n(&mut s, hello.len()), hello, "{name:?}");
}

#[test]
fn tls_passthrough_routes_by_server_name() {
    let a = TcpServer::hello();
    let b = TcpServer::hello();
    let fallback = TcpServer::hello();
    let tg = Tollgate::start_with_defaults(&render(
        r#"
listeners:
  - name: tls
    address: 127.0.0.1:0
    protocol: tls_passthrough
    sni:
      - {hosts: [a.example.com], upstream: a}
      - {hosts: ["*.b.example.com"], upstream: b}
    upstream: fallback
  - name: strict
    address: 127.0.0.1:0
    protocol: tls_passthrough
    sni: [{hosts: [a.example.com], upstream: a}]
    limits: {header_read_timeout: 300ms}
upstreams:
  - {name: a, targets: [{address: "{a}"}]}
  - {name: b, targets: [{address: "{b}"}]}
  - {name: fallback, targets: [{address: "{f}"}]}
"#,
        &[("a", &a.addr()), ("b", &b.addr()), ("f", &fallback.addr())],
    ));
    let addr = tg.addr("tls");
    tls_reaches(addr, Some("a.example.com"), &a);
    tls_reaches(addr, Some("A.Example.COM"), &a);
    tls_reaches(addr, Some("x.y.b.example.com"), &b);
    tls_reaches(addr, Some("b.example.com"), &fallback);
    tls_reaches(addr, Some("other.example"), &fallback);
    tls_reaches(addr, None, &fallback);
    tls_reaches(tg.addr("strict"), Some("a.example.com"), &a);

    let strict = tg.addr("strict");
    let accepted = a.accepted() + b.accepted() + fallback.accepted();
    // No route and no default; not TLS; nothing sent in time: closed.
    let mut s = connect(strict);
    s.write_all(&build_client_hello(Some("b.example.com")))
        .unwrap();
    assert!(closed_without_data(&mut s, Duration::from_secs(3)));
    let mut s = connect(strict);
    s.write_all(b"GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
        .unwrap();
    assert!(closed_without_data(&mut s, Duration::from_secs(3)));
    let mut s = connect(strict);
    let started = Instant::now();
    assert!(closed_without_data(&mut s, Duration::from_secs(3)));
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(a.accepted() + b.accepted() + fallback.accepted(), accepted);
}

fn udp_client() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").unwrap()
}

/// The target that answered (`addr|payload`), checking the payload.
fn answered_by(answer: Option<String>, payload: &str) -> String {
    let answer = answer.expect("an answer");
    let (who, echoed) = answer.split_once('|').expect("addr|payload");
    assert_eq!(echoed, payload);
    who.to_owned()
}

#[test]
fn udp_sessions_stick_to_a_target_and_expire() {
    let a = UdpServer::echo();
    let b = UdpServer::echo();
    let tg = Tollgate::start_with_defaults(&render(
        r#"
listeners:
  - {name: dns, address: 127.0.0.1:0, protocol: udp, upstream: pool, idle_timeout: 400ms}
upstreams:
  - name: pool
    targets: [{address: "{a}"}, {address: "{b}"}]
"#,
        &[("a", &a.addr()), ("b", &b.addr())],
    ));
    let wait = Duration::from_secs(3);
    let to = tg.addr("dns");
    let one = udp_client();
    let two = udp_client();
    let first = answered_by(udp_exchange(&one, to, b"q1", wait), "q1");
    for q in ["q2", "q3"] {
        assert_eq!(
            answered_by(udp_exchange(&one, to, q.as_bytes(), wait), q),
            first
        );
    }
    // Another client, another session: round robin's next target.
    let other = answered_by(udp_exchange(&two, to, b"x", wait), "x");
    assert_ne!(first, other);
    assert_eq!(first, a.addr().to_string());
    // One connected socket per session.
    assert_eq!(a.sources().len(), 3);
    assert_eq!(a.distinct_sources(), 1);
    assert_eq!(tg.in_flight("pool"), [1, 1]);
    // Sessions expire after 400ms without datagrams.
    let quiet = Instant::now();
    wait_until(wait, "sessions expire", || tg.in_flight("pool") == [0, 0]);
    assert!(quiet.elapsed() >= Duration::from_millis(350));
    // A new session for the same client: a fresh socket towards a.
    let again = answered_by(udp_exchange(&one, to, b"q4", wait), "q4");
    assert_eq!(again, a.addr().to_string());
    assert_eq!(a.distinct_sources(), 2);
}

#[test]
fn udp_sessions_keep_their_generation_and_new_clients_get_the_reloaded_one() {
    let a = UdpServer::echo();
    let b = UdpServer::echo();
    let config = |target: &UdpServer| {
        render(
            r#"
listeners:
  - {name: dns, address: 127.0.0.1:0, protocol: udp, upstream: pool, idle_timeout: 5s}
upstreams:
  - {name: pool, targets: [{address: "{t}"}]}
"#,
            &[("t", &target.addr())],
        )
    };
    let tg = Tollgate::start_with_defaults(&config(&a));
    let wait = Duration::from_secs(3);
    let to = tg.addr("dns");
    let (old, new) = (udp_client(), udp_client());
    assert_eq!(
        answered_by(udp_exchange(&old, to, b"1", wait), "1"),
        a.addr().to_string()
    );
    let summary = tg.reload_with_defaults(&config(&b)).expect("reload");
    assert_eq!(summary.rebuilt, ["pool"]);
    // The open session stays with its target; a new client's session is
    // opened in the new generation.
    assert_eq!(
        answered_by(udp_exchange(&old, to, b"2", wait), "2"),
        a.addr().to_string()
    );
    assert_eq!(
        answered_by(udp_exchange(&new, to, b"3", wait), "3"),
        b.addr().to_string()
    );
}

#[test]
fn ip_filter_drops_a_refused_udp_client() {
    let a = UdpServer::echo();
    let tg = Tollgate::start_with_defaults(&render(
        r#"
listeners:
  - {name: dns, address: 127.0.0.1:0, protocol: udp, upstream: pool, ip_filter: {deny: [127.0.0.2]}}
upstreams:
  - {name: pool, targets: [{address: "{a}"}]}
"#,
        &[("a", &a.addr())],
    ));
    let to = tg.addr("dns");
    let refused = UdpSocket::bind("127.0.0.2:0").unwrap();
    assert_eq!(
        udp_exchange(&refused, to, b"no", Duration::from_millis(300)),
        None
    );
    assert_eq!(tg.in_flight("pool"), [0]);
    let allowed = udp_client();
    assert_eq!(
        answered_by(
            udp_exchange(&allowed, to, b"yes", Duration::from_secs(3)),
            "yes"
        ),
        a.addr().to_string()
    );
    assert_eq!(a.sources().len(), 1);
}

#[test]
fn udp_max_sessions_drops_new_clients() {
    let a = UdpServer::echo();
    let tg = Tollgate::start_with_defaults(&render(
        r#"
listeners:
  - {name: dns, address: 127.0.0.1:0, protocol: udp, upstream: pool, max_sessions: 1, idle_timeout: 300ms}
upstreams:
  - {name: pool, targets: [{address: "{a}"}], balance: ip_hash}
"#,
        &[("a", &a.addr())],
    ));
    let to = tg.addr("dns");
    let (one, two) = (udp_client(), udp_client());
    assert!(udp_exchange(&one, to, b"1", Duration::from_secs(3)).is_some());
    assert_eq!(
        udp_exchange(&two, to, b"2", Duration::from_millis(200)),
        None
    );
    // Once the first session expired, the second client gets one.
    wait_until(Duration::from_secs(3), "first session expires", || {
        tg.in_flight("pool") == [0]
    });
    assert!(udp_exchange(&two, to, b"3", Duration::from_secs(3)).is_some());
}

#[test]
fn shutdown_lets_relays_finish() {
    let server = TcpServer::count_then_answer();
    let tg = tcp_relay(&[server.addr()], "", "");
    let mut s = connect(tg.addr("tcp"));
    s.write_all(b"before shutdown").unwrap();
    wait_until(Duration::from_secs(2), "relay open", || server.open() == 1);
    let addr = tg.addr("tcp");
    let stopping = std::thread::spawn(move || tg.shutdown());
    // New connections are refused once the listener is gone...
    wait_until(Duration::from_secs(3), "listener closed", || {
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err()
    });
    // ... while the open relay still carries the answer.
    s.write_all(b"!").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut s), b"got 16 bytes");
    stopping.join().unwrap();
}

#[test]
fn udp_target_that_refuses_is_ejected() {
    let dead = {
        let s = udp_client();
        s.local_addr().unwrap()
    };
    let live = UdpServer::echo();
    let tg = Tollgate::start_with_defaults(&render(
        r#"
listeners:
  - {name: dns, address: 127.0.0.1:0, protocol: udp, upstream: pool, idle_timeout: 500ms}
upstreams:
  - name: pool
    targets: [{address: "{dead}"}, {address: "{live}"}]
    health: {passive: {consecutive_failures: 1, eject_for: 30s}}
"#,
        &[("dead", &dead), ("live", &live.addr())],
    ));
    let to = tg.addr("dns");
    let client = udp_client();
    // The first session goes to the dead port: its ICMP port unreachable
    // ends the session and ejects the target; a retry lands on the live one.
    assert_eq!(
        udp_exchange(&client, to, b"1", Duration::from_millis(300)),
        None
    );
    wait_until(Duration::from_secs(3), "dead session ends", || {
        tg.in_flight("pool") == [0, 0]
    });
    for q in ["2", "3", "4"] {
        let who = answered_by(
            udp_exchange(&client, to, q.as_bytes(), Duration::from_secs(3)),
            q,
        );
        assert_eq!(who, live.addr().to_string());
    }
}

/// A second tollgate in this process asking for the TCP and UDP ports the
/// first one holds fails with "address already in use" naming the listener,
/// instead of joining the first one's SO_REUSEPORT groups.
#[test]
fn l4_ports_in_use_are_refused() {
    let target = TcpServer::echo();
    let config = |tcp: &str, udp: &str| {
        render(
            r#"
server: {workers: 2, shutdown_timeout: 5s}
access_log: {output: off}
listeners:
  - {name: tcp, address: "{tcp}", protocol: tcp, upstream: pool}
  - {name: dns, address: "{udp}", protocol: udp, upstream: pool}
upstreams:
  - {name: pool, targets: [{address: "{target}"}]}
"#,
            &[("tcp", &tcp), ("udp", &udp), ("target", &target.addr())],
        )
    };
    let first = Tollgate::start(&config("127.0.0.1:0", "127.0.0.1:0"));
    let (tcp, udp) = (first.addr("tcp"), first.addr("dns"));
    let free = unused_addr();
    for (yaml, listener) in [
        (config(&tcp.to_string(), "127.0.0.1:0"), "tcp"),
        (config(&free.to_string(), &udp.to_string()), "dns"),
    ] {
        let err = Tollgate::try_start(&yaml).expect_err("second start on a port in use");
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
        let text = err.to_string();
        assert!(
            text.contains(&format!("listener {listener} on")) && text.contains("already in use"),
            "{text}"
        );
    }
}

#[test]
fn udp_sessions_and_datagrams_are_counted() {
    let a = UdpServer::echo();
    let tg = Tollgate::start_with_defaults(&render(
        r#"
listeners:
  - {name: dns, address: 127.0.0.1:0, protocol: udp, upstream: pool, idle_timeout: 400ms}
upstreams:
  - name: pool
    targets: [{address: "{a}"}]
"#,
        &[("a", &a.addr())],
    ));
    let wait = Duration::from_secs(3);
    let to = tg.addr("dns");
    let (one, two) = (udp_client(), udp_client());
    for q in ["q1", "q2", "q3"] {
        answered_by(udp_exchange(&one, to, q.as_bytes(), wait), q);
    }
    answered_by(udp_exchange(&two, to, b"x", wait), "x");
    assert_eq!(tg.counter("tollgate_udp_sessions_opened"), Some(2));
    assert_eq!(tg.gauge("tollgate_udp_sessions_active"), Some(2.0));
    // Datagrams and bytes are added when a session ends (idle: 400ms).
    assert_eq!(tg.counter("tollgate_udp_received_datagrams"), Some(0));
    wait_until(wait, "sessions end", || {
        tg.gauge("tollgate_udp_sessions_active") == Some(0.0)
    });
    assert_eq!(tg.counter("tollgate_udp_received_datagrams"), Some(4));
    assert_eq!(tg.counter("tollgate_udp_sent_datagrams"), Some(4));
    assert_eq!(tg.counter("tollgate_l4_connections"), Some(2));
    // "q1".."q3" and "x" in; each echo is `addr|payload` out.
    assert_eq!(tg.counter("tollgate_l4_received_bytes"), Some(2 * 3 + 1));
    let echo = a.addr().to_string().len() as u64 + 1;
    assert_eq!(
        tg.counter("tollgate_l4_sent_bytes"),
        Some(4 * echo + 2 * 3 + 1)
    );
}
