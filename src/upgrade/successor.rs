//! Zero-downtime binary upgrade, the new process's side: take the
//! listening sockets from the process being replaced, then tell it whether
//! this one serves (`ready PID`) or why not (`failed REASON`), so it can
//! stop accepting or go on serving.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use tollgate_net::inherit::handover;
use tollgate_net::HandedSocket;

use super::SOCKET_ENV;

/// How long the hand-over itself may take.
const RECEIVE_TIMEOUT: Duration = Duration::from_secs(30);

/// The connection to the process this one replaces.
#[derive(Debug)]
pub(crate) struct Predecessor {
    stream: UnixStream,
}

impl Predecessor {
    /// Connects to the socket `TOLLGATE_UPGRADE_SOCKET` names and takes
    /// the listening sockets; `None` when this is not an upgrade.
    pub(crate) fn connect() -> Result<Option<(Self, Vec<HandedSocket>)>, String> {
        let Some(path) = std::env::var_os(SOCKET_ENV) else {
            return Ok(None);
        };
        let fail = |e: std::io::Error| format!("upgrade hand-over: {e}");
        let stream = UnixStream::connect(&path).map_err(fail)?;
        stream
            .set_read_timeout(Some(RECEIVE_TIMEOUT))
            .map_err(fail)?;
        let sockets = handover::receive(&stream).map_err(fail)?;
        Ok(Some((Self { stream }, sockets)))
    }

    /// This process serves: the old one may stop accepting.
    pub(crate) fn ready(self) {
        self.say(&format!("ready {}\n", std::process::id()));
    }

    /// This process cannot start, for `why`.
    pub(crate) fn failed(self, why: &str) {
        self.say(&format!("failed {why}\n"));
    }

    fn say(mut self, line: &str) {
        // The old process acts on EOF too; nothing more to do on failure.
        let _ = self.stream.write_all(line.as_bytes());
    }
}
