//! The admin API's backend: what `tollgate_ops::admin` answers with, read
//! from the running server, and the configuration reload that SIGHUP and
//! `POST /reload` share. The HTTP side (listener, token, paths) is in
//! `tollgate_ops::admin`.

mod metrics;
mod redact;
pub(crate) mod reload;
mod views;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};
use tollgate_config::{Config, Policy};
use tollgate_edge::cache::Cache;
use tollgate_ops::admin::{AdminBackend, Purge, Reply};
use tollgate_proxy::RunningServer;

use crate::upgrade::Upgrader;

/// What the admin API reads and acts on for one `tollgate run`.
#[derive(Debug)]
pub(crate) struct Backend {
    path: PathBuf,
    started: Instant,
    started_at: SystemTime,
    /// Set once the listeners are bound and the snapshot built; taken out
    /// again when draining starts.
    server: RwLock<Option<Arc<RunningServer>>>,
    draining: AtomicBool,
    /// The file's hash and the last reload's outcome.
    file: Mutex<FileState>,
    /// Settings read at start only, to say when a reload changes them.
    start_only: reload::StartOnly,
    /// Held while a configuration is validated and applied.
    applying: Mutex<()>,
    /// Starts the new binary on `POST /upgrade` and SIGUSR2.
    upgrader: Arc<Upgrader>,
}

/// What `/status` and `/config` say about the configuration.
#[derive(Debug, Default)]
struct FileState {
    /// Hash of the text applied last.
    hash: Option<String>,
    last_reload: Option<Value>,
    /// The text applied last (at start, by a reload, or by `PUT /config`).
    text: Option<String>,
    /// Reloads tried (file, SIGHUP, admin API; not dry runs) and refused.
    reloads: u64,
    reload_failures: u64,
    /// When the last reload was tried.
    last_reload_at: Option<SystemTime>,
    /// The last [`HISTORY`] reloads, oldest first, for the dashboard.
    history: std::collections::VecDeque<Value>,
}

/// How many reloads `/status` lists in `reload_history`.
const HISTORY: usize = 20;

impl Backend {
    /// A backend for the configuration file at `path`, loaded as
    /// `config`, before the server starts.
    pub(crate) fn new(path: &Path, config: &Config, upgrader: Arc<Upgrader>) -> Self {
        let text = std::fs::read_to_string(path).ok();
        let hash = text.as_ref().map(|t| reload::hash_hex(t.as_bytes()));
        Self {
            path: path.to_path_buf(),
            started: Instant::now(),
            started_at: SystemTime::now(),
            server: RwLock::new(None),
            draining: AtomicBool::new(false),
            file: Mutex::new(FileState {
                hash,
                last_reload: None,
                text,
                ..FileState::default()
            }),
            applying: Mutex::new(()),
            upgrader,
            start_only: reload::StartOnly {
                log: config.log.clone(),
                admin: config.admin.clone(),
            },
        }
    }

    /// The server is up: `/readyz` answers 200 from now on.
    pub(crate) fn attach(&self, server: RunningServer) {
        *self.server.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(server));
    }

    /// Draining starts: `/readyz` answers 503 from now on.
    pub(crate) fn mark_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// The workers stop accepting and start draining at once (the process
    /// that replaced this one accepts now).
    pub(crate) fn stop_accepting(&self) {
        if let Some(server) = self.server() {
            server.stop_accepting();
        }
    }

    /// Draining starts: `/readyz` answers 503 and the server is handed
    /// back for its shutdown (after admin calls in progress let go of it,
    /// waited for up to 10 s).
    pub(crate) fn detach(&self) -> Option<RunningServer> {
        self.draining.store(true, Ordering::SeqCst);
        let mut server = self
            .server
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match Arc::try_unwrap(server) {
                Ok(s) => return Some(s),
                Err(shared) if Instant::now() < deadline => {
                    server = shared;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(_) => return None,
            }
        }
    }

    fn server(&self) -> Option<Arc<RunningServer>> {
        self.server
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reads the file again and applies it (SIGHUP, `POST /reload`), or
    /// only checks it (`dry_run`); logs (saying `via` what) and remembers
    /// the outcome.
    pub(crate) fn reload_file(&self, dry_run: bool, via: &'static str) -> Reply {
        self.apply(reload::read_file(&self.path), dry_run, false, via)
    }

    /// Starts the new binary and hands the listening sockets over (SIGUSR2,
    /// `POST /upgrade`): the new pid once it serves, or why not.
    pub(crate) fn upgrade_now(&self) -> Result<u32, String> {
        let Some(server) = self.server() else {
            return Err("tollgate is starting or draining".into());
        };
        let outcome = self.upgrader.upgrade(&server);
        match &outcome {
            Ok(pid) => tracing::info!(new_pid = pid, "upgrade: the new process serves"),
            Err(why) => {
                tracing::error!(reason = why.as_str(), "upgrade failed; still serving")
            }
        }
        outcome
    }

    /// Validates `text` as the configuration file and, unless `dry_run`,
    /// applies it; with `write`, an applied text replaces the file
    /// (keeping `FILE.prev`). One at a time: SIGHUP and admin calls queue.
    fn apply(
        &self,
        text: Result<String, String>,
        dry_run: bool,
        write: bool,
        via: &'static str,
    ) -> Reply {
        let Some(server) = self.server() else {
            return Reply::error(503, "tollgate is starting or draining");
        };
        let _one_at_a_time = self.applying.lock().unwrap_or_else(|p| p.into_inner());
        let applied_text = text.clone().ok();
        if !dry_run {
            crate::notify::reloading();
        }
        let outcome = reload::reload(&server, &self.path, text, &self.start_only, dry_run);
        if !dry_run {
            crate::notify::reloaded();
        }
        let mut at = String::new();
        tollgate_ops::format_rfc3339_millis(SystemTime::now(), &mut at);
        let mut body = json!({
            "applied": outcome.applied,
            "dry_run": dry_run,
            "changes": outcome.changes,
            "reason": outcome.reason,
            "errors": outcome.errors,
            "config_hash": outcome.hash,
            "next_start": outcome.next_start,
            "at": at,
        });
        if dry_run {
            let status = if outcome.errors.is_empty() { 200 } else { 422 };
            return Reply { status, body };
        }
        if outcome.applied && write {
            let written = applied_text
                .as_deref()
                .map(|t| reload::write_atomically(&self.path, t));
            body["written"] = json!(matches!(written, Some(Ok(()))));
            if let Some(Err(e)) = written {
                body["write_error"] = json!(e.to_string());
            }
        }
        self.remember(&outcome, &at, applied_text, via);
        let status = if outcome.applied { 200 } else { 422 };
        Reply { status, body }
    }

    /// Logs a reload's outcome and keeps it for `/status` (and the applied
    /// text for `/config`).
    fn remember(
        &self,
        outcome: &reload::Outcome,
        at: &str,
        text: Option<String>,
        via: &'static str,
    ) {
        let file = self.path.display();
        let mut state = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if state.history.len() == HISTORY {
            state.history.pop_front();
        }
        state.history.push_back(json!({
            "at": at,
            "source": via,
            "result": if outcome.applied { "applied" } else { "refused" },
            "reason": outcome.reason,
            "errors": outcome.errors.len(),
            "config_hash": outcome.hash,
            "changes": outcome.changes,
        }));
        state.reloads += 1;
        state.reload_failures += u64::from(!outcome.applied);
        state.last_reload_at = Some(SystemTime::now());
        state.last_reload = Some(json!({
            "at": at,
            "result": if outcome.applied { "applied" } else { "refused" },
            "reason": outcome.reason,
        }));
        if outcome.applied {
            state.hash = outcome.hash.clone();
            state.text = text;
            let changes = outcome.changes.to_string();
            let summary = reload::summary(&outcome.changes);
            tracing::info!(
                %file,
                via,
                summary = summary.as_str(),
                changes = changes.as_str(),
                "reload applied"
            );
            for part in &outcome.next_start {
                tracing::warn!(%file, "{part} settings changed; they apply at the next start");
            }
        } else {
            let errors: Vec<&str> = outcome
                .errors
                .iter()
                .map(|e| e["text"].as_str().or(e["message"].as_str()).unwrap_or(""))
                .collect();
            let reason = outcome.reason.as_deref().unwrap_or("");
            tracing::warn!(
                %file,
                via,
                reason,
                errors = errors.join("; ").as_str(),
                "reload refused"
            );
        }
    }
}

impl AdminBackend for Backend {
    fn ready(&self) -> bool {
        !self.draining.load(Ordering::SeqCst) && self.server().is_some()
    }

    fn status(&self) -> Value {
        let server = self.server();
        let snapshot = server.as_ref().map(|s| s.snapshot());
        let state = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let mut started_at = String::new();
        tollgate_ops::format_rfc3339_millis(self.started_at, &mut started_at);
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "pid": std::process::id(),
            "started_at": started_at,
            "uptime_seconds": self.started.elapsed().as_secs(),
            "ready": self.ready(),
            "config": { "path": self.path.display().to_string(), "hash": state.hash },
            "last_reload": state.last_reload,
            "reload_history": state.history,
            "workers": snapshot.as_ref().map(|s| s.config.server.workers),
            "listeners": server.as_deref().map(views::listeners).unwrap_or_default(),
            "routes": snapshot.as_ref().map(|s| s.config.routes.len()),
            "upstreams": snapshot.as_ref().map(|s| s.config.upstreams.len()),
        })
    }

    fn config(&self) -> Value {
        let state = self.file.lock().unwrap_or_else(|p| p.into_inner());
        match &state.text {
            Some(text) => redact::config_json(text).unwrap_or_else(|e| json!({ "error": e })),
            None => json!({ "error": "the configuration file could not be read" }),
        }
    }

    fn put_config(&self, text: String, dry_run: bool, write: bool) -> Reply {
        self.apply(Ok(text), dry_run, write, "PUT /config")
    }

    fn routes(&self) -> Value {
        self.server().map_or(json!({ "routes": [] }), |s| {
            views::routes(&s.snapshot().config)
        })
    }

    fn upstreams(&self) -> Value {
        self.server()
            .map_or(json!({ "upstreams": [] }), |s| views::upstreams(&s))
    }

    fn certificates(&self) -> Value {
        self.server().map_or(json!({ "certificates": [] }), |s| {
            views::certificates(&s.snapshot().config)
        })
    }

    fn caches(&self) -> Value {
        self.server()
            .map_or(json!({ "caches": [] }), |s| views::caches(&s))
    }

    fn consumers(&self) -> Value {
        self.server().map_or(json!({ "consumers": [] }), |s| {
            views::consumers(&s.snapshot().config)
        })
    }

    fn reload(&self, dry_run: bool) -> Reply {
        self.reload_file(dry_run, "POST /reload")
    }

    fn upgrade(&self) -> Reply {
        match self.upgrade_now() {
            Ok(pid) => Reply::ok(json!({
                "upgraded": true,
                "old_pid": std::process::id(),
                "new_pid": pid,
            })),
            Err(why) => Reply::error(502, why),
        }
    }

    fn purge(&self, name: &str, what: Purge) -> Reply {
        let Some(server) = self.server() else {
            return Reply::error(503, "tollgate is starting or draining");
        };
        let snapshot = server.snapshot();
        let Some(cache) = snapshot
            .caches()
            .into_iter()
            .find(|c| cache_routes(&snapshot.config, c).iter().any(|r| r == name))
        else {
            return Reply::error(404, format!("no cache store used by a route `{name}`"));
        };
        let before = cache.len();
        let purged = match &what {
            Purge::All => cache.purge_prefix(b"") as u64,
            Purge::Key(k) => u64::from(cache.purge_key(k.as_bytes())),
            Purge::Prefix(p) => cache.purge_prefix(p.as_bytes()) as u64,
        };
        tracing::info!(cache = name, purged, "cache purged through the admin API");
        Reply::ok(
            json!({ "cache": name, "purged": purged, "entries_before": before, "entries": cache.len() }),
        )
    }

    fn metrics(&self) -> Vec<tollgate_ops::metrics::Family> {
        let mut families = self.server().map(|s| s.metrics()).unwrap_or_default();
        if let Some(server) = self.server() {
            families.extend(metrics::certificate_families(&server.snapshot().config));
        }
        let state = self.file.lock().unwrap_or_else(|p| p.into_inner());
        families.extend(metrics::process_families(&state));
        families
    }

    fn drain(&self, upstream: &str, address: &str, drained: bool) -> Reply {
        self.drain_target(upstream, address, drained)
    }

    fn weight(&self, upstream: &str, address: &str, weight: Option<u32>) -> Reply {
        let Some(server) = self.server() else {
            return Reply::error(503, "tollgate is starting or draining");
        };
        match server.set_weight(upstream, address, weight) {
            Ok(()) => {
                tracing::info!(
                    upstream,
                    target = address,
                    weight,
                    "target weight set through the admin API"
                );
                Reply::ok(
                    json!({ "upstream": upstream, "target": address, "weight_override": weight }),
                )
            }
            Err(e) if e.starts_with("weight") => Reply::error(400, e),
            Err(e) => Reply::error(404, e),
        }
    }
}

impl Backend {
    /// `POST /upstreams/{name}/targets/{address}/drain|enable`.
    fn drain_target(&self, upstream: &str, address: &str, drained: bool) -> Reply {
        let Some(server) = self.server() else {
            return Reply::error(503, "tollgate is starting or draining");
        };
        match server.set_drained(upstream, address, drained) {
            Ok(()) => {
                let action = if drained { "drained" } else { "enabled" };
                tracing::info!(
                    upstream,
                    target = address,
                    "target {action} through the admin API"
                );
                Reply::ok(json!({ "upstream": upstream, "target": address, "drained": drained }))
            }
            Err(e) => Reply::error(404, e),
        }
    }
}

/// The routes whose policy chain uses the cache store `cache`.
pub(crate) fn cache_routes(config: &Config, cache: &Cache) -> Vec<String> {
    config
        .routes
        .iter()
        .filter(|r| {
            r.policies.iter().any(|p| match p {
                Policy::Cache(def) => std::ptr::eq(cache.policy(), Arc::as_ptr(def)),
                _ => false,
            })
        })
        .map(|r| r.name.clone())
        .collect()
}

/// A store's name: the first route that uses it.
pub(crate) fn cache_name(config: &Config, cache: &Cache) -> Option<String> {
    cache_routes(config, cache).into_iter().next()
}
