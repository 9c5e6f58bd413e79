//! The `cache` policy: a shared HTTP cache (RFC 9111) around the rest of
//! the chain. The request phase looks the request up and answers from the
//! store when it may (fresh, or stale where allowed), or lets the request
//! go on (made conditional when a stored answer needs validating, with
//! concurrent misses of one key coalesced); the response phase stores what
//! came back (copying the body as it streams, see `tee.rs`), merges a 304
//! into the stored answer, or serves a stale answer for an origin error.
//! The rules themselves are in `tollgate_edge::cache`.

mod answer;
mod background;
mod invalidate;
mod purge;
mod tee;

use std::cell::RefCell;
use std::sync::Arc;
use std::time::SystemTime;

use http::header::{self, HeaderValue};
use http::{HeaderMap, HeaderName, Method, Response};
use tollgate_config::Route;
use tollgate_core::{ErrorKind, ErrorSource, ProxyError};
use tollgate_edge::cache::control::{RequestDirectives, ResponseDirectives};
use tollgate_edge::cache::entry::Entry;
use tollgate_edge::cache::flight::{FlightGuard, Join};
use tollgate_edge::cache::freshness::{self, Reuse};
use tollgate_edge::cache::key::{primary_key, secondary_key, KeyInput, Vary};
use tollgate_edge::cache::status::{CacheStatus, Fwd};
use tollgate_edge::cache::storable::{storable, RequestFacts, Skip};
use tollgate_edge::cache::store::Lookup;
use tollgate_edge::cache::Cache;

pub(crate) use background::{revalidate, Background};
pub use tee::TeeBody;

use super::ChainState;
use crate::body::ResponseBody;
use crate::metrics_edge::CacheLookup;
use crate::pipeline::{refusal, Incoming};
use answer::CACHE_STATUS;
use invalidate::{invalidation, is_safe, Invalidate};
use tee::Destination;

thread_local! {
    /// Key and comparison buffers, reused so a hit allocates no key.
    static SCRATCH: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// What the cache's request phase left for its response phase.
#[derive(Debug)]
pub(crate) struct CacheStep {
    cache: Arc<Cache>,
    mode: Mode,
}

#[derive(Debug)]
enum Mode {
    /// Answered by the error phase (stale-if-error): nothing more to do.
    Answered,
    /// Forwarded without looking for or storing anything.
    Pass {
        status: CacheStatus,
        invalidate: Option<Invalidate>,
    },
    /// Forwarded to fill or refresh the store.
    Fetch(Box<Fetch>),
}

/// A request on its way to the origin for the store.
#[derive(Debug)]
struct Fetch {
    key: Box<[u8]>,
    status: CacheStatus,
    /// The stored answer being validated, also kept for stale-if-error.
    stale: Option<Arc<Entry>>,
    /// The request carries our validators (a 304 is an answer to us).
    ours: bool,
    /// The request's fields as the client sent them (Vary, conditionals, Range).
    client: HeaderMap,
    request_time: SystemTime,
    facts: RequestFacts,
    guard: Option<FlightGuard>,
    id_header: HeaderName,
    request_id: HeaderValue,
}

/// The request phase. `step` is the policy's index in the route's chain.
/// `Err` is an answer that ends the request (a hit, a purge, a 504): it
/// leaves nothing for the response phase, so a hit costs no step state.
pub(super) async fn on_request(
    cache: &Arc<Cache>,
    route: &Route,
    req: &mut Incoming<'_>,
    host: &str,
    step: usize,
    chain: &mut ChainState,
) -> Result<Box<CacheStep>, Response<ResponseBody>> {
    let mode = decide(cache, route, req, host, step, chain).await?;
    Ok(Box::new(CacheStep {
        cache: cache.clone(),
        mode,
    }))
}

async fn decide(
    cache: &Arc<Cache>,
    route: &Route,
    req: &mut Incoming<'_>,
    host: &str,
    step: usize,
    chain: &mut ChainState,
) -> Result<Mode, Response<ResponseBody>> {
    let policy = cache.policy();
    if let Some(p) = &policy.purge {
        if req.method == p.method {
            return Err(purge::answer(cache, p, req, host));
        }
    }
    let scheme = req.client.proto;
    let get = req.method == Method::GET;
    if !(get || req.method == Method::HEAD) || req.upgrade {
        let invalidate = (!is_safe(&req.method)).then(|| invalidation(cache, req, scheme, host));
        let fwd = if req.upgrade {
            Fwd::Bypass
        } else {
            Fwd::Method
        };
        let status = CacheStatus::forward(fwd);
        chain.cache_lookup = Some(CacheLookup::Bypass);
        return Ok(Mode::Pass { status, invalidate });
    }
    let directives = RequestDirectives::parse(&req.headers);
    let mut collapsed = false;
    let mut waited = false;
    let found = loop {
        let now = SystemTime::now();
        let found = SCRATCH.with_borrow_mut(|(key, scratch)| {
            let input = KeyInput {
                scheme,
                host,
                path: req.uri.path(),
                query: req.uri.query(),
                headers: &req.headers,
            };
            primary_key(key, &input, &policy.key);
            classify(
                cache.lookup(key, &req.headers, scratch),
                key,
                now,
                directives.as_ref(),
                chain.is_revalidation(),
            )
        });
        let Found::Fetch { key, .. } = &found else {
            break found;
        };
        if !get || waited || (req.headers.contains_key(header::RANGE) && found.stale().is_none()) {
            break found;
        }
        if directives.as_ref().is_some_and(|d| d.only_if_cached) {
            break found;
        }
        match cache.join(key) {
            Join::Leader(guard) => break found.with_guard(guard),
            Join::Follower(_) if chain.is_revalidation() => {
                // Someone is already fetching it: this refresh has nothing to do.
                return Err(Response::new(ResponseBody::Empty));
            }
            Join::Follower(wait) => {
                let _ = tokio::time::timeout(policy.lock_timeout, wait).await;
                waited = true;
                collapsed = true;
            }
        }
    };
    let now = SystemTime::now();
    if !chain.is_revalidation() {
        chain.cache_lookup = Some(lookup_result(&found));
    }
    match found {
        Found::Serve {
            entry,
            mut status,
            revalidate,
        } => {
            status.collapsed = collapsed;
            if revalidate && entry.begin_revalidation() {
                chain.background = Some(Background::new(step, entry.clone(), req));
            }
            let resp = answer::serve(&entry, &req.method, &req.headers, status, now);
            Err(resp)
        }
        Found::Fetch {
            key,
            fwd,
            stale,
            guard,
        } => {
            let mut status = CacheStatus::forward(fwd);
            status.collapsed = collapsed;
            if directives.as_ref().is_some_and(|d| d.only_if_cached) {
                // RFC 9111 §5.2.1.7 answers 504, the status of an upstream timeout.
                status.detail = Some("only-if-cached");
                let mut resp = refusal(
                    ErrorKind::UpstreamTimeout,
                    "not in the cache (only-if-cached)",
                    &req.request_id,
                );
                resp.headers_mut().insert(&CACHE_STATUS, status.value());
                return Err(resp);
            }
            if !get {
                // HEAD is answered from a stored GET, never stored itself.
                return Ok(Mode::Pass {
                    status,
                    invalidate: None,
                });
            }
            if req.headers.contains_key(header::RANGE) && stale.is_none() {
                // A range that missed goes as it is; its 206 is not stored.
                status.detail = Some("range");
                return Ok(Mode::Pass {
                    status,
                    invalidate: None,
                });
            }
            let client = req.headers.clone();
            let ours = stale
                .as_ref()
                .is_some_and(|e| make_conditional(&mut req.headers, e));
            let fetch = Fetch {
                key,
                status,
                stale,
                ours,
                client,
                request_time: now,
                facts: RequestFacts {
                    get: true,
                    authorization: req.headers.contains_key(header::AUTHORIZATION),
                    no_store: directives.as_ref().is_some_and(|d| d.no_store),
                },
                guard,
                id_header: route.forwarding.request_id_header.clone(),
                request_id: req.request_id.clone(),
            };
            Ok(Mode::Fetch(Box::new(fetch)))
        }
    }
}

/// A lookup's result as `/metrics` counts it.
fn lookup_result(found: &Found) -> CacheLookup {
    match found {
        Found::Serve { status, .. } if status.detail.is_some() => CacheLookup::Stale,
        Found::Serve { .. } => CacheLookup::Hit,
        Found::Fetch { fwd, .. } => match fwd {
            Fwd::UriMiss | Fwd::VaryMiss => CacheLookup::Miss,
            Fwd::Stale => CacheLookup::Expired,
            Fwd::Request => CacheLookup::Request,
            Fwd::Method | Fwd::Bypass => CacheLookup::Bypass,
        },
    }
}

/// What a lookup means for the request.
enum Found {
    /// Answer from the store (`revalidate`: and refresh it in the background).
    Serve {
        entry: Arc<Entry>,
        status: CacheStatus,
        revalidate: bool,
    },
    /// Go to the origin.
    Fetch {
        key: Box<[u8]>,
        fwd: Fwd,
        stale: Option<Arc<Entry>>,
        guard: Option<FlightGuard>,
    },
}

impl Found {
    fn stale(&self) -> Option<&Arc<Entry>> {
        match self {
            Found::Fetch { stale, .. } => stale.as_ref(),
            Found::Serve { .. } => None,
        }
    }

    fn with_guard(self, g: FlightGuard) -> Self {
        match self {
            Found::Fetch {
                key, fwd, stale, ..
            } => Found::Fetch {
                key,
                fwd,
                stale,
                guard: Some(g),
            },
            serve => serve,
        }
    }
}

fn classify(
    lookup: Lookup,
    key: &[u8],
    now: SystemTime,
    directives: Option<&RequestDirectives>,
    revalidation: bool,
) -> Found {
    let fetch = |fwd, stale| Found::Fetch {
        key: key.into(),
        fwd,
        stale,
        guard: None,
    };
    let entry = match lookup {
        Lookup::Found(e) => e,
        Lookup::VaryMiss => return fetch(Fwd::VaryMiss, None),
        Lookup::Miss => return fetch(Fwd::UriMiss, None),
    };
    let age = entry.age(now);
    if revalidation {
        return fetch(Fwd::Stale, Some(entry));
    }
    let stale_status = |detail| CacheStatus {
        ttl: Some(entry.ttl(now)),
        detail: Some(detail),
        ..CacheStatus::HIT
    };
    match freshness::reuse(entry.lifetime, age, &entry.rules, directives) {
        Reuse::Fresh => Found::Serve {
            entry,
            status: CacheStatus::HIT,
            revalidate: false,
        },
        Reuse::StaleAccepted => Found::Serve {
            status: stale_status("max-stale"),
            entry,
            revalidate: false,
        },
        Reuse::StaleWhileRevalidate => Found::Serve {
            status: stale_status("stale-while-revalidate"),
            entry,
            revalidate: true,
        },
        Reuse::Validate => {
            // The request's own directives are why, when the entry is fresh for others.
            let by_request = directives.is_some()
                && freshness::reuse(entry.lifetime, age, &entry.rules, None) == Reuse::Fresh;
            fetch(
                if by_request { Fwd::Request } else { Fwd::Stale },
                Some(entry),
            )
        }
    }
}

/// Replaces the client's conditionals and range with the stored answer's
/// validators; false when it has none (the request then goes unconditional).
fn make_conditional(headers: &mut HeaderMap, entry: &Entry) -> bool {
    let etag = entry.etag().cloned();
    let last_modified = entry.headers.get(header::LAST_MODIFIED).cloned();
    if etag.is_none() && last_modified.is_none() {
        headers.remove(header::RANGE);
        headers.remove(header::IF_RANGE);
        return false;
    }
    for name in [
        header::IF_NONE_MATCH,
        header::IF_MODIFIED_SINCE,
        header::IF_MATCH,
        header::IF_UNMODIFIED_SINCE,
        header::RANGE,
        header::IF_RANGE,
    ] {
        headers.remove(name);
    }
    if let Some(e) = etag {
        headers.insert(header::IF_NONE_MATCH, e);
    }
    if let Some(lm) = last_modified {
        headers.insert(header::IF_MODIFIED_SINCE, lm);
    }
    true
}

/// The response phase.
pub(super) fn on_response(step: CacheStep, resp: &mut Response<ResponseBody>) {
    match step.mode {
        Mode::Answered => {}
        Mode::Pass {
            mut status,
            invalidate,
        } => {
            let code = resp.status();
            if let Some(inv) = invalidate {
                if code.is_success() || code.is_redirection() {
                    inv.apply(&step.cache, resp.headers());
                }
            }
            status.fwd_status = Some(code.as_u16());
            resp.headers_mut().insert(&CACHE_STATUS, status.value());
        }
        Mode::Fetch(fetch) => fetched(&step.cache, *fetch, resp),
    }
}

/// What to do with the origin's answer to a fetch.
fn fetched(cache: &Arc<Cache>, mut f: Fetch, resp: &mut Response<ResponseBody>) {
    let now = SystemTime::now();
    let code = resp.status().as_u16();
    let storing = cache.storing(&f.id_header);
    f.status.fwd_status = Some(code);
    if let (true, 304, Some(stale)) = (f.ours, code, &f.stale) {
        // §4.3.4: the stored answer is still good; refresh it and answer from it.
        let updated = Arc::new(stale.freshen(resp.headers(), f.request_time, now, &storing));
        let cc = ResponseDirectives::parse_targeted(&updated.headers, &storing.targeted);
        if !(cc.no_store || cc.private || f.facts.no_store) {
            if let Vary::Fields(fields) = Vary::of(&updated.headers) {
                let secondary = secondary_key(&f.client, &fields);
                cache.insert(f.key.clone(), fields, secondary, updated.clone());
            }
        }
        f.status.ttl = Some(updated.ttl(now));
        *resp = answer::serve(&updated, &Method::GET, &f.client, f.status, now);
        resp.headers_mut().insert(&f.id_header, f.request_id);
        return;
    }
    if code >= 500 {
        if let Some(stale) = &f.stale {
            if freshness::stale_if_error(stale.lifetime, stale.age(now), &stale.rules) {
                *resp = stale_answer(stale, &f, now);
                return;
            }
        }
    }
    let headers = resp.headers();
    let cc = ResponseDirectives::parse_targeted(headers, &storing.targeted);
    let date = freshness::date_or(headers, now);
    let lifetime = freshness::lifetime(code, &cc, headers, date, storing.heuristic);
    let policy = cache.policy();
    let decision = storable(
        f.facts,
        code,
        headers,
        &cc,
        lifetime,
        policy.store_set_cookie,
    )
    .and_then(|()| match resp.body().exact_len() {
        Some(n) if n > policy.max_object_size => Err(Skip::TooLarge),
        _ => Ok(()),
    });
    match (decision, Vary::of(headers)) {
        (Ok(()), Vary::Fields(fields)) => {
            let secondary = secondary_key(&f.client, &fields);
            let entry = Entry::new(resp.status(), headers, &cc, f.request_time, now, &storing);
            f.status.stored = true;
            let to = Destination {
                cache: cache.clone(),
                key: f.key,
                vary: (fields, secondary),
                entry,
                limit: policy.max_object_size,
                guard: f.guard.take(),
            };
            if code == 204 {
                to.store(bytes::Bytes::new());
            } else {
                let inner = std::mem::replace(resp.body_mut(), ResponseBody::Empty);
                *resp.body_mut() = ResponseBody::Tee(Box::new(TeeBody::new(inner, to)));
            }
        }
        (Err(skip), _) => f.status.detail = Some(skip.detail()),
        (Ok(()), Vary::Any) => f.status.detail = Some(Skip::VaryAny.detail()),
    }
    resp.headers_mut().insert(&CACHE_STATUS, f.status.value());
}

/// The stale answer served in place of an origin error.
fn stale_answer(stale: &Entry, f: &Fetch, now: SystemTime) -> Response<ResponseBody> {
    let mut status = f.status;
    status.ttl = Some(stale.ttl(now));
    status.detail = Some("stale-if-error");
    let mut resp = answer::serve(stale, &Method::GET, &f.client, status, now);
    resp.headers_mut()
        .insert(&f.id_header, f.request_id.clone());
    resp
}

/// The error phase: a stale answer in place of an origin failure, when
/// its stale-if-error window allows.
pub(super) fn on_error(step: &mut CacheStep, err: &ProxyError) -> Option<Response<ResponseBody>> {
    if err.source != ErrorSource::Upstream {
        return None;
    }
    let Mode::Fetch(f) = &step.mode else {
        return None;
    };
    let stale = f.stale.as_ref()?;
    let now = SystemTime::now();
    if !freshness::stale_if_error(stale.lifetime, stale.age(now), &stale.rules) {
        return None;
    }
    let resp = stale_answer(stale, f, now);
    step.mode = Mode::Answered;
    Some(resp)
}
