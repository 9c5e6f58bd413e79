//! [`RedisStore`]: the process's connections to the shared store, behind
//! the breaker. The pooled connections live on the store's own thread
//! (one current-thread runtime), so they outlive no worker; they serve
//! the batches of `mode: approximate` and a worker's first calls. Each
//! worker thread also makes a multiplexed connection of its own in the
//! background, driven on its own runtime, so a decision's call does not
//! cross threads twice (the hop cost more CPU and p99 than the call
//! itself). Every call is bounded by `timeout`,
//! connecting included; the breaker (see `LIFECYCLE.md`) keeps a failing
//! store from being called at all until a probe answers.

use std::cell::RefCell;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClientBuilder, SentinelServerType};
use redis::{Client, ConnectionInfo, IntoConnectionInfo, RedisConnectionInfo};
use redis::{Pipeline, RedisResult, Script, Value};
use tokio::sync::{oneshot, Notify};
use tollgate_config::{Redis, RedisServers};

use super::super::approx::Approx;
use super::super::breaker::{Breaker, Change, Permission, Settings, State};

/// Why a call got no answer to decide on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreError {
    /// The breaker is open: the store was not called.
    Skipped,
    /// No answer within `timeout`.
    Timeout,
    /// The store or the connection failed, or the reply made no sense.
    Failed,
}

/// One connection, of the deployment's kind (both are multiplexed and
/// cheap to clone).
#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// One pooled connection: made on first use, dropped when the breaker
/// opens (so a Sentinel failover is found again by the probe).
#[derive(Default)]
struct Slot {
    conn: Mutex<Option<Conn>>,
    connecting: AtomicBool,
    ready: Notify,
}

/// A worker thread's own connection to one store.
struct Local {
    /// The store's [`RedisStore::id`].
    store: u64,
    /// Gone once the store is dropped, so the entry goes too.
    alive: Weak<()>,
    /// The store's generation when it was made (a newer one replaces it).
    generation: u64,
    /// `None` while connecting.
    conn: Option<Conn>,
}

thread_local! {
    /// This thread's connections, one per live store (a few at most).
    static LOCAL: RefCell<Vec<Local>> = const { RefCell::new(Vec::new()) };
}

/// Numbers the stores of the process, for [`LOCAL`].
static STORES: AtomicU64 = AtomicU64::new(0);

/// The shared store of one process.
pub struct RedisStore {
    /// This store among the process's, for the threads' own connections.
    id: u64,
    /// Bumped when the breaker opens: threads connect afresh.
    generation: AtomicU64,
    /// Dropped with the store, so threads drop their connections to it.
    alive: Arc<()>,
    config: Redis,
    slots: Vec<Arc<Slot>>,
    next: AtomicUsize,
    breaker: Breaker,
    /// Calls that failed or timed out (the breaker's skips are not
    /// counted), for the metrics.
    errors: AtomicU64,
    /// The breaker's state as a number (see [`RedisStore::state_code`]),
    /// read without its lock by every `mode: approximate` decision.
    state_code: AtomicU8,
    /// The `mode: approximate` limiters its one syncing task serves.
    syncing: Mutex<Vec<Weak<Approx>>>,
    epoch: Instant,
    runtime: tokio::runtime::Handle,
    _stop: oneshot::Sender<()>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("config", &self.config)
            .field("breaker", &self.breaker.state())
            .finish()
    }
}

/// The breaker's settings: three failures in a row open it for 200 ms,
/// doubling per failed probe up to 1 s, so a store back is used again
/// within about a second.
const BREAKER: Settings = Settings {
    failures: 3,
    open_for: 200_000_000,
    max_open: 1_000_000_000,
};

impl RedisStore {
    /// A store for `config`, with its thread started; it connects on the
    /// first call. The thread stops when the store is dropped.
    pub fn new(config: Redis) -> std::io::Result<Arc<Self>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("tollgate-redis".into())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
                runtime.shutdown_background();
            })?;
        let store = Arc::new(Self {
            id: STORES.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
            alive: Arc::new(()),
            slots: (0..config.pool.max(1)).map(|_| Arc::default()).collect(),
            config,
            next: AtomicUsize::new(0),
            breaker: Breaker::new(BREAKER),
            errors: AtomicU64::new(0),
            state_code: AtomicU8::new(0),
            syncing: Mutex::new(Vec::new()),
            epoch: Instant::now(),
            runtime: handle,
            _stop: stop,
        });
        // Connect now, so the first requests need not wait for it.
        for slot in &store.slots {
            store.start_connect(slot);
        }
        Ok(store)
    }

    /// The settings it was made from (a reload keeps an equal store).
    pub fn config(&self) -> &Redis {
        &self.config
    }

    /// The breaker's state now.
    pub fn state(&self) -> State {
        self.breaker.state()
    }

    /// Calls that failed or got no answer within `timeout` so far.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// The breaker's state as a gauge: 0 healthy, 1 failing, 2 open,
    /// 3 probing.
    pub fn state_code(&self) -> u8 {
        self.state_code.load(Ordering::Relaxed)
    }

    /// Whether calls go to the store now (the breaker is not open or
    /// probing); read without a lock.
    pub fn available(&self) -> bool {
        self.state_code() < 2
    }

    /// Runs `script` with `keys` and `args`, within `timeout`, unless the
    /// breaker says not to; the reply as integers.
    pub async fn eval(
        &self,
        script: &Script,
        keys: &[String],
        args: &[i64],
    ) -> Result<Vec<i64>, StoreError> {
        self.guarded_on(true, |mut conn| async move {
            let mut invocation = script.prepare_invoke();
            for k in keys {
                invocation.key(k);
            }
            for a in args {
                invocation.arg(*a);
            }
            let reply: RedisResult<Value> = match &mut conn {
                Conn::Single(c) => invocation.invoke_async(c).await,
                Conn::Cluster(c) => invocation.invoke_async(c).await,
            };
            integers(reply.map_err(|_| StoreError::Failed)?).ok_or(StoreError::Failed)
        })
        .await
    }

    /// Runs `pipes` (each one key's commands, so one cluster slot) and
    /// asks the store's clock (`TIME`, in µs), within `timeout`, unless
    /// the breaker says not to: the clock and each pipe's replies.
    pub(crate) async fn batch(
        &self,
        pipes: &[Pipeline],
    ) -> Result<(u64, Vec<Vec<Value>>), StoreError> {
        self.guarded(|mut conn| async move {
            let fail = |_| StoreError::Failed;
            let time: (u64, u64) = match &mut conn {
                Conn::Single(c) => redis::cmd("TIME").query_async(c).await.map_err(fail)?,
                Conn::Cluster(c) => redis::cmd("TIME").query_async(c).await.map_err(fail)?,
            };
            let mut out = Vec::with_capacity(pipes.len());
            for pipe in pipes {
                // A multiplexed connection writes them back to back; a
                // cluster routes each to its key's node.
                let reply: Vec<Value> = match &mut conn {
                    Conn::Single(c) => pipe.query_async(c).await.map_err(fail)?,
                    Conn::Cluster(c) => pipe.query_async(c).await.map_err(fail)?,
                };
                out.push(reply);
            }
            Ok((time.0.saturating_mul(1_000_000).saturating_add(time.1), out))
        })
        .await
    }

    /// Runs `call` on a connection within `timeout` unless the breaker
    /// says not to, and reports its outcome to the breaker.
    async fn guarded<T, F, Fut>(&self, call: F) -> Result<T, StoreError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        self.guarded_on(false, call).await
    }

    /// [`RedisStore::guarded`] on this thread's own connection when
    /// `local` and it is made, else on a pooled one.
    async fn guarded_on<T, F, Fut>(&self, local: bool, call: F) -> Result<T, StoreError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let (permission, change) = self.breaker.admit(self.now());
        self.log(change);
        if permission == Permission::Fallback {
            return Err(StoreError::Skipped);
        }
        let slot = &self.slots[self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len()];
        let conn = if local { self.local() } else { None };
        let run = async {
            let conn = match conn {
                Some(c) => c,
                None => self.connection(slot).await.ok_or(StoreError::Failed)?,
            };
            call(conn).await
        };
        let out = match tokio::time::timeout(self.config.timeout, run).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Timeout),
        };
        if out.is_err() {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let change = self.breaker.record(out.is_ok(), self.now());
        if matches!(
            change,
            Some(Change {
                to: State::Open { .. },
                ..
            })
        ) {
            // Reconnect from scratch once the store is back.
            for s in &self.slots {
                *lock(&s.conn) = None;
            }
            self.generation.fetch_add(1, Ordering::Relaxed);
        }
        self.log(change);
        out
    }

    /// This thread's own connection, if made; else starts making it on
    /// this thread's runtime (the call then takes a pooled one).
    fn local(&self) -> Option<Conn> {
        let generation = self.generation.load(Ordering::Relaxed);
        let found = LOCAL.with_borrow_mut(|locals| {
            locals.retain(|l| l.alive.strong_count() > 0);
            let i = locals.iter().position(|l| l.store == self.id)?;
            if locals[i].generation == generation {
                return Some(locals[i].conn.clone());
            }
            locals.swap_remove(i);
            None
        });
        if let Some(conn) = found {
            return conn;
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        LOCAL.with_borrow_mut(|locals| {
            locals.push(Local {
                store: self.id,
                alive: Arc::downgrade(&self.alive),
                generation,
                conn: None,
            })
        });
        let (id, config) = (self.id, self.config.clone());
        runtime.spawn(async move {
            let made = connect(&config).await;
            LOCAL.with_borrow_mut(|locals| {
                let mine = locals
                    .iter()
                    .position(|l| l.store == id && l.generation == generation);
                // Not made: this thread uses the pool until the breaker
                // next opens (a new generation), so an outage does not
                // start one attempt per call.
                if let (Ok(c), Some(i)) = (made, mine) {
                    locals[i].conn = Some(c);
                }
            });
        });
        None
    }

    /// Adds a `mode: approximate` limiter to the store's one syncing
    /// task (started with the first), which syncs each limiter every
    /// `sync` until the limiter or the store is dropped.
    pub(crate) fn sync(self: &Arc<Self>, limiter: &Arc<Approx>) {
        let mut syncing = lock(&self.syncing);
        syncing.retain(|w| w.strong_count() > 0);
        let first = syncing.is_empty();
        syncing.push(Arc::downgrade(limiter));
        drop(syncing);
        if first {
            let store = Arc::downgrade(self);
            self.runtime.spawn(sync_task(store));
        }
    }

    /// The slot's connection, connecting on the store's thread if there
    /// is none (one attempt at a time; the others wait for it).
    async fn connection(&self, slot: &Arc<Slot>) -> Option<Conn> {
        if let Some(c) = lock(&slot.conn).clone() {
            return Some(c);
        }
        let mut ready = pin!(slot.ready.notified());
        ready.as_mut().enable();
        if let Some(c) = lock(&slot.conn).clone() {
            return Some(c);
        }
        self.start_connect(slot);
        ready.await;
        lock(&slot.conn).clone()
    }

    /// Starts connecting `slot` on the store's thread, unless an attempt
    /// is under way; waiters are woken when it ends.
    fn start_connect(&self, slot: &Arc<Slot>) {
        if slot.connecting.swap(true, Ordering::AcqRel) {
            return;
        }
        let (slot, config) = (Arc::clone(slot), self.config.clone());
        self.runtime.spawn(async move {
            match connect(&config).await {
                Ok(c) => *lock(&slot.conn) = Some(c),
                Err(e) => tracing::debug!(error = %e, "redis: cannot connect"),
            }
            slot.connecting.store(false, Ordering::Release);
            slot.ready.notify_waiters();
        });
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// One log line per change of the breaker's state (and the state
    /// gauge updated).
    fn log(&self, change: Option<Change>) {
        let Some(Change { from, to }) = change else {
            return;
        };
        let code = match to {
            State::Healthy => 0,
            State::Failing { .. } => 1,
            State::Open { .. } => 2,
            State::Probing { .. } => 3,
        };
        self.state_code.store(code, Ordering::Relaxed);
        let name = |s: State| match s {
            State::Healthy => "healthy",
            State::Failing { .. } => "failing",
            State::Open { .. } => "open",
            State::Probing { .. } => "probing",
        };
        match to {
            State::Open { wait, .. } => tracing::warn!(
                from = name(from),
                retry_in_ms = wait / 1_000_000,
                "redis store unavailable: limits follow on_store_error until a probe answers"
            ),
            State::Healthy => tracing::info!(from = name(from), "redis store healthy again"),
            other => tracing::info!(from = name(from), to = name(other), "redis store state"),
        }
    }
}

/// The store's one syncing task: each live `mode: approximate` limiter
/// syncs when its interval has passed; the task sleeps until the next
/// one is due and ends when the store is gone (or serves no limiter).
async fn sync_task(store: Weak<RedisStore>) {
    let mut due: Vec<(Weak<Approx>, Instant)> = Vec::new();
    loop {
        let Some(store) = store.upgrade() else { return };
        let live: Vec<Weak<Approx>> = {
            let mut syncing = lock(&store.syncing);
            syncing.retain(|w| w.strong_count() > 0);
            syncing.clone()
        };
        if live.is_empty() {
            return;
        }
        due.retain(|(w, _)| live.iter().any(|l| l.ptr_eq(w)));
        for l in &live {
            if !due.iter().any(|(w, _)| w.ptr_eq(l)) {
                due.push((l.clone(), Instant::now()));
            }
        }
        let now = Instant::now();
        for (limiter, at) in &mut due {
            if *at > now {
                continue;
            }
            if let Some(limiter) = limiter.upgrade() {
                limiter.sync_once(&store).await;
                *at = Instant::now() + limiter.interval();
            }
        }
        drop(store);
        let next = due.iter().map(|(_, at)| *at).min().unwrap_or(now);
        let nap = next
            .saturating_duration_since(Instant::now())
            .min(Duration::from_secs(1));
        tokio::time::sleep(nap.max(Duration::from_millis(1))).await;
    }
}

/// Integers of a script's reply (an array of integers).
fn integers(v: Value) -> Option<Vec<i64>> {
    match v {
        Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Value::Int(n) => Some(n),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Connects to the deployment `config` describes.
async fn connect(config: &Redis) -> RedisResult<Conn> {
    // Connecting may take longer than one decision's timeout (TLS, a
    // cluster's slot map); the calls waiting for it are bounded anyway.
    let patience = config.timeout.max(Duration::from_secs(2));
    let settings = redis_settings(config);
    match &config.servers {
        RedisServers::Standalone(addr) => {
            let info = info(addr, config.tls)?.set_redis_settings(settings);
            manager(Client::open(info)?, patience).await
        }
        RedisServers::Cluster(seeds) => {
            let infos = seeds
                .iter()
                .map(|a| info(a, config.tls))
                .collect::<RedisResult<Vec<_>>>()?;
            let mut b = ClusterClientBuilder::new(infos)
                .connection_timeout(patience)
                .response_timeout(patience)
                .retries(1);
            if let Some(u) = &config.username {
                b = b.username(u);
            }
            if let Some(p) = &config.password {
                b = b.password(p);
            }
            Ok(Conn::Cluster(b.build()?.get_async_connection().await?))
        }
        RedisServers::Sentinel { master, sentinels } => {
            let mut b = SentinelClientBuilder::new(
                sentinels
                    .iter()
                    .map(|a| info(a, false).map(|i| i.addr().clone()))
                    .collect::<RedisResult<Vec<_>>>()?,
                master.clone(),
                SentinelServerType::Master,
            )?
            .set_client_to_redis_db(config.database);
            if config.tls {
                b = b.set_client_to_redis_tls_mode(redis::TlsMode::Secure);
            }
            if let Some(u) = &config.username {
                b = b.set_client_to_redis_username(u);
            }
            if let Some(p) = &config.password {
                b = b.set_client_to_redis_password(p);
            }
            let client = b.build()?.async_get_client().await?;
            manager(client, patience).await
        }
    }
}

async fn manager(client: Client, patience: Duration) -> RedisResult<Conn> {
    let settings = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(patience))
        .set_response_timeout(Some(patience))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(200));
    Ok(Conn::Single(
        ConnectionManager::new_with_config(client, settings).await?,
    ))
}

fn redis_settings(config: &Redis) -> RedisConnectionInfo {
    let mut s = RedisConnectionInfo::default().set_db(config.database);
    if let Some(u) = &config.username {
        s = s.set_username(u);
    }
    if let Some(p) = &config.password {
        s = s.set_password(p);
    }
    s
}

/// `host:port` as a connection address, with TLS when asked.
fn info(addr: &str, tls: bool) -> RedisResult<ConnectionInfo> {
    let scheme = if tls { "rediss" } else { "redis" };
    format!("{scheme}://{addr}").into_connection_info()
}
