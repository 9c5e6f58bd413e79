//! Target addresses: an IP literal is used as is; a DNS name is resolved
//! at start and again on an interval by the `tollgate-dns` thread. Every
//! worker's pool for the target reads the current set; connections to an
//! address that left the set are drained (finished, never reused).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::watch;

use crate::background;

/// The addresses a configured `host:port` stands for, shared by all workers.
#[derive(Debug)]
pub(crate) struct TargetAddrs {
    /// `host:port` as configured.
    name: String,
    /// True for a name that needs DNS.
    dynamic: bool,
    current: ArcSwap<Vec<SocketAddr>>,
    /// Spreads new connections over the addresses.
    next: AtomicUsize,
    /// The last refresh failed (its event is written once per spell).
    failing: AtomicBool,
}

impl TargetAddrs {
    /// Addresses of `name`: parsed when it is an IP literal, resolved now
    /// (blocking) when it is a DNS name. A name that does not resolve
    /// starts empty (connects fail over to other targets) and is retried
    /// on every refresh.
    pub(crate) fn new(name: &str) -> Self {
        let literal = name.parse::<SocketAddr>().ok();
        let (dynamic, addrs) = match literal {
            Some(a) => (false, vec![a]),
            None => (
                true,
                lookup(name).unwrap_or_else(|e| {
                    tracing::warn!(target = %name, reason = e.to_string().as_str(), "target does not resolve");
                    Vec::new()
                }),
            ),
        };
        Self {
            name: name.to_owned(),
            dynamic,
            current: ArcSwap::from_pointee(addrs),
            next: AtomicUsize::new(0),
            failing: AtomicBool::new(false),
        }
    }

    /// The addresses of each of `names`, in order. DNS names are looked up
    /// in parallel (a short-lived thread each, a batch at a time), so start
    /// and reload wait about as long as the slowest lookup rather than the
    /// sum of all of them when a resolver is slow to answer.
    pub(crate) fn resolve_all(names: &[&str]) -> Vec<Self> {
        /// Lookups running at once.
        const BATCH: usize = 32;
        let mut out = Vec::with_capacity(names.len());
        for batch in names.chunks(BATCH) {
            std::thread::scope(|s| {
                let running: Vec<_> = batch
                    .iter()
                    .map(|name| {
                        if name.parse::<SocketAddr>().is_ok() {
                            return None;
                        }
                        std::thread::Builder::new()
                            .name("tollgate-dns-lookup".into())
                            .spawn_scoped(s, move || Self::new(name))
                            .ok()
                    })
                    .collect();
                for (name, lookup) in batch.iter().zip(running) {
                    // Literals (and lookups whose thread could not start)
                    // are done here.
                    out.push(
                        lookup
                            .and_then(|h| h.join().ok())
                            .unwrap_or_else(|| Self::new(name)),
                    );
                }
            });
        }
        out
    }

    /// The address the next connection goes to, `None` while it resolves to nothing.
    pub(crate) fn pick(&self) -> Option<SocketAddr> {
        let addrs = self.current.load();
        if addrs.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % addrs.len();
        Some(addrs[i])
    }

    /// Whether `addr` is still one of the target's addresses.
    pub(crate) fn contains(&self, addr: &SocketAddr) -> bool {
        self.current.load().contains(addr)
    }

    /// The current addresses.
    pub(crate) fn current(&self) -> Arc<Vec<SocketAddr>> {
        self.current.load_full()
    }

    /// Replaces the addresses (a new DNS answer); logs a change.
    pub(crate) fn update(&self, mut addrs: Vec<SocketAddr>) {
        addrs.sort_unstable();
        addrs.dedup();
        if self.failing.swap(false, Ordering::AcqRel) {
            tracing::info!(target = %self.name, "DNS lookup works again");
        }
        if **self.current.load() != addrs {
            tracing::info!(target = %self.name, addresses = ?addrs, "target addresses changed");
            self.current.store(Arc::new(addrs));
        }
    }

    /// A refresh found no address: the last ones stay; said once until a
    /// lookup works again, not at every refresh.
    fn refresh_failed(&self, reason: &str) {
        if !self.failing.swap(true, Ordering::AcqRel) {
            tracing::warn!(target = %self.name, reason, "DNS lookup failed, keeping the last addresses");
        }
    }
}

fn lookup(name: &str) -> std::io::Result<Vec<SocketAddr>> {
    use std::net::ToSocketAddrs;
    let mut addrs: Vec<SocketAddr> = name.to_socket_addrs()?.collect();
    addrs.sort_unstable();
    addrs.dedup();
    Ok(addrs)
}

/// Starts the `tollgate-dns` thread re-resolving every DNS-named target at
/// its upstream's interval; `None` when no target has a DNS name. A failed
/// lookup keeps the last good answer.
pub(crate) fn start_resolver(
    targets: Vec<(Arc<TargetAddrs>, Duration)>,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<Option<JoinHandle<()>>> {
    let targets: Vec<_> = targets.into_iter().filter(|(t, _)| t.dynamic).collect();
    if targets.is_empty() {
        return Ok(None);
    }
    // Lookups in progress when it stops are abandoned, not awaited: a
    // resolver that does not answer must not hold up a reload.
    let thread = background::spawn("tollgate-dns", shutdown, move || {
        for (target, every) in targets {
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    let name = target.name.clone();
                    match tokio::task::spawn_blocking(move || lookup(&name)).await {
                        Ok(Ok(addrs)) if !addrs.is_empty() => target.update(addrs),
                        Ok(Ok(_)) => target.refresh_failed("empty answer"),
                        Ok(Err(e)) => target.refresh_failed(&e.to_string()),
                        Err(_) => {}
                    }
                }
            });
        }
    })?;
    Ok(Some(thread))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_fixed_and_names_resolve() {
        let lit = TargetAddrs::new("127.0.0.1:81");
        assert!(!lit.dynamic);
        assert_eq!(lit.pick(), Some("127.0.0.1:81".parse().unwrap()));
        let named = TargetAddrs::new("localhost:81");
        assert!(named.dynamic);
        assert!(named
            .current()
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 81));
        let missing = TargetAddrs::new("no-such-host.invalid:80");
        assert_eq!(missing.pick(), None);

        let all =
            TargetAddrs::resolve_all(&["127.0.0.1:81", "localhost:82", "no-such-host.invalid:80"]);
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].pick(), lit.pick());
        assert!(all[1].dynamic && all[1].current().iter().all(|a| a.port() == 82));
        assert_eq!(all[2].pick(), None);
    }

    #[test]
    fn picks_rotate_and_updates_replace_the_set() {
        let t = TargetAddrs::new("127.0.0.1:1");
        let a: SocketAddr = "127.0.0.2:1".parse().unwrap();
        let b: SocketAddr = "127.0.0.3:1".parse().unwrap();
        t.update(vec![b, a, a]);
        assert_eq!(*t.current(), vec![a, b]);
        let picks: Vec<_> = (0..4).filter_map(|_| t.pick()).collect();
        assert_eq!(picks.iter().filter(|p| **p == a).count(), 2);
        assert!(!t.contains(&"127.0.0.1:1".parse().unwrap()));
    }
}
