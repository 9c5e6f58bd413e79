//! Replacing the running binary without dropping a connection (SIGUSR2 and
//! `tollgate upgrade`), a new binary that fails to start, reloads under
//! load, and systemd: socket activation (`LISTEN_FDS`) and readiness
//! (`NOTIFY_SOCKET`). The binary runs as a child process; the new process
//! an upgrade starts is its child, so each test stops it by pid.

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant};

use std::io::{Read, Write};

use tollgate_testkit::{
    get, read_line, render, udp_exchange, LoadLoop, TcpServer, TempDir, TollgateProcess, UdpServer,
    Upstream,
};

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");

/// Generous: the machine running the tests may be loaded.
const WAIT: Duration = Duration::from_secs(60);

fn config(up: &Upstream, other: &str) -> String {
    render(
        r#"
server: {workers: 2, shutdown_timeout: 5s}
access_log: {output: off}
admin: {address: 127.0.0.1:0}
listeners: [{name: web, address: 127.0.0.1:0}]
upstreams:
  - name: app
    targets: [{address: "{up}"}]
    health: {active: {path: /, interval: 1s}}
routes:
  - {name: api, match: {path: {prefix: /api}}, upstream: app}
  - {name: other, match: {path: {prefix: /other}}, respond: {body: "{other}"}}
  - {name: home, respond: {status: 200, body: hello}}
"#,
        &[("up", &up.addr()), ("other", &other)],
    )
}

/// Sends SIGTERM to a pid when dropped: the process an upgrade started is
/// not the test's child, and must not outlive the test.
struct StopOnDrop(u64);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.to_string()])
            .status();
    }
}

/// The pid `/status` reports.
fn serving_pid(admin: std::net::SocketAddr) -> u64 {
    get(admin, "/status").json()["pid"]
        .as_u64()
        .expect("pid in /status")
}

/// Waits until the admin API answers from another pid than `old`.
fn wait_for_new_pid(admin: std::net::SocketAddr, old: u64) -> u64 {
    let deadline = Instant::now() + WAIT;
    loop {
        let pid = serving_pid(admin);
        if pid != old {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "still pid {old} after the upgrade"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the load loop has `more` good answers beyond now.
fn let_load_run(load: &LoadLoop, more: u64) {
    let target = load.ok() + more;
    let deadline = Instant::now() + WAIT;
    while load.ok() < target {
        assert!(Instant::now() < deadline, "the load loop stalled");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigusr2_hands_over_under_load_without_a_failed_request() {
    let up = Upstream::echo();
    let dir = TempDir::new();
    let cfg = dir.write("tollgate.yaml", config(&up, "one"));
    let mut tg = TollgateProcess::start(BIN, &cfg, &[], &["web"]);
    let admin = tg.admin_addr();
    let web = tg.addr("web");
    let old_pid = serving_pid(admin);
    assert_eq!(old_pid, u64::from(tg.pid()));
    // Signal handlers are in place once the start-up lines are out; a
    // little slack so the signal does not race them.
    std::thread::sleep(Duration::from_millis(200));

    let load = LoadLoop::start(web, "/", "hello", 4);
    let_load_run(&load, 200);
    tg.signal("USR2");
    tg.wait_for("this one stops accepting and drains", WAIT);
    let new_pid = wait_for_new_pid(admin, old_pid);
    let _stop_new = StopOnDrop(new_pid);
    let status = tg
        .wait_exit(WAIT)
        .expect("the old process exits after its drain");
    assert!(status.success(), "{status}");
    // The new process alone serves now, on the same port.
    let_load_run(&load, 200);
    let report = load.stop();
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(report.refused, 0, "{report:?}");
    assert!(report.ok > 400, "{report:?}");
    assert_eq!(get(web, "/api/x").status, 200);
    assert_eq!(serving_pid(admin), new_pid);
}

#[test]
fn a_new_binary_that_cannot_start_leaves_the_old_one_serving_and_says_why() {
    let up = Upstream::echo();
    let dir = TempDir::new();
    let good = config(&up, "one");
    let cfg = dir.write("tollgate.yaml", &good);
    let mut tg = TollgateProcess::start(BIN, &cfg, &[], &["web"]);
    let admin = tg.admin_addr();
    let web = tg.addr("web");
    let old_pid = serving_pid(admin);

    // The file turns invalid between the start and the upgrade: the new
    // process stops at its validation and says so to the old one.
    dir.write(
        "tollgate.yaml",
        good.replace("upstream: app}", "upstream: nowhere}"),
    );
    let load = LoadLoop::start(web, "/", "hello", 2);
    let_load_run(&load, 50);
    let out = Command::new(BIN)
        .args(["upgrade", "--admin", &admin.to_string()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("upgrade failed"), "{stderr}");
    assert!(stderr.contains("unknown upstream `nowhere`"), "{stderr}");
    let logged = tg.wait_for("upgrade failed; still serving", WAIT);
    assert!(logged.contains("unknown upstream"), "{logged}");
    let_load_run(&load, 50);
    assert_eq!(serving_pid(admin), old_pid);

    // Fixed again, `tollgate upgrade` hands over and names the new pid.
    dir.write("tollgate.yaml", &good);
    let out = Command::new(BIN)
        .args(["upgrade", "--admin", &admin.to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new_pid = wait_for_new_pid(admin, old_pid);
    let _stop_new = StopOnDrop(new_pid);
    assert!(
        stdout.contains(&format!("pid {new_pid} now serves")),
        "{stdout}"
    );
    assert!(tg.wait_exit(WAIT).is_some(), "the old process exits");
    let_load_run(&load, 50);
    let report = load.stop();
    assert_eq!((report.failed, report.refused), (0, 0), "{report:?}");
}

#[test]
fn twenty_reloads_under_load_fail_no_request() {
    let up = Upstream::echo();
    let dir = TempDir::new();
    let cfg = dir.write("tollgate.yaml", config(&up, "v0"));
    let mut tg = TollgateProcess::start(BIN, &cfg, &[], &["web"]);
    let web = tg.addr("web");
    std::thread::sleep(Duration::from_millis(200));
    let load = LoadLoop::start(web, "/", "hello", 4);
    for i in 1..=20 {
        let_load_run(&load, 20);
        dir.write("tollgate.yaml", config(&up, &format!("v{i}")));
        tg.signal("HUP");
        let line = tg.wait_for("reload applied", WAIT);
        assert!(line.contains("routes changed [other]"), "{line}");
        assert_eq!(get(web, "/other").text(), format!("v{i}"));
    }
    let_load_run(&load, 20);
    let report = load.stop();
    assert_eq!((report.failed, report.refused), (0, 0), "{report:?}");
}

#[test]
fn a_relay_open_across_an_upgrade_gets_the_drain_grace_then_closes() {
    let target = TcpServer::echo();
    let dir = TempDir::new();
    let cfg = dir.write(
        "tollgate.yaml",
        render(
            r#"
server: {workers: 2, shutdown_timeout: 3s}
access_log: {output: off}
admin: {address: 127.0.0.1:0}
listeners:
  - {name: tcp, address: 127.0.0.1:0, protocol: tcp, upstream: pool}
upstreams:
  - {name: pool, targets: [{address: "{target}"}]}
"#,
            &[("target", &target.addr())],
        ),
    );
    let mut tg = TollgateProcess::start(BIN, &cfg, &[], &["tcp"]);
    let admin = tg.admin_addr();
    let old_pid = serving_pid(admin);
    std::thread::sleep(Duration::from_millis(200));
    let mut relay = std::net::TcpStream::connect(tg.addr("tcp")).unwrap();
    relay.write_all(b"before\n").unwrap();
    assert_eq!(read_line(&mut relay), "before");

    tg.signal("USR2");
    tg.wait_for("this one stops accepting and drains", WAIT);
    let new_pid = wait_for_new_pid(admin, old_pid);
    let _stop_new = StopOnDrop(new_pid);
    let handed_over = Instant::now();
    // The old process's relay goes on during the drain; a new connection
    // reaches the new process.
    relay.write_all(b"during\n").unwrap();
    assert_eq!(read_line(&mut relay), "during");
    let mut fresh = std::net::TcpStream::connect(tg.addr("tcp")).unwrap();
    fresh.write_all(b"fresh\n").unwrap();
    assert_eq!(read_line(&mut fresh), "fresh");
    // Past `shutdown_timeout` the old process closes it and exits.
    relay
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut rest = Vec::new();
    let _ = relay.read_to_end(&mut rest);
    assert!(
        handed_over.elapsed() >= Duration::from_secs(2),
        "closed after {:?}, before the grace",
        handed_over.elapsed()
    );
    assert!(tg.wait_exit(WAIT).is_some(), "the old process exits");
    fresh.write_all(b"still\n").unwrap();
    assert_eq!(read_line(&mut fresh), "still");
}

#[test]
fn udp_clients_after_an_upgrade_are_all_answered_by_the_new_process() {
    let target = UdpServer::echo();
    let dir = TempDir::new();
    let cfg = dir.write(
        "tollgate.yaml",
        render(
            r#"
server: {workers: 2, shutdown_timeout: 10s}
access_log: {output: off}
admin: {address: 127.0.0.1:0}
listeners:
  - {name: dns, address: 127.0.0.1:0, protocol: udp, upstream: pool}
upstreams:
  - {name: pool, targets: [{address: "{target}"}]}
"#,
            &[("target", &target.addr())],
        ),
    );
    let mut tg = TollgateProcess::start(BIN, &cfg, &[], &["dns"]);
    let admin = tg.admin_addr();
    let to = tg.addr("dns");
    let old_pid = serving_pid(admin);
    std::thread::sleep(Duration::from_millis(200));
    // A session open on the old process keeps it draining (10 s).
    let early = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    assert!(udp_exchange(&early, to, b"early", Duration::from_secs(5)).is_some());

    tg.signal("USR2");
    tg.wait_for("this one stops accepting and drains", WAIT);
    let _stop_new = StopOnDrop(wait_for_new_pid(admin, old_pid));
    // The old process reads the shared sockets no more: a new client's
    // datagram is never taken (and dropped) by the draining process.
    for i in 0..20 {
        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let q = format!("q{i}");
        let answer = udp_exchange(&client, to, q.as_bytes(), Duration::from_secs(5));
        assert!(answer.is_some(), "no answer to new client {i}");
    }
    assert!(
        tg.wait_exit(Duration::from_millis(10)).is_none(),
        "the old process still drains"
    );
}

/// A launcher that binds `127.0.0.1:PORT`, makes it fd 3, sets
/// `LISTEN_FDS`/`LISTEN_PID` as systemd does, and execs the rest of its
/// arguments (no unsafe `pre_exec` in the test).
const LAUNCHER: &str = r#"
import os, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(128)
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[2], sys.argv[2:])
"#;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn activated(port: u16, cfg: &std::path::Path) -> Command {
    let mut cmd = Command::new("python3");
    cmd.args(["-c", LAUNCHER, &port.to_string(), BIN, "run", "-c"])
        .arg(cfg);
    cmd
}

#[test]
fn a_socket_passed_by_systemd_is_the_listener() {
    let port = free_port();
    let dir = TempDir::new();
    let cfg = dir.write(
        "tollgate.yaml",
        format!(
            "access_log: {{output: off}}\nlisteners: [{{name: web, address: 127.0.0.1:{port}}}]\n\
             routes: [{{name: home, respond: {{body: activated}}}}]\n"
        ),
    );
    // Binding the port itself would fail: fd 3 holds it without
    // SO_REUSEPORT. Serving proves the passed socket is the listener.
    let tg = TollgateProcess::start_command(activated(port, &cfg), &["web"]);
    assert_eq!(tg.addr("web").port(), port);
    assert_eq!(get(tg.addr("web"), "/").text(), "activated");
}

#[test]
fn a_passed_socket_no_listener_is_configured_on_is_refused() {
    let port = free_port();
    let other = free_port();
    let dir = TempDir::new();
    let cfg = dir.write(
        "tollgate.yaml",
        format!(
            "listeners: [{{name: web, address: 127.0.0.1:{other}}}]\n\
             routes: [{{name: home, respond: {{}}}}]\n"
        ),
    );
    let out = activated(port, &cfg).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "systemd passed sockets that no listener is configured on: tcp 127.0.0.1:{port}"
        )),
        "{stderr}"
    );
}

/// The next datagram on `socket` (10 s at most).
fn notification(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 512];
    let n = socket.recv(&mut buf).expect("an sd_notify datagram");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn systemd_hears_ready_reloading_and_stopping() {
    let up = Upstream::echo();
    let dir = TempDir::new();
    let cfg = dir.write("tollgate.yaml", config(&up, "one"));
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "-c"])
        .arg(&cfg)
        .env("NOTIFY_SOCKET", &path);
    let mut tg = TollgateProcess::start_command(cmd, &["web"]);
    let ready = notification(&socket);
    assert_eq!(ready.trim(), "READY=1");
    // READY=1 comes once the listener accepts and the snapshot serves.
    assert_eq!(get(tg.addr("web"), "/").text(), "hello");

    std::thread::sleep(Duration::from_millis(200));
    tg.signal("HUP");
    assert_eq!(notification(&socket).trim(), "RELOADING=1");
    assert_eq!(notification(&socket).trim(), "READY=1");
    tg.signal("TERM");
    assert_eq!(notification(&socket).trim(), "STOPPING=1");
    assert!(tg.wait_exit(WAIT).is_some_and(|s| s.success()));
}
