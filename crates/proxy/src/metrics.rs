//! Request counters kept per worker, summed at scrape time.
//!
//! Each worker generation owns one [`WorkerMetrics`], sized when the
//! worker is built: arrays indexed by route (and status code) and by
//! upstream. Only that worker's thread writes them, with relaxed atomic
//! adds on cache lines no other core writes; recording a request hashes
//! nothing, allocates nothing and takes no lock. The scrape
//! ([`crate::RunningServer::metrics`]) reads every worker's arrays and adds
//! them up by name, so counts survive a reload: a generation's totals are
//! folded into the server's `retired` sums when the worker is dropped
//! (after its last request ended).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tollgate_ops::metrics::bucket_of;

/// Status codes counted one by one: 100 to 599.
const CODES: usize = 500;

/// A duration histogram: per-bucket counts (not cumulative) and the sum.
#[derive(Debug, Default)]
pub(crate) struct Histogram {
    buckets: [AtomicU64; 15],
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, took: Duration) {
        self.buckets[bucket_of(took.as_secs_f64())].fetch_add(1, Relaxed);
        self.sum_nanos.fetch_add(took.as_nanos() as u64, Relaxed);
    }

    fn read(&self) -> HistogramSum {
        HistogramSum {
            buckets: std::array::from_fn(|i| self.buckets[i].load(Relaxed)),
            sum_nanos: self.sum_nanos.load(Relaxed),
        }
    }
}

/// One route's counters in one worker.
#[derive(Debug)]
struct RouteCounters {
    /// `[listener * CODES + code - 100]`: answers sent.
    codes: Box<[AtomicU64]>,
    duration: Histogram,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

/// One target's times in one worker.
#[derive(Debug, Default)]
struct TargetTimes {
    /// Getting a connection for an attempt that got an answer.
    connect: Histogram,
    /// The request sent to the answer's head.
    head: Histogram,
}

/// One worker generation's counters.
#[derive(Debug)]
pub(crate) struct WorkerMetrics {
    /// Route names by index, with `""` last for requests no route took.
    route_names: Vec<String>,
    /// Listener names by index (the `listener` label of request counts).
    listener_names: Vec<String>,
    /// Per route (same order), the upstream it forwards to, or `""`.
    route_upstreams: Vec<String>,
    upstream_names: Vec<String>,
    routes: Box<[RouteCounters]>,
    /// Per upstream: time to the response head.
    upstreams: Box<[Histogram]>,
    /// Per upstream, per target: connect and response-head times.
    targets: Box<[Box<[TargetTimes]>]>,
    /// Target addresses per upstream (same order).
    target_names: Vec<Vec<String>>,
    /// Per upstream: retries sent, and retries the budget refused.
    retries: Box<[AtomicU64]>,
    budget_refusals: Box<[AtomicU64]>,
    /// Gateway decisions: auth outcomes (`key_auth`, `jwt:expired`) and
    /// refusals by limiting policy. Touched only by requests an auth or
    /// limit policy decided, under a lock no other worker takes.
    decisions: Mutex<Decisions>,
    /// What the worker thread's generations share.
    carried: Carried,
    /// `false` with `admin: {metrics: false}`: requests are not counted.
    counting: bool,
    /// Which consumers get series of their own (`metrics:`).
    consumer_mode: tollgate_config::ConsumerMetrics,
}

/// Counts of gateway decisions, by what decided and how.
#[derive(Debug, Default, Clone)]
pub(crate) struct Decisions {
    /// By auth outcome as the access log writes it (`key_auth`,
    /// `key_auth:invalid`, ...).
    pub(crate) auth: BTreeMap<String, u64>,
    /// Refusals by the limiting policy that refused (`rate_limit:name`).
    pub(crate) limited: BTreeMap<String, u64>,
    /// `validate` failures by route and side (`request`: refused,
    /// `answer`: reported).
    pub(crate) validation: BTreeMap<(String, &'static str), u64>,
}

impl Decisions {
    fn merge(&mut self, other: &Decisions) {
        for (k, v) in &other.auth {
            *self.auth.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.limited {
            *self.limited.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.validation {
            *self.validation.entry(k.clone()).or_default() += v;
        }
    }
}

/// Adds one to `key`'s count; the key is copied only the first time
/// (`entry` would allocate it on every request).
fn bump(counts: &mut BTreeMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_owned(), 1);
        }
    }
}

/// What a worker thread's generations share: the sums of those dropped,
/// and the per-listener gauges (listeners never change on a reload, so
/// their indices hold across generations).
#[derive(Debug, Clone)]
pub(crate) struct Carried {
    /// Where a generation's totals go when it is dropped.
    pub(crate) retired: Arc<Mutex<Totals>>,
    /// Open connections and requests in flight, per listener.
    pub(crate) gauges: Arc<ListenerGauges>,
    /// TLS handshakes, compressions, L4 connections and bytes.
    pub(crate) edge: Arc<crate::metrics_edge::EdgeCounters>,
    /// Requests by consumer, when `metrics:` asks for them.
    pub(crate) consumers: crate::metrics_consumers::ConsumerCounts,
}

impl Carried {
    /// Empty sums and zero gauges for `listeners` listeners.
    pub(crate) fn new(listeners: usize) -> Self {
        let zeros = || (0..listeners).map(|_| AtomicI64::new(0)).collect();
        Self {
            retired: Arc::default(),
            gauges: Arc::new(ListenerGauges {
                connections: zeros(),
                in_flight: zeros(),
            }),
            edge: Arc::new(crate::metrics_edge::EdgeCounters::new(listeners)),
            consumers: Arc::default(),
        }
    }
}

/// One worker thread's gauges, per listener index.
#[derive(Debug)]
pub(crate) struct ListenerGauges {
    pub(crate) connections: Box<[AtomicI64]>,
    pub(crate) in_flight: Box<[AtomicI64]>,
}

/// What a [`Held`] counts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Gauge {
    /// An open client connection.
    Connection,
    /// A request in flight.
    Request,
}

/// One open connection or request in flight, counted until dropped.
#[derive(Debug)]
pub(crate) struct Held {
    gauges: Arc<ListenerGauges>,
    listener: usize,
    gauge: Gauge,
}

impl ListenerGauges {
    fn slot(&self, gauge: Gauge, listener: usize) -> Option<&AtomicI64> {
        match gauge {
            Gauge::Connection => self.connections.get(listener),
            Gauge::Request => self.in_flight.get(listener),
        }
    }
}

impl Held {
    /// Counts one `gauge` on `listener` until the returned value is dropped.
    pub(crate) fn new(gauges: &Arc<ListenerGauges>, listener: usize, gauge: Gauge) -> Self {
        if let Some(g) = gauges.slot(gauge, listener) {
            g.fetch_add(1, Relaxed);
        }
        Self {
            gauges: gauges.clone(),
            listener,
            gauge,
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(g) = self.gauges.slot(self.gauge, self.listener) {
            g.fetch_sub(1, Relaxed);
        }
    }
}

/// A histogram's values, summed.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct HistogramSum {
    pub(crate) buckets: [u64; 15],
    pub(crate) sum_nanos: u64,
}

impl HistogramSum {
    fn add(&mut self, other: &HistogramSum) {
        for (a, b) in self.buckets.iter_mut().zip(other.buckets) {
            *a += b;
        }
        self.sum_nanos += other.sum_nanos;
    }
}

/// Counters summed over workers, keyed by name (`""` for no route).
#[derive(Debug, Default, Clone)]
pub(crate) struct Totals {
    /// By listener, route, its upstream (`""`: none) and status code.
    pub(crate) requests: BTreeMap<(String, String, String, u16), u64>,
    pub(crate) durations: BTreeMap<String, HistogramSum>,
    pub(crate) bytes_in: BTreeMap<String, u64>,
    pub(crate) bytes_out: BTreeMap<String, u64>,
    pub(crate) upstream_durations: BTreeMap<String, HistogramSum>,
    /// By upstream and target address: connect times.
    pub(crate) target_connect: BTreeMap<(String, String), HistogramSum>,
    /// By upstream and target address: response-head times.
    pub(crate) target_head: BTreeMap<(String, String), HistogramSum>,
    pub(crate) retries: BTreeMap<String, u64>,
    pub(crate) budget_refusals: BTreeMap<String, u64>,
    pub(crate) decisions: Decisions,
}

impl Totals {
    /// Adds `other` to these sums.
    pub(crate) fn merge(&mut self, other: &Totals) {
        for (k, v) in &other.requests {
            *self.requests.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.durations {
            self.durations.entry(k.clone()).or_default().add(v);
        }
        for (k, v) in &other.bytes_in {
            *self.bytes_in.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.bytes_out {
            *self.bytes_out.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.upstream_durations {
            self.upstream_durations.entry(k.clone()).or_default().add(v);
        }
        for (k, v) in &other.target_connect {
            self.target_connect.entry(k.clone()).or_default().add(v);
        }
        for (k, v) in &other.target_head {
            self.target_head.entry(k.clone()).or_default().add(v);
        }
        for (k, v) in &other.retries {
            *self.retries.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.budget_refusals {
            *self.budget_refusals.entry(k.clone()).or_default() += v;
        }
        self.decisions.merge(&other.decisions);
    }
}

impl WorkerMetrics {
    /// Counters for the routes and upstreams of `config`, all zero.
    pub(crate) fn new(config: &tollgate_config::Config, carried: Carried) -> Self {
        let mut route_names: Vec<String> = config.routes.iter().map(|r| r.name.clone()).collect();
        route_names.push(String::new());
        let mut route_upstreams: Vec<String> = config
            .routes
            .iter()
            .map(|r| match r.target {
                tollgate_config::RouteTarget::Upstream(u) => config.upstreams[u].name.clone(),
                _ => String::new(),
            })
            .collect();
        route_upstreams.push(String::new());
        let listener_names: Vec<String> = config.listeners.iter().map(|l| l.name.clone()).collect();
        let codes = CODES * listener_names.len().max(1);
        let routes = route_names
            .iter()
            .map(|_| RouteCounters {
                codes: (0..codes).map(|_| AtomicU64::new(0)).collect(),
                duration: Histogram::default(),
                bytes_in: AtomicU64::new(0),
                bytes_out: AtomicU64::new(0),
            })
            .collect();
        let upstream_names: Vec<String> = config.upstreams.iter().map(|u| u.name.clone()).collect();
        let upstreams = upstream_names
            .iter()
            .map(|_| Histogram::default())
            .collect();
        let target_names: Vec<Vec<String>> = config
            .upstreams
            .iter()
            .map(|u| u.targets.iter().map(|t| t.address.clone()).collect())
            .collect();
        let targets = target_names
            .iter()
            .map(|ts| ts.iter().map(|_| TargetTimes::default()).collect())
            .collect();
        let zeros = || upstream_names.iter().map(|_| AtomicU64::new(0)).collect();
        let (retries, budget_refusals) = (zeros(), zeros());
        Self {
            route_names,
            listener_names,
            route_upstreams,
            upstream_names,
            routes,
            upstreams,
            targets,
            target_names,
            retries,
            budget_refusals,
            decisions: Mutex::default(),
            carried,
            counting: config.admin.as_ref().is_none_or(|a| a.metrics),
            consumer_mode: config.consumer_metrics.clone(),
        }
    }

    /// What the worker thread's generations share.
    pub(crate) fn carried(&self) -> &Carried {
        &self.carried
    }

    /// Counts one `gauge` on `listener` until the returned value is dropped.
    pub(crate) fn hold(&self, listener: usize, gauge: Gauge) -> Held {
        Held::new(&self.carried.gauges, listener, gauge)
    }

    /// Counts one answered request.
    pub(crate) fn record(&self, request: Served) {
        if !self.counting {
            return;
        }
        let last = self.routes.len() - 1;
        let r = &self.routes[request.route.unwrap_or(last).min(last)];
        if let Some(c) = (request.status as usize)
            .checked_sub(100)
            .filter(|c| *c < CODES)
        {
            if let Some(c) = r.codes.get(request.listener * CODES + c) {
                c.fetch_add(1, Relaxed);
            }
        }
        r.duration.observe(request.duration);
        r.bytes_in.fetch_add(request.bytes_in, Relaxed);
        r.bytes_out.fetch_add(request.bytes_out, Relaxed);
        if let (Some(u), Some(took)) = (request.upstream, request.upstream_time) {
            if let Some(h) = self.upstreams.get(u) {
                h.observe(took);
            }
            let target = request.target.and_then(|t| self.targets.get(u)?.get(t));
            if let Some(times) = target {
                times.head.observe(took);
                if let Some(connect) = request.upstream_connect {
                    times.connect.observe(connect);
                }
            }
        }
    }

    /// Counts one request an auth policy identified `consumer` for, when
    /// `metrics:` asks for per-consumer series.
    pub(crate) fn consumer_served(&self, consumer: Option<&str>, status: u16) {
        let Some(name) = consumer.filter(|_| self.counting) else {
            return;
        };
        crate::metrics_consumers::count(&self.carried.consumers, &self.consumer_mode, name, status);
    }

    /// Counts what the gateway decided for one request: the auth outcome
    /// and the limiting policy that refused it, when any ran.
    pub(crate) fn decided(&self, auth: Option<&str>, limited: Option<&str>) {
        if !self.counting || (auth.is_none() && limited.is_none()) {
            return;
        }
        let mut d = self.decisions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(a) = auth {
            bump(&mut d.auth, a);
        }
        if let Some(l) = limited {
            bump(&mut d.limited, l);
        }
    }

    /// Counts a `validate` failure on route `route`: a request refused
    /// (`side` = `request`) or an answer reported (`answer`).
    pub(crate) fn validation_failed(&self, route: &str, side: &'static str) {
        let mut d = self.decisions.lock().unwrap_or_else(|p| p.into_inner());
        *d.validation.entry((route.to_owned(), side)).or_default() += 1;
    }

    /// Counts a retry sent to upstream `u`.
    pub(crate) fn retried(&self, u: usize) {
        if let Some(c) = self.retries.get(u) {
            c.fetch_add(1, Relaxed);
        }
    }

    /// Counts a retry to upstream `u` that its retry budget refused.
    pub(crate) fn budget_refused(&self, u: usize) {
        if let Some(c) = self.budget_refusals.get(u) {
            c.fetch_add(1, Relaxed);
        }
    }

    /// Adds this generation's counters to `totals`.
    pub(crate) fn add_to(&self, totals: &mut Totals) {
        let decisions = self.decisions.lock().unwrap_or_else(|p| p.into_inner());
        totals.decisions.merge(&decisions);
        drop(decisions);
        let named = self.route_names.iter().zip(&self.route_upstreams);
        for ((name, upstream), r) in named.zip(&*self.routes) {
            for (i, c) in r.codes.iter().enumerate() {
                let n = c.load(Relaxed);
                if n > 0 {
                    let listener = self.listener_names.get(i / CODES).cloned();
                    let code = (i % CODES) as u16 + 100;
                    let key = (
                        listener.unwrap_or_default(),
                        name.clone(),
                        upstream.clone(),
                        code,
                    );
                    *totals.requests.entry(key).or_default() += n;
                }
            }
            let d = r.duration.read();
            if d.buckets.iter().any(|b| *b > 0) {
                totals.durations.entry(name.clone()).or_default().add(&d);
                *totals.bytes_in.entry(name.clone()).or_default() += r.bytes_in.load(Relaxed);
                *totals.bytes_out.entry(name.clone()).or_default() += r.bytes_out.load(Relaxed);
            }
        }
        let counts = [
            (&self.retries, &mut totals.retries),
            (&self.budget_refusals, &mut totals.budget_refusals),
        ];
        for (counters, sums) in counts {
            for (name, c) in self.upstream_names.iter().zip(&**counters) {
                let n = c.load(Relaxed);
                if n > 0 {
                    *sums.entry(name.clone()).or_default() += n;
                }
            }
        }
        for (name, h) in self.upstream_names.iter().zip(&*self.upstreams) {
            let d = h.read();
            if d.buckets.iter().any(|b| *b > 0) {
                totals
                    .upstream_durations
                    .entry(name.clone())
                    .or_default()
                    .add(&d);
            }
        }
        self.add_targets_to(totals);
    }

    /// Adds the per-target times to `totals` (targets that answered).
    fn add_targets_to(&self, totals: &mut Totals) {
        let upstreams = self.upstream_names.iter().zip(&self.target_names);
        for ((upstream, names), times) in upstreams.zip(&*self.targets) {
            for (target, t) in names.iter().zip(&**times) {
                let key = || (upstream.clone(), target.clone());
                let (head, connect) = (t.head.read(), t.connect.read());
                if head.buckets.iter().any(|b| *b > 0) {
                    totals.target_head.entry(key()).or_default().add(&head);
                }
                if connect.buckets.iter().any(|b| *b > 0) {
                    totals
                        .target_connect
                        .entry(key())
                        .or_default()
                        .add(&connect);
                }
            }
        }
    }
}

impl Drop for WorkerMetrics {
    fn drop(&mut self) {
        // The generation's last request has ended: its counts join the
        // retired sums so the totals never go down across a reload.
        let retired = self.carried.retired.clone();
        let mut totals = retired.lock().unwrap_or_else(|p| p.into_inner());
        self.add_to(&mut totals);
    }
}

/// What one answered request reports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Served {
    /// The listener's index.
    pub(crate) listener: usize,
    pub(crate) route: Option<usize>,
    pub(crate) upstream: Option<usize>,
    /// The target's index in the upstream.
    pub(crate) target: Option<usize>,
    /// Time the answering attempt took to get its connection.
    pub(crate) upstream_connect: Option<Duration>,
    pub(crate) status: u16,
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
    pub(crate) duration: Duration,
    pub(crate) upstream_time: Option<Duration>,
}
