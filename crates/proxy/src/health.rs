//! Upstream health: one shared state per upstream with a `health` section,
//! fed by active probes (a task per target on the `tollgate-health` thread)
//! and by passive outlier detection (the pipeline reports each exchange).
//!
//! The availability set every pick reads is rebuilt only when a target's
//! state changes, and swapped in atomically; a pick loads it with one
//! atomic reference count. Upstreams without `health` never come here.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tollgate_balance::{Available, Rng};
use tollgate_config::{ActiveHealth, Health, PassiveHealth, Probe, Upstream, WhenAllDown};
use tollgate_net::MaybeTls;

use crate::background;
use crate::resilience::seed;
use crate::upstream::tls::TargetTls;
use crate::upstream::TargetAddrs;

/// No ejection in progress.
const NOT_EJECTED: u64 = 0;

/// Health of one target; every field is written by one checker task or
/// by the pipeline, and read by everyone.
#[derive(Debug, Default)]
struct TargetHealth {
    /// Active checks' verdict (starts healthy).
    healthy: AtomicBool,
    /// Consecutive successful probes.
    probe_ok: AtomicU32,
    /// Consecutive failed probes.
    probe_fail: AtomicU32,
    /// Consecutive failed exchanges (passive).
    failures: AtomicU32,
    /// Milliseconds since the state's epoch until which the target is
    /// ejected; [`NOT_EJECTED`] when it is not.
    ejected_until: AtomicU64,
    /// When the last ejection ended (ms since epoch), to forget old ones.
    last_return: AtomicU64,
    /// How many times in a row (without a quiet `max_eject_for`) it was ejected.
    times_ejected: AtomicU32,
    /// The last probe: success, why it failed, when (for the state readers).
    last_probe: Mutex<Option<(bool, String, Instant)>>,
    /// When the target last came back (ms since epoch; 0: never left).
    returned: AtomicU64,
}

/// A target's health as the state readers see it.
#[derive(Debug, Clone)]
pub(crate) struct TargetHealthView {
    /// The active checks' verdict (true without active checks).
    pub healthy: bool,
    /// Time left of a passive ejection, if ejected.
    pub ejected_for: Option<Duration>,
    /// The last probe: success, failure reason, and how long ago.
    pub last_check: Option<(bool, String, Duration)>,
}

/// The health of one upstream's targets, shared by every worker.
#[derive(Debug)]
pub(crate) struct UpstreamHealth {
    name: String,
    addresses: Vec<String>,
    /// What each target resolves to now (the pools' view, kept current by
    /// the DNS thread): probes connect there, never looking names up.
    resolved: Vec<Arc<TargetAddrs>>,
    targets: Vec<TargetHealth>,
    /// Targets that are healthy and not ejected, rebuilt on every change.
    available: ArcSwap<Available>,
    /// Every target: what `when_all_down: panic` picks from.
    all: Arc<Available>,
    when_all_down: WhenAllDown,
    active: Option<ActiveHealth>,
    passive: Option<PassiveHealth>,
    epoch: Instant,
    /// The earliest end of an ejection (ms since epoch), `u64::MAX` when
    /// none is ejected: a pick after it rebuilds the set.
    next_return: AtomicU64,
    /// Targets ejected right now.
    ejected: AtomicUsize,
    /// Serialises rebuilds and ejections.
    rebuild: Mutex<()>,
    /// Per target, how probes reach it over TLS (upstreams with `tls`).
    probe_tls: Option<Vec<TargetTls>>,
}

impl UpstreamHealth {
    /// The state of `upstream`'s targets (which resolve to `resolved`),
    /// all healthy, or `None` when it has no `health` section.
    pub(crate) fn new(
        upstream: &Upstream,
        resolved: &[Arc<TargetAddrs>],
        probe_tls: Option<Vec<TargetTls>>,
    ) -> Option<Self> {
        let health: &Health = upstream.health.as_ref()?;
        let n = upstream.targets.len();
        let targets = (0..n)
            .map(|_| TargetHealth {
                healthy: AtomicBool::new(true),
                ..TargetHealth::default()
            })
            .collect();
        Some(Self {
            name: upstream.name.clone(),
            addresses: upstream.targets.iter().map(|t| t.address.clone()).collect(),
            resolved: resolved.to_vec(),
            targets,
            available: ArcSwap::from_pointee(Available::all(n)),
            all: Arc::new(Available::all(n)),
            when_all_down: health.when_all_down,
            active: health.active.clone(),
            passive: health.passive.clone(),
            epoch: Instant::now(),
            next_return: AtomicU64::new(u64::MAX),
            ejected: AtomicUsize::new(0),
            rebuild: Mutex::new(()),
            probe_tls,
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    /// The targets a pick may choose from, or `None` when none is
    /// available and the upstream answers 503 (`when_all_down: fail`).
    pub(crate) fn current(&self) -> Option<Arc<Available>> {
        if self.passive.is_some() && self.now_ms() >= self.next_return.load(Ordering::Acquire) {
            self.rebuild();
        }
        let available = self.available.load_full();
        if available.count() > 0 {
            return Some(available);
        }
        match self.when_all_down {
            WhenAllDown::Fail => None,
            WhenAllDown::Panic => Some(self.all.clone()),
        }
    }

    /// Recomputes the available set from the targets' states (ending
    /// ejections that are over) and swaps it in.
    fn rebuild(&self) {
        let _lock = self.rebuild.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.now_ms();
        let mut next = u64::MAX;
        let mut ejected = 0;
        let set: Available = self
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let until = t.ejected_until.load(Ordering::Acquire);
                let mut out = until != NOT_EJECTED;
                if out && now >= until {
                    t.ejected_until.store(NOT_EJECTED, Ordering::Release);
                    t.last_return.store(now, Ordering::Release);
                    t.returned.store(now.max(1), Ordering::Release);
                    t.failures.store(0, Ordering::Release);
                    tracing::info!(
                        upstream = %self.name,
                        target = %self.addresses[i],
                        "target back after ejection"
                    );
                    out = false;
                }
                if out {
                    ejected += 1;
                    next = next.min(until);
                }
                !out && t.healthy.load(Ordering::Acquire)
            })
            .collect();
        self.ejected.store(ejected, Ordering::Release);
        self.next_return.store(next, Ordering::Release);
        if **self.available.load() != set {
            self.available.store(Arc::new(set));
        }
    }

    /// Passive: an exchange with target `t` succeeded (an answer below 500).
    pub(crate) fn record_success(&self, t: usize) {
        if self.passive.is_none() {
            return;
        }
        if let Some(target) = self.targets.get(t) {
            if target.failures.load(Ordering::Relaxed) != 0 {
                target.failures.store(0, Ordering::Relaxed);
            }
        }
    }

    /// Passive: an exchange with target `t` failed (connect error, no
    /// answer, or a 5xx answer).
    pub(crate) fn record_failure(&self, t: usize) {
        let (Some(passive), Some(target)) = (&self.passive, self.targets.get(t)) else {
            return;
        };
        let failures = target.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if failures < passive.consecutive_failures {
            return;
        }
        let _lock = self.rebuild.lock().unwrap_or_else(|p| p.into_inner());
        if target.ejected_until.load(Ordering::Acquire) != NOT_EJECTED {
            return; // already out (requests picked before it left)
        }
        let n = self.targets.len();
        let allowed = if passive.max_ejected_percent == 0 {
            0
        } else {
            (n * usize::from(passive.max_ejected_percent) / 100).max(1)
        };
        if self.ejected.load(Ordering::Acquire) >= allowed {
            target.failures.store(0, Ordering::Release);
            return;
        }
        let now = self.now_ms();
        let max_ms = millis(passive.max_eject_for);
        // Ejections long forgotten (a quiet `max_eject_for` since the last
        // one ended) start over at `eject_for`.
        let last = target.last_return.load(Ordering::Acquire);
        if last != 0 && now.saturating_sub(last) >= max_ms {
            target.times_ejected.store(0, Ordering::Release);
        }
        let times = target.times_ejected.fetch_add(1, Ordering::AcqRel) + 1;
        let duration = millis(passive.eject_for)
            .saturating_mul(u64::from(times))
            .min(max_ms)
            .max(1);
        let until = now.saturating_add(duration).max(1);
        target.ejected_until.store(until, Ordering::Release);
        target.failures.store(0, Ordering::Release);
        tracing::warn!(
            upstream = %self.name,
            target = %self.addresses[t],
            failures,
            reason = "consecutive failed requests",
            eject_for_ms = duration,
            "target ejected"
        );
        drop(_lock);
        self.rebuild();
    }

    /// Target `t`'s share of its normal traffic under slow start: from 0.1
    /// right after it came back to 1.0 once `ramp` has passed.
    pub(crate) fn ramp(&self, t: usize, ramp: Duration) -> f64 {
        let Some(target) = self.targets.get(t) else {
            return 1.0;
        };
        let returned = target.returned.load(Ordering::Acquire);
        if returned == 0 {
            return 1.0;
        }
        let since = self.now_ms().saturating_sub(returned) as f64;
        (since / ramp.as_millis().max(1) as f64).clamp(0.1, 1.0)
    }

    /// Target `t`'s health now, for the state readers.
    pub(crate) fn view(&self, t: usize) -> Option<TargetHealthView> {
        let target = self.targets.get(t)?;
        let now = self.now_ms();
        let until = target.ejected_until.load(Ordering::Acquire);
        let last = target
            .last_probe
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|(ok, why, at)| (*ok, why.clone(), at.elapsed()));
        Some(TargetHealthView {
            healthy: target.healthy.load(Ordering::Acquire),
            ejected_for: (until != NOT_EJECTED && until > now)
                .then(|| Duration::from_millis(until - now)),
            last_check: last,
        })
    }

    /// Active: one probe of target `t` ended.
    fn record_probe(&self, t: usize, ok: bool, why: &str) {
        let (Some(active), Some(target)) = (&self.active, self.targets.get(t)) else {
            return;
        };
        *target.last_probe.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((ok, why.to_owned(), Instant::now()));
        let healthy = target.healthy.load(Ordering::Acquire);
        if ok {
            target.probe_fail.store(0, Ordering::Release);
            let n = target.probe_ok.fetch_add(1, Ordering::AcqRel) + 1;
            if !healthy && n >= active.healthy {
                target.healthy.store(true, Ordering::Release);
                target
                    .returned
                    .store(self.now_ms().max(1), Ordering::Release);
                tracing::info!(
                    upstream = %self.name,
                    target = %self.addresses[t],
                    probes = n,
                    "target healthy"
                );
                self.rebuild();
            }
        } else {
            target.probe_ok.store(0, Ordering::Release);
            let n = target.probe_fail.fetch_add(1, Ordering::AcqRel) + 1;
            if healthy && n >= active.unhealthy {
                target.healthy.store(false, Ordering::Release);
                tracing::warn!(
                    upstream = %self.name,
                    target = %self.addresses[t],
                    probes = n,
                    reason = why,
                    "target unhealthy"
                );
                self.rebuild();
            }
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Starts the `tollgate-health` thread running one probe task per target
/// of every upstream with active checks; it stops when `shutdown` turns
/// true. `None` when no upstream has active checks.
pub(crate) fn start_checkers(
    states: &[Option<Arc<UpstreamHealth>>],
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<Option<std::thread::JoinHandle<()>>> {
    let active: Vec<Arc<UpstreamHealth>> = states
        .iter()
        .flatten()
        .filter(|h| h.active.is_some() && !h.targets.is_empty())
        .cloned()
        .collect();
    if active.is_empty() {
        return Ok(None);
    }
    // Probes in progress when it stops are abandoned, not awaited.
    let thread = background::spawn("tollgate-health", shutdown, move || {
        for state in &active {
            for t in 0..state.targets.len() {
                tokio::spawn(check_loop(state.clone(), t, Rng::new(seed())));
            }
        }
    })?;
    Ok(Some(thread))
}

/// `interval` ± up to `percent`% of it.
fn jittered(interval: Duration, percent: u8, rng: &Rng) -> Duration {
    let span = millis(interval).saturating_mul(u64::from(percent)) / 100;
    if span == 0 {
        return interval;
    }
    let offset = rng.below(span.saturating_mul(2).saturating_add(1));
    (interval + Duration::from_millis(offset)).saturating_sub(Duration::from_millis(span))
}

/// Probes target `t` forever: first after a random part of the jitter (so
/// targets are not probed in lockstep), then every jittered interval.
async fn check_loop(state: Arc<UpstreamHealth>, t: usize, rng: Rng) {
    let Some(active) = state.active.clone() else {
        return;
    };
    let (Some(address), Some(resolved)) = (
        state.addresses.get(t).cloned(),
        state.resolved.get(t).cloned(),
    ) else {
        return;
    };
    let tls = state.probe_tls.as_ref().and_then(|all| all.get(t).cloned());
    let spread = millis(active.interval).saturating_mul(u64::from(active.jitter_percent)) / 100;
    if spread > 0 {
        tokio::time::sleep(Duration::from_millis(rng.below(spread))).await;
    }
    let request = match &active.probe {
        Probe::Http {
            method, path, host, ..
        } => Some(format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: tollgate-health\r\nAccept: */*\r\nConnection: close\r\n\r\n",
            host.as_deref().unwrap_or(&address)
        )),
        Probe::Tcp => None,
    };
    loop {
        let started = tokio::time::Instant::now();
        let outcome = tokio::time::timeout(
            active.timeout,
            probe(&resolved, tls.as_ref(), request.as_deref(), &active.probe),
        )
        .await
        .unwrap_or_else(|_| Err("timed out".to_string()));
        match outcome {
            Ok(()) => state.record_probe(t, true, ""),
            Err(why) => state.record_probe(t, false, &why),
        }
        let wait = jittered(active.interval, active.jitter_percent, &rng);
        tokio::time::sleep_until(started + wait).await;
    }
}

/// One probe: connect to the target's next address (and handshake when the
/// upstream uses TLS), and for HTTP send `request` and check the status.
async fn probe(
    resolved: &TargetAddrs,
    tls: Option<&TargetTls>,
    request: Option<&str>,
    kind: &Probe,
) -> Result<(), String> {
    let peer = resolved
        .pick()
        .ok_or_else(|| "resolves to no address".to_string())?;
    let tcp = TcpStream::connect(peer)
        .await
        .map_err(|e| format!("connect failed: {e}"))?;
    let mut stream = match tls {
        None => MaybeTls::Plain(tcp),
        Some(tls) => tls
            .connector
            .connect(tcp, tls.name.clone())
            .await
            .map_err(|e| format!("TLS handshake failed: {e}"))?,
    };
    let (Some(request), Probe::Http { expect, .. }) = (request, kind) else {
        return Ok(());
    };
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("write failed: {e}"))?;
    stream
        .flush()
        .await
        .map_err(|e| format!("write failed: {e}"))?;
    let mut buf = [0u8; 512];
    let mut len = 0;
    // Reads until the status line is complete.
    let line_end = loop {
        if let Some(end) = buf[..len].windows(2).position(|w| w == b"\r\n") {
            break end;
        }
        if len == buf.len() {
            return Err("status line too long".into());
        }
        let n = stream
            .read(&mut buf[len..])
            .await
            .map_err(|e| format!("read failed: {e}"))?;
        if n == 0 {
            return Err("connection closed before a status line".into());
        }
        len += n;
    };
    let status = parse_status(&buf[..line_end]).ok_or("malformed status line")?;
    if expect.iter().any(|&(lo, hi)| (lo..=hi).contains(&status)) {
        Ok(())
    } else {
        Err(format!("status {status}"))
    }
}

/// The status of `HTTP/1.x NNN reason`.
fn parse_status(line: &[u8]) -> Option<u16> {
    let rest = line
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| line.strip_prefix(b"HTTP/1.0 "))?;
    let code = rest.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) || rest.get(3).is_some_and(|&b| b != b' ') {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"HTTP/1.1 200 OK"), Some(200));
        assert_eq!(parse_status(b"HTTP/1.0 503"), Some(503));
        assert_eq!(parse_status(b"HTTP/1.1 20"), None);
        assert_eq!(parse_status(b"HTTP/1.1 2000"), None);
        assert_eq!(parse_status(b"SSH-2.0"), None);
    }

    #[test]
    fn jitter_stays_in_range() {
        let rng = Rng::new(7);
        let i = Duration::from_millis(1000);
        for _ in 0..1000 {
            let d = jittered(i, 10, &rng);
            assert!(d >= Duration::from_millis(900) && d <= Duration::from_millis(1100));
        }
        assert_eq!(jittered(i, 0, &rng), i);
    }
}
