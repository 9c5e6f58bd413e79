//! The `tollgate` binary run as a child process, for tests about what it
//! prints (the event log) and how it answers signals.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Where [`TollgateProcess::admin_addr`] keeps the admin address (not a
/// possible listener name: those cannot contain spaces).
const ADMIN: &str = "admin API";

/// A running `tollgate run -c FILE`: its listener addresses and its stderr
/// lines; killed when dropped.
#[derive(Debug)]
pub struct TollgateProcess {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every stderr line seen so far, in order.
    seen: Vec<String>,
    addrs: HashMap<String, SocketAddr>,
}

impl TollgateProcess {
    /// Starts `bin run -c config` with `env` set, and waits (up to 10 s)
    /// for the start-up lines of `listeners`.
    pub fn start(bin: &str, config: &Path, env: &[(&str, &str)], listeners: &[&str]) -> Self {
        let mut cmd = Command::new(bin);
        cmd.args(["run", "-c"]).arg(config);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Self::start_command(cmd, listeners)
    }

    /// Starts `cmd` (a `tollgate run`, or a launcher that execs one, e.g.
    /// to pass it sockets) with stderr read, and waits (up to 10 s) for the
    /// start-up lines of `listeners`.
    pub fn start_command(mut cmd: Command, listeners: &[&str]) -> Self {
        // The test's own RUST_LOG would change what the process prints,
        // unless the test set one for it.
        if !cmd.get_envs().any(|(k, _)| k == "RUST_LOG") {
            cmd.env_remove("RUST_LOG");
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn tollgate run");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut p = Self {
            child,
            lines,
            seen: Vec::new(),
            addrs: HashMap::new(),
        };
        for name in listeners {
            let prefix = format!("tollgate: listener {name} on ");
            let line = p.wait_for(&prefix, Duration::from_secs(10));
            let url = &line[line.find(&prefix).unwrap_or(0) + prefix.len()..];
            let addr = url.split("://").nth(1).unwrap_or(url).trim();
            p.addrs
                .insert((*name).to_owned(), addr.parse().expect("listener address"));
        }
        p
    }

    /// The address listener `name` is bound to.
    pub fn addr(&self, name: &str) -> SocketAddr {
        self.addrs[name]
    }

    /// The admin API's address, from its start-up line (waited for up to
    /// 10 s; the file must have an `admin:` block).
    pub fn admin_addr(&mut self) -> SocketAddr {
        if let Some(a) = self.addrs.get(ADMIN) {
            return *a;
        }
        // `http://ADDR`, or `https://ADDR` with `admin.tls`.
        let prefix = "tollgate: admin API on ";
        let line = self.wait_for(prefix, Duration::from_secs(10));
        let url = &line[line.find(prefix).unwrap_or(0) + prefix.len()..];
        let addr: SocketAddr = url
            .trim()
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .parse()
            .expect("admin address");
        self.addrs.insert(ADMIN.to_owned(), addr);
        addr
    }

    /// Every stderr line read so far, in order.
    pub fn seen(&self) -> &[String] {
        &self.seen
    }

    /// The process id (for signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`HUP`, `TERM`) through `kill`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits up to `limit` for the process to exit: its status, or `None`
    /// while it still runs.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The first stderr line not returned before that contains `want`,
    /// waiting up to `limit`; panics with every line seen otherwise.
    pub fn wait_for(&mut self, want: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(want) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no stderr line with {want:?} within {limit:?}; lines: {:#?}",
                    self.seen
                ),
            }
        }
    }
}

impl Drop for TollgateProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
