//! systemd readiness (`Type=notify`): READY=1 once the first snapshot
//! serves, RELOADING=1 and READY=1 around reloads, STOPPING=1 on shutdown,
//! and MAINPID when an upgraded process takes over. Nothing is sent when
//! `NOTIFY_SOCKET` is unset.

use sd_notify::NotifyState;

/// Sends `states`; a failure is logged, never fatal.
fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::debug!(error = %e, "sd_notify failed");
    }
}

/// The listeners accept and the snapshot serves; after an upgrade this
/// process is the service's main process from now on.
pub(crate) fn ready(upgraded: bool) {
    if upgraded {
        send(&[NotifyState::MainPid(std::process::id()), NotifyState::Ready]);
    } else {
        send(&[NotifyState::Ready]);
    }
}

/// A reload starts.
pub(crate) fn reloading() {
    send(&[NotifyState::Reloading]);
}

/// A reload is over (applied or refused): serving again.
pub(crate) fn reloaded() {
    send(&[NotifyState::Ready]);
}

/// Shutdown and drain begin.
pub(crate) fn stopping() {
    send(&[NotifyState::Stopping]);
}
