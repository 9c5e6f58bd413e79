//! Zero-downtime binary upgrade, the running process's side. On SIGUSR2 or
//! `POST /upgrade` it starts the binary again — the path it was started
//! from, resolved when it started (not `/proc/self/exe`, which names the
//! deleted old file once a package upgrade replaced it) — with the same
//! arguments and `TOLLGATE_UPGRADE_SOCKET` naming a Unix socket. The new
//! process connects, takes every listening socket (`tollgate_net::inherit`),
//! builds its snapshot, starts its health checks and workers, and answers
//! `ready PID`; only then does this process stop accepting and drain. Until
//! then both accept from the same kernel queues, so no connection waits for
//! nobody. When the new process fails (its own `failed REASON`, an exit,
//! no answer within [`READY_TIMEOUT`]) this one goes on serving and says why.

pub(crate) mod successor;

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use tollgate_net::inherit::handover::{self, Outgoing};
use tollgate_net::SocketKind;
use tollgate_proxy::RunningServer;

/// The environment variable naming the hand-over socket.
pub(crate) const SOCKET_ENV: &str = "TOLLGATE_UPGRADE_SOCKET";

/// How long the new process may take to connect and say it serves.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a new process that reported a failure may take to exit.
const EXIT_WAIT: Duration = Duration::from_secs(5);

/// How to start this binary again: the program path as it was given at
/// start (made absolute) and the arguments after it.
#[derive(Debug)]
pub(crate) struct Relaunch {
    program: PathBuf,
    args: Vec<OsString>,
}

impl Relaunch {
    /// Captures `argv` now, while the working directory and `PATH` are
    /// those the binary was started with.
    pub(crate) fn capture() -> Self {
        let mut args = std::env::args_os();
        let argv0 = args.next().unwrap_or_default();
        let program = resolve(&argv0)
            .or_else(|| std::env::current_exe().ok())
            .unwrap_or_else(|| PathBuf::from(&argv0));
        Self {
            program,
            args: args.collect(),
        }
    }
}

/// `argv0` as an absolute path: joined to the working directory when it
/// has a slash, else looked up in `PATH`. Symlinks are kept, so a link
/// moved to a new version starts the new version.
fn resolve(argv0: &OsStr) -> Option<PathBuf> {
    let p = Path::new(argv0);
    if p.as_os_str().is_empty() {
        return None;
    }
    if p.components().count() > 1 {
        return std::env::current_dir().ok().map(|d| d.join(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(p))
        .find(|c| c.is_file())
}

/// Runs upgrades one at a time and tells the main loop when one succeeded.
#[derive(Debug)]
pub(crate) struct Upgrader {
    relaunch: Relaunch,
    busy: Mutex<()>,
    /// The admin listener's address and a duplicate of its socket.
    admin: Mutex<Option<(SocketAddr, OwnedFd)>>,
    /// The new process's pid once it serves.
    done: watch::Sender<Option<u32>>,
}

impl Upgrader {
    /// An upgrader that starts `relaunch`.
    pub(crate) fn new(relaunch: Relaunch) -> Self {
        Self {
            relaunch,
            busy: Mutex::new(()),
            admin: Mutex::new(None),
            done: watch::channel(None).0,
        }
    }

    /// Hands the admin listener over too.
    pub(crate) fn set_admin(&self, address: SocketAddr, socket: &std::net::TcpListener) {
        if let Ok(fd) = socket.as_fd().try_clone_to_owned() {
            *self.admin.lock().unwrap_or_else(|p| p.into_inner()) = Some((address, fd));
        }
    }

    /// Changes to `Some(pid)` once a new process serves.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Option<u32>> {
        self.done.subscribe()
    }

    /// Starts the new process, hands it `server`'s sockets and waits until
    /// it serves: its pid, or why it does not (it is stopped then).
    pub(crate) fn upgrade(&self, server: &RunningServer) -> Result<u32, String> {
        let Ok(_one) = self.busy.try_lock() else {
            return Err("an upgrade is already in progress".into());
        };
        if let Some(pid) = *self.done.borrow() {
            return Err(format!(
                "already upgraded to pid {pid}; this process is draining"
            ));
        }
        let admin = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        let mut sockets = server.handover_sockets();
        if let Some((address, fd)) = admin.as_ref() {
            sockets.push((SocketKind::Admin, "", *address, fd.as_fd()));
        }
        tracing::info!(
            program = %self.relaunch.program.display(),
            sockets = sockets.len(),
            "upgrade: starting the new binary"
        );
        let pid = launch(&self.relaunch, &sockets)?;
        self.done.send_replace(Some(pid));
        Ok(pid)
    }
}

/// Removes the hand-over socket's file when the attempt ends.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Starts `relaunch` with the hand-over socket named in its environment.
fn launch(relaunch: &Relaunch, sockets: &[Outgoing<'_>]) -> Result<u32, String> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let path = std::env::temp_dir().join(format!(
        "tollgate-upgrade-{}-{nanos}.sock",
        std::process::id()
    ));
    let listener = UnixListener::bind(&path)
        .map_err(|e| format!("cannot create the hand-over socket {}: {e}", path.display()))?;
    let _remove = RemoveOnDrop(path.clone());
    // Only this user may connect and take the listening sockets.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| listener.set_nonblocking(true))
        .map_err(|e| format!("hand-over socket {}: {e}", path.display()))?;
    let mut child = Command::new(&relaunch.program)
        .args(&relaunch.args)
        .env(SOCKET_ENV, &path)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", relaunch.program.display()))?;
    let pid = child.id();
    match handshake(&listener, &mut child, sockets) {
        Ok(()) => Ok(pid),
        Err(why) => Err(format!(
            "the new process (pid {pid}) {why}{}",
            stop(&mut child)
        )),
    }
}

/// Hands the sockets over and waits for `ready`.
fn handshake(
    listener: &UnixListener,
    child: &mut Child,
    sockets: &[Outgoing<'_>],
) -> Result<(), String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let stream = accept(listener, child, deadline)?;
    stream
        .set_nonblocking(false)
        .and_then(|()| handover::send(&stream, sockets))
        .map_err(|e| format!("did not take the sockets: {e}"))?;
    let left = deadline.saturating_duration_since(Instant::now());
    stream
        .set_read_timeout(Some(left.max(Duration::from_millis(1))))
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    let read = (&stream).read_to_string(&mut answer);
    if let Some(rest) = answer.strip_prefix("failed ") {
        return Err(format!("could not start: {}", rest.trim_end()));
    }
    if answer.starts_with("ready") {
        return Ok(());
    }
    match read {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Err(format!("did not say it serves within {READY_TIMEOUT:?}"))
        }
        _ => Err("exited before it served".into()),
    }
}

/// The new process's connection, unless it exits or the deadline passes.
fn accept(
    listener: &UnixListener,
    child: &mut Child,
    deadline: Instant,
) -> Result<UnixStream, String> {
    loop {
        match listener.accept() {
            Ok((stream, _)) => return Ok(stream),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(format!("could not be reached: {e}")),
        }
        if let Ok(Some(_)) = child.try_wait() {
            return Err("exited before taking the sockets".into());
        }
        if Instant::now() >= deadline {
            return Err(format!("did not connect within {READY_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits a little for a failed new process to exit, kills it otherwise;
/// says how it ended.
fn stop(child: &mut Child) -> String {
    let deadline = Instant::now() + EXIT_WAIT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return format!(" ({status})"),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return " (killed)".into();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_path_is_made_absolute_without_following_links() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            resolve(OsStr::new("./bin/tollgate")),
            Some(cwd.join("./bin/tollgate"))
        );
        assert_eq!(
            resolve(OsStr::new("/usr/local/bin/tollgate")),
            Some(PathBuf::from("/usr/local/bin/tollgate"))
        );
        assert_eq!(resolve(OsStr::new("")), None);
    }
}
