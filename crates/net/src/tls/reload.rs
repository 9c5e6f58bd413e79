//! Certificates replaced on disk are picked up without a restart: a thread
//! looks at the files' modification stamps every `reload_interval` and,
//! when a certificate or key changed, loads the pair again and swaps the
//! listener's certificate store. Connections already open keep the
//! certificate they were handshaken with; new ones get the new one. A pair
//! that fails to load (half written, key not matching) keeps its old
//! certificate and is logged once per change.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::SystemTime;

use tokio::sync::watch;
use tollgate_config::{CertificateFiles, TlsFile};

use super::server::ServerTls;
use super::store::{CertStore, Entry};
use super::{pem, provider};

/// What identifies one version of a file: modification time, size and
/// inode (a file replaced by rename has a new one). `None`: unreadable.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp(Option<(SystemTime, u64, u64)>);

impl Stamp {
    fn of(file: &TlsFile) -> Self {
        Self(std::fs::metadata(&file.path).ok().map(|m| {
            #[cfg(unix)]
            let inode = std::os::unix::fs::MetadataExt::ino(&m);
            #[cfg(not(unix))]
            let inode = 0;
            (
                m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                m.len(),
                inode,
            )
        }))
    }
}

/// The stamps of a certificate's two files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PairStamp(Stamp, Stamp);

impl PairStamp {
    pub(crate) fn of(files: &CertificateFiles) -> Self {
        Self(Stamp::of(&files.cert), Stamp::of(&files.key))
    }
}

/// One listener's certificates and the file versions last looked at.
#[derive(Debug)]
pub(crate) struct Watched {
    tls: Arc<ServerTls>,
    seen: Vec<PairStamp>,
}

impl Watched {
    pub(crate) fn new(tls: Arc<ServerTls>) -> Self {
        let seen = tls.stamps.clone();
        Self { tls, seen }
    }

    /// Reloads every pair whose files changed since the last look; swaps
    /// the store when at least one loaded. Returns how many were replaced.
    pub(crate) fn check(&mut self) -> usize {
        let current = self.tls.resolver.current();
        let mut entries = current.entries().to_vec();
        let mut replaced = 0;
        for (i, files) in self.tls.certificates.iter().enumerate() {
            let now = PairStamp::of(files);
            if now == self.seen[i] {
                continue;
            }
            self.seen[i] = now;
            match pem::certified_key(files, &provider()) {
                Ok(key) if i < entries.len() => {
                    entries[i] = Entry::new(key);
                    replaced += 1;
                    tracing::info!(
                        listener = %self.tls.listener,
                        cert = %files.cert.path.display(),
                        "certificate reloaded"
                    );
                }
                Ok(_) => {}
                // The old certificate stays in the store; the next change
                // of the files is tried again.
                Err(e) => tracing::error!(
                    listener = %self.tls.listener,
                    cert = %files.cert.path.display(),
                    reason = e.to_string().as_str(),
                    "certificate reload failed, the previous one stays in use"
                ),
            }
        }
        if replaced > 0 {
            self.tls
                .resolver
                .replace(CertStore::new(entries, self.tls.default_certificate));
        }
        replaced
    }
}

/// Starts the `tollgate-tls-reload` thread for every listener that has a
/// `reload_interval`; it stops when `shutdown` turns true. `None` when no
/// listener wants reloading.
pub fn spawn_reloader(
    listeners: &[Arc<ServerTls>],
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<Option<JoinHandle<()>>> {
    let watched: Vec<(Watched, std::time::Duration)> = listeners
        .iter()
        .filter_map(|t| Some((Watched::new(t.clone()), t.reload_interval?)))
        .collect();
    if watched.is_empty() {
        return Ok(None);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    let thread = std::thread::Builder::new()
        .name("tollgate-tls-reload".into())
        .spawn(move || {
            runtime.block_on(async {
                for (mut w, every) in watched {
                    tokio::spawn(async move {
                        let mut tick = tokio::time::interval(every);
                        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                        tick.tick().await;
                        loop {
                            tick.tick().await;
                            w.check();
                        }
                    });
                }
                while !*shutdown.borrow() {
                    if shutdown.changed().await.is_err() {
                        break;
                    }
                }
            });
            runtime.shutdown_background();
        })?;
    Ok(Some(thread))
}
