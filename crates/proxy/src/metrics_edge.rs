//! Counters of the work around requests rather than per route: TLS
//! handshakes on HTTPS listeners, cache lookups, compressed answers, L4
//! connections and their bytes. One set per worker thread (in `Carried`, so kept across
//! generations: listeners never change on a reload), written only by that
//! thread with relaxed adds, summed over the threads at scrape.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use tollgate_config::Coding;
use tollgate_ops::metrics::{Family, Value};

use crate::server::WorkerSlot;

/// TLS versions counted, in label order.
const TLS_VERSIONS: [&str; 3] = ["TLSv1.2", "TLSv1.3", "other"];
/// Why a handshake failed, in label order.
const TLS_FAILURES: [&str; 2] = ["error", "timeout"];
/// Content codings, in label order (as [`Coding`] orders them).
const CODINGS: [&str; 3] = ["gzip", "br", "zstd"];
/// Cache lookup results, in label order (as [`CacheLookup`] orders them).
const CACHE_RESULTS: [&str; 6] = ["hit", "stale", "miss", "expired", "request", "bypass"];

/// What a `cache` step's lookup came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CacheLookup {
    /// Served fresh from the store.
    Hit = 0,
    /// Served stale (`max-stale`, `stale-while-revalidate`).
    Stale = 1,
    /// Not in the store (no entry, or none for this Vary).
    Miss = 2,
    /// In the store but stale: fetched or revalidated.
    Expired = 3,
    /// The request's own directives sent it to the origin.
    Request = 4,
    /// Not cacheable by method (or an upgrade): passed through.
    Bypass = 5,
}

/// One worker thread's counters.
#[derive(Debug)]
pub(crate) struct EdgeCounters {
    tls_ok: [AtomicU64; 3],
    tls_failed: [AtomicU64; 2],
    compressed: [AtomicU64; 3],
    cache: [AtomicU64; 6],
    /// Per listener index: L4 connections ended, bytes from and to clients.
    l4: Box<[[AtomicU64; 3]]>,
    /// Per listener index, UDP sessions: opened, closed, datagrams from
    /// and to clients (added when a session ends).
    udp: Box<[[AtomicU64; 4]]>,
}

/// What one UDP session relayed, counted when it ends.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct UdpSessionEnd {
    /// Datagrams from the client sent to the target.
    pub(crate) datagrams_in: u64,
    /// Replies sent back to the client.
    pub(crate) datagrams_out: u64,
    /// Their bytes, each way.
    pub(crate) bytes_in: u64,
    /// Reply bytes sent to the client.
    pub(crate) bytes_out: u64,
}

/// How a TLS handshake ended.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Handshake {
    /// Completed with this version (its wire value: 0x0303 is TLS 1.2).
    Ok(Option<u16>),
    /// Refused or broken.
    Failed,
    /// Not done within `handshake_timeout`.
    TimedOut,
}

impl EdgeCounters {
    /// Zero counters for `listeners` listeners.
    pub(crate) fn new(listeners: usize) -> Self {
        Self {
            tls_ok: Default::default(),
            tls_failed: Default::default(),
            compressed: Default::default(),
            cache: Default::default(),
            l4: (0..listeners).map(|_| Default::default()).collect(),
            udp: (0..listeners).map(|_| Default::default()).collect(),
        }
    }

    /// Counts one TLS handshake on an HTTPS listener.
    pub(crate) fn handshake(&self, h: Handshake) {
        let slot = match h {
            Handshake::Ok(Some(0x0303)) => &self.tls_ok[0],
            Handshake::Ok(Some(0x0304)) => &self.tls_ok[1],
            Handshake::Ok(_) => &self.tls_ok[2],
            Handshake::Failed => &self.tls_failed[0],
            Handshake::TimedOut => &self.tls_failed[1],
        };
        slot.fetch_add(1, Relaxed);
    }

    /// Counts one answer compressed with `coding`.
    pub(crate) fn compressed(&self, coding: Coding) {
        let i = match coding {
            Coding::Gzip => 0,
            Coding::Brotli => 1,
            Coding::Zstd => 2,
        };
        self.compressed[i].fetch_add(1, Relaxed);
    }

    /// Counts one cache lookup.
    pub(crate) fn cache_lookup(&self, result: CacheLookup) {
        self.cache[result as usize].fetch_add(1, Relaxed);
    }

    /// Counts one L4 connection (or UDP session) that ended on `listener`.
    pub(crate) fn l4_ended(&self, listener: usize, bytes_in: u64, bytes_out: u64) {
        if let Some(c) = self.l4.get(listener) {
            c[0].fetch_add(1, Relaxed);
            c[1].fetch_add(bytes_in, Relaxed);
            c[2].fetch_add(bytes_out, Relaxed);
        }
    }

    /// Counts one UDP session opened on `listener`.
    pub(crate) fn udp_opened(&self, listener: usize) {
        if let Some(c) = self.udp.get(listener) {
            c[0].fetch_add(1, Relaxed);
        }
    }

    /// Counts one UDP session that ended on `listener`: in the `udp`
    /// families, and in the L4 sessions and bytes as a TCP connection is.
    pub(crate) fn udp_closed(&self, listener: usize, end: UdpSessionEnd) {
        if let Some(c) = self.udp.get(listener) {
            c[1].fetch_add(1, Relaxed);
            c[2].fetch_add(end.datagrams_in, Relaxed);
            c[3].fetch_add(end.datagrams_out, Relaxed);
        }
        self.l4_ended(listener, end.bytes_in, end.bytes_out);
    }
}

/// Which L4 families a listener has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum L4Kind {
    /// An HTTP listener: none.
    Http,
    /// `tcp` or `tls_passthrough`: connections and bytes.
    Stream,
    /// `udp`: sessions and bytes as connections are, and the `udp` families.
    Udp,
}

/// The families of every worker thread's counters; `names` are the
/// listeners' names by index, `kinds` what each one is.
pub(crate) fn families(
    slots: &[Arc<WorkerSlot>],
    names: &[String],
    kinds: &[L4Kind],
) -> Vec<Family> {
    let mut tls_ok = [0u64; 3];
    let mut tls_failed = [0u64; 2];
    let mut compressed = [0u64; 3];
    let mut cache = [0u64; 6];
    let mut relayed = vec![[0u64; 3]; names.len()];
    let mut udp = vec![[0u64; 4]; names.len()];
    for slot in slots {
        let c = slot.load_full().metrics.carried().edge.clone();
        add(&mut tls_ok, &c.tls_ok);
        add(&mut tls_failed, &c.tls_failed);
        add(&mut compressed, &c.compressed);
        add(&mut cache, &c.cache);
        for (sum, l) in relayed.iter_mut().zip(&*c.l4) {
            add(sum, l);
        }
        for (sum, l) in udp.iter_mut().zip(&*c.udp) {
            add(sum, l);
        }
    }
    let by = |label: &'static str, names: &[&str], values: &[u64]| {
        names
            .iter()
            .zip(values)
            .filter(|(_, v)| **v > 0)
            .map(|(n, v)| (vec![(label, n.to_string())], Value::Counter(*v)))
            .collect()
    };
    let per_listener = |i: usize| {
        names
            .iter()
            .zip(&relayed)
            .zip(kinds)
            .filter(|(_, kind)| **kind != L4Kind::Http)
            .map(|((n, v), _)| (vec![("listener", n.clone())], Value::Counter(v[i])))
            .collect()
    };
    let per_udp = |value: &dyn Fn(&[u64; 4]) -> Value| {
        names
            .iter()
            .zip(&udp)
            .zip(kinds)
            .filter(|(_, kind)| **kind == L4Kind::Udp)
            .map(|((n, v), _)| (vec![("listener", n.clone())], value(v)))
            .collect()
    };
    vec![
        Family {
            name: "tollgate_tls_handshakes",
            help: "TLS handshakes completed on HTTPS listeners, by protocol version.",
            series: by("version", &TLS_VERSIONS, &tls_ok),
        },
        Family {
            name: "tollgate_tls_handshake_failures",
            help: "TLS handshakes on HTTPS listeners that failed (error) or timed out.",
            series: by("reason", &TLS_FAILURES, &tls_failed),
        },
        Family {
            name: "tollgate_cache_lookups",
            help:
                "Lookups by cache policies, by result (hit, stale, miss, expired, request, bypass).",
            series: by("result", &CACHE_RESULTS, &cache),
        },
        Family {
            name: "tollgate_compressions",
            help: "Answers compressed by a compress policy, by content coding.",
            series: by("encoding", &CODINGS, &compressed),
        },
        Family {
            name: "tollgate_l4_connections",
            help: "L4 connections (tcp, tls_passthrough) and UDP sessions ended, by listener.",
            series: per_listener(0),
        },
        Family {
            name: "tollgate_l4_received_bytes",
            help: "Bytes L4 listeners received from clients, by listener.",
            series: per_listener(1),
        },
        Family {
            name: "tollgate_l4_sent_bytes",
            help: "Bytes L4 listeners sent to clients, by listener.",
            series: per_listener(2),
        },
        Family {
            name: "tollgate_udp_sessions_opened",
            help: "UDP sessions opened (a new client address and port), by listener.",
            series: per_udp(&|v| Value::Counter(v[0])),
        },
        Family {
            name: "tollgate_udp_sessions_active",
            help: "UDP sessions open now, by listener.",
            series: per_udp(&|v| Value::Gauge(v[0].saturating_sub(v[1]) as f64)),
        },
        Family {
            name: "tollgate_udp_received_datagrams",
            help: "Datagrams from clients relayed by UDP sessions that ended, by listener.",
            series: per_udp(&|v| Value::Counter(v[2])),
        },
        Family {
            name: "tollgate_udp_sent_datagrams",
            help: "Replies sent to clients by UDP sessions that ended, by listener.",
            series: per_udp(&|v| Value::Counter(v[3])),
        },
    ]
}

fn add<const N: usize>(sum: &mut [u64; N], counters: &[AtomicU64; N]) {
    for (s, c) in sum.iter_mut().zip(counters) {
        *s += c.load(Relaxed);
    }
}
