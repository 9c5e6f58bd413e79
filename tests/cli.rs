//! The `tollgate` binary: validate, explain, version, and run + SIGTERM.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tollgate_testkit::get;

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");

/// A config file in the temp dir, removed on drop.
struct TempConfig(PathBuf);

impl TempConfig {
    fn new(text: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path =
            std::env::temp_dir().join(format!("tollgate-cli-{}-{nanos}.yaml", std::process::id()));
        std::fs::write(&path, text).unwrap();
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn tollgate(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run tollgate")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn validate_accepts_every_example() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut checked = 0;
    // The examples and those of one level of subdirectories (cluster/);
    // schemas/ holds the JSON Schema and OpenAPI files examples refer to,
    // not configurations.
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.ends_with("schemas") {
            continue;
        }
        if path.is_dir() {
            paths.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            paths.push(path);
        }
    }
    for path in paths {
        if !matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            continue;
        }
        let out = tollgate(&["validate", "-c", path.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            text(&out.stderr)
        );
        assert!(text(&out.stdout).contains("valid"), "{}", text(&out.stdout));
        checked += 1;
    }
    assert!(checked > 0, "no example configs in {}", dir.display());
}

#[test]
fn validate_lists_every_error_with_its_position() {
    let cfg = TempConfig::new(
        r#"listeners:
  - name: web
    address: 127.0.0.1:0
routes:
  - name: a
    match: {path: {regex: "("}}
    respond: {}
  - name: b
    listeners: [nosuch]
    respond: {status: 999}
  - name: c
    upstream: missing
"#,
    );
    let file = cfg.path().to_str().unwrap();
    let out = tollgate(&["validate", "-c", file]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let expected = [
        (6, "routes[0].match.path.regex"),
        (9, "routes[1].listeners[0]"),
        (10, "routes[1].respond.status"),
        (12, "routes[2].upstream"),
    ];
    for (line, field) in expected {
        let prefix = format!("{file}:{line}:");
        let found = stderr.lines().any(|l| {
            l.strip_prefix(&prefix).is_some_and(|rest| {
                let (col, after) = rest.split_once(':').unwrap_or(("", ""));
                col.parse::<u32>().is_ok() && after.trim_start().starts_with(field)
            })
        });
        assert!(found, "no `{prefix}COL: {field}` line in:\n{stderr}");
    }
    assert!(stderr.contains("4 error(s)"), "{stderr}");
}

#[test]
fn validate_reads_tls_files_and_locates_their_errors() {
    // Relative paths are taken from the configuration file's directory.
    let cfg = TempConfig::new(
        r#"listeners:
  - name: secure
    address: 127.0.0.1:0
    protocol: https
    tls:
      certificates:
        - {cert: no-such-dir/site.pem, key: no-such-dir/site.key}
routes:
  - {name: r, respond: {}}
"#,
    );
    let file = cfg.path().to_str().unwrap();
    let out = tollgate(&["validate", "-c", file]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let dir = cfg.path().parent().unwrap().join("no-such-dir/site.pem");
    let want = format!(
        "{file}:7:18: listeners[0].tls.certificates[0].cert: cannot read `{}`",
        dir.display()
    );
    assert!(
        stderr.contains(&want),
        "{stderr}
should contain
{want}"
    );
    assert!(stderr.contains("1 error(s)"), "{stderr}");
}

#[test]
fn validate_fails_on_a_missing_file() {
    let out = tollgate(&["validate", "-c", "/nonexistent/tollgate.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("/nonexistent/tollgate.yaml"));
}

#[test]
fn explain_names_route_and_target() {
    let cfg = TempConfig::new(
        r#"listeners:
  - {name: web, address: 127.0.0.1:0}
upstreams:
  - {name: app, targets: [{address: "127.0.0.1:9"}]}
routes:
  - {name: api, match: {hosts: [api.example.com], path: {prefix: /api}}, upstream: app, rewrite: {strip_prefix: /api}}
  - {name: home, match: {path: {exact: /}}, respond: {status: 200, body: hi}}
"#,
    );
    let file = cfg.path().to_str().unwrap();
    let out = tollgate(&[
        "explain",
        "-c",
        file,
        "GET",
        "http://api.example.com/api/users",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("=> route api"), "{stdout}");
    assert!(stdout.contains("target: upstream app"), "{stdout}");
    assert!(stdout.contains("by round_robin"), "{stdout}");
    assert!(stdout.contains("127.0.0.1:9"), "{stdout}");
    assert!(stdout.contains("upstream path: /users"), "{stdout}");

    let out = tollgate(&["explain", "-c", file, "-H", "Host: other.test", "GET", "/"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("=> route home"), "{stdout}");
    assert!(stdout.contains("target: respond 200"), "{stdout}");

    let out = tollgate(&["explain", "-c", file, "GET", "http://other.test/nothing"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("no route"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn validate_and_explain_l4_listeners() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tcp.yaml");
    let file = example.to_str().unwrap();
    let out = tollgate(&["validate", "-c", file]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("valid (5 listeners"),
        "{}",
        text(&out.stdout)
    );
    let out = tollgate(&["explain", "-c", file, "GET", "/"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for want in [
        "listener pg (127.0.0.1:5433): tcp relay",
        "upstream postgres [127.0.0.1:5432 (weight 1), 127.0.0.1:5442 (weight 1)] by ip_hash",
        "sni *.apps.example.com =>",
        "no server name, or no match =>",
        "sends a PROXY v2 header",
        "listener dns (127.0.0.1:5353): udp relay",
        "by consistent_hash, hash_on: {client_ip: true}",
        "PROXY header required from 10.0.0.0/8, ::1/128",
        "=> route all",
    ] {
        assert!(stdout.contains(want), "{want:?} in\n{stdout}");
    }
    let out = tollgate(&["explain", "-c", file, "-l", "pg", "GET", "/"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("listener web"));
}

#[test]
fn explain_speaks_the_file_s_keywords_shows_health_and_refused_methods() {
    let cfg = TempConfig::new(
        r#"listeners:
  - {name: web, address: 127.0.0.1:0}
upstreams:
  - name: app
    protocol: h2c
    targets: [{address: "127.0.0.1:9"}]
    health:
      active: {path: /healthz, interval: 2s, timeout: 500ms, healthy: 2, unhealthy: 3, expect: [200, 300-399]}
      passive: {consecutive_failures: 4, eject_for: 10s}
      when_all_down: panic
routes:
  - name: api
    match: {path: {prefix: /api}}
    upstream: app
    max_body: 2MiB
    timeout: 1500ms
    forwarding: {x_forwarded: replace, forwarded: append, via: false, host: {fixed: api.internal}}
  - name: ro
    match: {path: {prefix: /ro}}
    upstream: app
    policies: [{methods: [GET]}]
  - {name: moved, match: {path: {prefix: /old}}, redirect: {to: "https://example.com/new", status: 301}}
  - {name: files, static: {root: /var/www}}
"#,
    );
    let file = cfg.path().to_str().unwrap();
    let out = tollgate(&["explain", "-c", file, "GET", "http://a.test/api/x"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for want in [
        "limits: max_body: 2MiB, timeout: 1500ms",
        "by round_robin, protocol: h2c",
        "health.active: {type: http, method: GET, path: /healthz, expect: [200, 300-399], \
         interval: 2s, jitter: 10%, timeout: 500ms, healthy: 2, unhealthy: 3}",
        "health.passive: {consecutive_failures: 4, eject_for: 10s, max_eject_for: 300s, max_ejected: 50%}",
        "health.when_all_down: panic",
        "forwarding: {x_forwarded: replace, forwarded: append, via: false, host: {fixed: \"api.internal\"}}",
    ] {
        assert!(stdout.contains(want), "{want:?} in\n{stdout}");
    }
    for rust_name in ["Http1", "H2c", "Replace", "Append", "Panic", "x-forwarded"] {
        assert!(!stdout.contains(rust_name), "{rust_name:?} in\n{stdout}");
    }

    // A POST to a static route, or past a methods policy, is refused.
    let out = tollgate(&["explain", "-c", file, "POST", "http://a.test/index.html"]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("=> route files"), "{stdout}");
    assert!(
        stdout.contains("=> 405: static files answer GET and HEAD only, not POST"),
        "{stdout}"
    );
    assert!(
        stdout.contains("target: static: {root: \"/var/www\", index: index.html, listing: false"),
        "{stdout}"
    );
    let out = tollgate(&["explain", "-c", file, "GET", "http://a.test/index.html"]);
    assert!(!text(&out.stdout).contains("405"), "{}", text(&out.stdout));
    let out = tollgate(&["explain", "-c", file, "GET", "http://a.test/old/x"]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "target: redirect: {to: \"https://example.com/new\", status: 301, keep_path: false}"
        ),
        "{stdout}"
    );
    let out = tollgate(&["explain", "-c", file, "DELETE", "http://a.test/ro/x"]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("=> 405: the methods policy refuses DELETE (Allow: GET, HEAD)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("health: none") || stdout.contains("health.active"),
        "{stdout}"
    );
}

#[test]
fn explain_shows_https_redirects() {
    let cfg = TempConfig::new(
        r#"listeners:
  - {name: web, address: 127.0.0.1:0, redirect_https: {port: 8443}}
routes:
  - {name: home, respond: {}}
"#,
    );
    let file = cfg.path().to_str().unwrap();
    let out = tollgate(&["explain", "-c", file, "GET", "http://a.test/x?y=1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("=> redirect_https: 308 to https://a.test:8443/x?y=1"),
        "{stdout}"
    );
    assert!(!stdout.contains("route home"), "{stdout}");

    // The redirect, like the server's, goes to the normalized path; the
    // normalization is shown under the listener it belongs to.
    let out = tollgate(&["explain", "-c", file, "GET", "http://a.test/x/../y?z=1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let listener = stdout.find("listener web").expect("listener line");
    let normalized = stdout.find("normalized path: /y").expect("normalized line");
    assert!(listener < normalized, "{stdout}");
    assert!(
        stdout.contains("=> redirect_https: 308 to https://a.test:8443/y?z=1"),
        "{stdout}"
    );
}

#[test]
fn version_prints_the_version() {
    let out = tollgate(&["version"]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout).trim(),
        format!("tollgate {}", env!("CARGO_PKG_VERSION"))
    );
}

/// Kills the child if the test fails before it exits.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

const RUN_CONFIG: &str = r#"server: {workers: 1, shutdown_timeout: 5s}
access_log: {output: off}
listeners:
  - {name: web, address: 127.0.0.1:0}
routes:
  - {name: hello, respond: {body: "hello from run\n"}}
"#;

/// Starts `tollgate run` on `cfg`; returns the child, its stderr lines, and
/// the address it printed for listener `web`.
fn spawn_run(cfg: &TempConfig) -> (Running, mpsc::Receiver<String>, SocketAddr) {
    let child = Command::new(BIN)
        .args(["run", "-c", cfg.path().to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tollgate run");
    let mut child = Running(child);
    let stderr = child.0.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let prefix = "tollgate: listener web on http://";
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("no listener line on stderr");
        if let Some(addr) = line.strip_prefix(prefix) {
            break addr.trim().parse().expect("listener address");
        }
    };
    (child, rx, addr)
}

/// Sends SIGTERM and waits (up to 10 s) for the exit status.
fn terminate(child: &mut Running) -> ExitStatus {
    let kill = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "tollgate did not exit on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn run_serves_and_exits_cleanly_on_sigterm() {
    let cfg = TempConfig::new(RUN_CONFIG);
    let (mut child, stderr, addr) = spawn_run(&cfg);
    let resp = get(addr, "/");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "hello from run\n");

    // The signal handler is installed just after the startup line (see the
    // ignored test below); give it time so this test checks the drain path.
    std::thread::sleep(Duration::from_millis(200));
    let status = terminate(&mut child);
    assert!(status.success(), "exit status {status}");
    let mut rest = Vec::new();
    while let Ok(line) = stderr.recv_timeout(Duration::from_secs(5)) {
        rest.push(line);
    }
    assert!(
        rest.iter().any(|l| l.contains("shutting down")),
        "stderr after SIGTERM: {rest:?}"
    );
}

#[test]
fn sigterm_right_after_startup_line_exits_cleanly() {
    let cfg = TempConfig::new(RUN_CONFIG);
    for _ in 0..5 {
        let child = Command::new(BIN)
            .args(["run", "-c", cfg.path().to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tollgate run");
        let mut child = Running(child);
        // A shell waiting to send SIGTERM the moment it is told to, so the
        // signal follows the startup line as closely as a supervisor's would.
        let mut killer = Command::new("sh")
            .args(["-c", &format!("read _ && kill -TERM {}", child.0.id())])
            .stdin(Stdio::piped())
            .spawn()
            .expect("spawn sh");
        let mut lines = BufReader::new(child.0.stderr.take().unwrap()).lines();
        let line = lines.next().expect("startup line").expect("stderr");
        assert!(line.starts_with("tollgate: listener web on"), "{line}");
        writeln!(killer.stdin.take().unwrap(), "go").unwrap();
        assert!(killer.wait().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.0.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "tollgate did not exit on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "exit status {status}");
    }
}

/// Sends SIGHUP and waits (up to 10 s) for a stderr line containing `want`.
fn hangup_and_expect(child: &Running, stderr: &mpsc::Receiver<String>, want: &str) -> String {
    let kill = Command::new("kill")
        .args(["-HUP", &child.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = stderr
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no stderr line with {want:?} after SIGHUP"));
        if line.contains(want) {
            return line;
        }
    }
}

#[test]
fn sighup_reloads_the_file_and_a_broken_file_changes_nothing() {
    let cfg = TempConfig::new(RUN_CONFIG);
    let (mut child, stderr, addr) = spawn_run(&cfg);
    assert_eq!(get(addr, "/").text(), "hello from run\n");
    // The signal handlers are in place once the startup line is out; the
    // first reload waits a little so the test does not race them.
    std::thread::sleep(Duration::from_millis(200));

    std::fs::write(
        cfg.path(),
        RUN_CONFIG.replace("routes:", "routes:\n  - {name: bad, upstream: nowhere}"),
    )
    .unwrap();
    // One event line, every error in it (tests/logging.rs has the fields).
    let line = hangup_and_expect(&child, &stderr, "reload refused");
    assert!(line.contains("configuration has errors"), "{line}");
    assert!(line.contains("unknown upstream `nowhere`"), "{line}");
    assert_eq!(get(addr, "/").text(), "hello from run\n");

    std::fs::write(
        cfg.path(),
        RUN_CONFIG.replace("hello from run", "hello after reload"),
    )
    .unwrap();
    hangup_and_expect(&child, &stderr, "reload applied");
    assert_eq!(get(addr, "/").text(), "hello after reload\n");
    assert!(terminate(&mut child).success());
}

/// A connection left lingering after an error answer (the client keeps it
/// open) is not work in flight: SIGTERM ends the process at once instead of
/// waiting out the two-second linger.
#[test]
fn sigterm_does_not_wait_for_a_lingering_connection() {
    let cfg = TempConfig::new(RUN_CONFIG);
    let (mut child, _stderr, addr) = spawn_run(&cfg);
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.write_all(b"NOT HTTP AT ALL\r\n\r\n").unwrap();
    let answer = tollgate_testkit::read_until(&mut stream, b"\r\n\r\n");
    assert!(answer.starts_with(b"HTTP/1.1 400"), "{answer:?}");
    std::thread::sleep(Duration::from_millis(200));
    let asked = Instant::now();
    let status = terminate(&mut child);
    let took = asked.elapsed();
    assert!(status.success(), "exit status {status}");
    // The linger lasts 2 s; an exit bounded by it would take over 1.5 s.
    assert!(
        took < Duration::from_millis(1500),
        "SIGTERM took {took:?} with only a lingering connection open"
    );
    drop(stream);
}

/// A second `tollgate run` on a port the first one listens on fails at once
/// with "address already in use", naming the listener, instead of silently
/// sharing the port through SO_REUSEPORT.
#[test]
fn second_run_on_a_port_in_use_fails() {
    let cfg = TempConfig::new(RUN_CONFIG);
    let (mut first, _stderr, addr) = spawn_run(&cfg);
    let second_cfg = TempConfig::new(&RUN_CONFIG.replace("127.0.0.1:0", &addr.to_string()));
    let second = Command::new(BIN)
        .args(["run", "-c", second_cfg.path().to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tollgate run");
    let mut second = Running(second);
    // Bounded: a second tollgate that did start would serve until killed.
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = second.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "a second tollgate started on a port in use"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut second.0.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "stderr: {err}");
    assert!(
        err.contains("listener web on") && err.contains("address already in use"),
        "{err}"
    );
    // The first keeps every connection.
    for _ in 0..20 {
        assert_eq!(get(addr, "/").status, 200);
    }
    assert!(terminate(&mut first).success());
}
