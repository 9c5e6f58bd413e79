//! [`RedisServer`]: a real `redis-server` of the test's own, on a free
//! loopback port with its own data directory and no persistence, stopped
//! when dropped. Outage tests kill it and start it again on the same port
//! ([`RedisServer::kill`], [`RedisServer::restart`]) or freeze it with
//! SIGSTOP ([`RedisServer::freeze`], [`RedisServer::thaw`]).
//! [`RedisCluster`]: three such servers with `--cluster-enabled yes`,
//! joined by `redis-cli --cluster create`. [`RedisSentinel`]: one
//! sentinel (`redis-server --sentinel`) watching a [`RedisServer`] as
//! master `mymaster`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::TempDir;

/// What a missing `redis-server` tells the person running the tests.
pub const REDIS_INSTALL: &str = "apt-get install -y redis-server";

/// A running `redis-server`, stopped (and its directory removed) on drop.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: TempDir,
    extra: Vec<String>,
}

impl RedisServer {
    /// Starts `redis-server` from PATH on a free port. Panics with the
    /// install line when it is not installed: tests never skip silently.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// [`RedisServer::start`] with more `redis-server` arguments.
    fn start_with(extra: &[&str]) -> Self {
        let port = free_port();
        let mut server = Self {
            child: None,
            port,
            dir: TempDir::tagged("redis"),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        server.restart();
        server
    }

    /// Runs `redis-cli -p <port> ARGS...` and returns its output.
    pub fn cli(&self, args: &[&str]) -> String {
        redis_cli(self.port, args)
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr())
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (after [`RedisServer::kill`]),
    /// and waits until it answers PING (at most 10 s).
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run redis-server ({e}); install it with: {REDIS_INSTALL}")
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.ping(Duration::from_millis(200)) {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing answers.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Lets a frozen server run again (SIGCONT).
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    /// Whether the server answers PING within `timeout`.
    pub fn ping(&self, timeout: Duration) -> bool {
        let Ok(mut s) = TcpStream::connect_timeout(&self.addr(), timeout) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(timeout));
        if s.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut buf = [0u8; 7];
        matches!(s.read_exact(&mut buf), Ok(())) && &buf == b"+PONG\r\n"
    }

    fn signal(&self, sig: &str) {
        let pid = self
            .child
            .as_ref()
            .expect("redis-server is not running")
            .id();
        let ok = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig} {pid} failed");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // A frozen server must run again to die of anything but SIGKILL;
        // SIGKILL works either way.
        self.kill();
    }
}

/// Three cluster-enabled servers joined into one Redis Cluster (no
/// replicas), stopped on drop.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts three nodes and joins them; waits (at most 20 s) until the
    /// cluster reports `cluster_state:ok` on every node.
    pub fn start() -> Self {
        let nodes: Vec<RedisServer> = (0..3)
            .map(|_| RedisServer::start_with(&["--cluster-enabled", "yes"]))
            .collect();
        let addrs: Vec<String> = nodes.iter().map(|n| n.addr().to_string()).collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run redis-cli ({e}); install it with: {REDIS_INSTALL}")
            });
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while !nodes
            .iter()
            .all(|n| n.cli(&["cluster", "info"]).contains("cluster_state:ok"))
        {
            assert!(Instant::now() < deadline, "the cluster did not become ok");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { nodes }
    }

    /// The nodes (to read keys or stop one).
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// `[redis://127.0.0.1:<port>, ...]`, as YAML flow list items.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }
}

/// One sentinel (`redis-server CONF --sentinel`, no separate binary
/// needed) on a free loopback port watching one master as `mymaster`,
/// with its own directory and configuration file; stopped on drop.
#[derive(Debug)]
pub struct RedisSentinel {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl RedisSentinel {
    /// The master's name the sentinel knows.
    pub const MASTER: &'static str = "mymaster";

    /// Starts a sentinel watching `master` and waits (at most 10 s) until
    /// it names the master's address.
    pub fn watching(master: &RedisServer) -> Self {
        let port = free_port();
        let dir = TempDir::tagged("sentinel");
        let conf = dir.path().join("sentinel.conf");
        // The sentinel rewrites its file, so it is its own, in its dir.
        let text = format!(
            "port {port}\nbind 127.0.0.1\ndir {}\nsentinel monitor {} 127.0.0.1 {} 1\nsentinel down-after-milliseconds {} 5000\n",
            dir.path().display(),
            Self::MASTER,
            master.addr().port(),
            Self::MASTER,
        );
        std::fs::write(&conf, text).expect("write sentinel.conf");
        let child = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run redis-server --sentinel ({e}); install it with: {REDIS_INSTALL}")
            });
        let sentinel = Self {
            child,
            port,
            _dir: dir,
        };
        let want = master.addr().port().to_string();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let named = sentinel.cli(&["sentinel", "get-master-addr-by-name", Self::MASTER]);
            if named.lines().any(|l| l.trim() == want) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the sentinel on port {port} did not name the master: {named:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        sentinel
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs `redis-cli -p <port> ARGS...` against the sentinel.
    pub fn cli(&self, args: &[&str]) -> String {
        redis_cli(self.port, args)
    }
}

impl Drop for RedisSentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free now (bound then released; the server binds it next).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("no free loopback port")
        .port()
}

/// Runs `redis-cli -p <port> ARGS...` and returns its output.
fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run redis-cli ({e}); install it with: {REDIS_INSTALL}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_freezes_thaws_kills_and_restarts() {
        let mut r = RedisServer::start();
        assert!(r.ping(Duration::from_secs(2)));
        assert!(r.url().starts_with("redis://127.0.0.1:"));
        r.freeze();
        let t = Instant::now();
        assert!(
            !r.ping(Duration::from_millis(300)),
            "a frozen server answered"
        );
        assert!(t.elapsed() < Duration::from_secs(5));
        r.thaw();
        assert!(r.ping(Duration::from_secs(2)));
        r.kill();
        assert!(!r.ping(Duration::from_millis(300)));
        r.restart();
        assert!(r.ping(Duration::from_secs(2)));
    }
}
