//! Helper threads beside the workers (`tollgate-health`, `tollgate-dns`):
//! each runs its tasks on its own current-thread runtime until told to
//! stop, then abandons whatever is still in progress (a probe, a DNS lookup
//! on a blocking thread) rather than wait for it, so a reload or shutdown
//! that joins the thread never waits on a slow upstream or resolver.

use std::io;
use std::thread::JoinHandle;

use tokio::sync::watch;

/// Starts thread `name`: `start` runs first on the thread's runtime (and
/// spawns the tasks), which then run until `shutdown` turns true or its
/// sender is gone.
pub(crate) fn spawn(
    name: &str,
    mut shutdown: watch::Receiver<bool>,
    start: impl FnOnce() + Send + 'static,
) -> io::Result<JoinHandle<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            runtime.block_on(async {
                start();
                while !*shutdown.borrow() {
                    if shutdown.changed().await.is_err() {
                        break;
                    }
                }
            });
            runtime.shutdown_background();
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn stops_without_waiting_for_blocking_work() {
        let (stop, rx) = watch::channel(false);
        let thread = spawn("test-helper", rx, || {
            tokio::spawn(async {
                // A lookup that never answers.
                let _ = tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_secs(30)))
                    .await;
            });
        })
        .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let asked = Instant::now();
        stop.send(true).unwrap();
        thread.join().unwrap();
        assert!(asked.elapsed() < Duration::from_secs(5));
    }
}
