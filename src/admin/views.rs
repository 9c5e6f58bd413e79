//! What the admin API's read endpoints answer, built from the running
//! server's snapshot and upstream states. No secret is read here: routes
//! show where they go, not fixed bodies or header values.

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use tollgate_config::{Config, ListenerProtocol, MtlsMapping, PathMatch, RouteTarget};
use tollgate_proxy::{BreakerState, RunningServer, TargetState};

/// `/routes`: every route, what it matches and where it goes.
pub(crate) fn routes(config: &Config) -> Value {
    let routes: Vec<Value> = config
        .routes
        .iter()
        .map(|r| {
            let path = r.matcher.path.as_ref().map(|p| match p {
                PathMatch::Exact(s) => json!({ "exact": s }),
                PathMatch::Prefix(s) => json!({ "prefix": s }),
                PathMatch::Regex(re) => json!({ "regex": re.as_str() }),
            });
            let target = match &r.target {
                RouteTarget::Upstream(u) => {
                    json!({ "upstream": config.upstreams.get(*u).map(|u| &u.name) })
                }
                RouteTarget::Respond(f) => json!({ "respond": { "status": f.status.as_u16() } }),
                RouteTarget::Redirect(d) => json!({ "redirect": { "status": d.status.as_u16() } }),
                RouteTarget::Static(s) => json!({ "static": { "root": s.root } }),
                RouteTarget::Aggregate(a) => json!({ "aggregate": {
                    "calls": a.calls.iter().map(|c| c.name.as_str()).collect::<Vec<_>>()
                } }),
            };
            json!({
                "name": r.name,
                "listeners": r.listeners,
                "hosts": r.matcher.hosts.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "path": path,
                "methods": r.matcher.methods.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
                "target": target,
                "policies": r.policies.iter().map(|p| p.kind()).collect::<Vec<_>>(),
                "timeout_ms": millis(r.timeout),
            })
        })
        .collect();
    json!({ "routes": routes })
}

/// `/upstreams`: every upstream with its targets' health and load.
pub(crate) fn upstreams(server: &RunningServer) -> Value {
    let snapshot = server.snapshot();
    let drained = server.drained_targets();
    let overrides = server.weight_overrides();
    let upstreams: Vec<Value> = server
        .upstream_states()
        .iter()
        .map(|u| {
            let config = snapshot.config.upstreams.iter().find(|c| c.name == u.name);
            let weight = |t: usize| config.and_then(|c| c.targets.get(t)).map(|t| t.weight);
            let targets: Vec<Value> = u
                .targets
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let set = overrides
                        .iter()
                        .find(|(n, a, _)| *n == u.name && *a == t.address)
                        .map(|(_, _, w)| *w);
                    let mut v = target(t, set.or(weight(i)));
                    v["configured_weight"] = json!(weight(i));
                    v["weight_override"] = json!(set);
                    v["drained"] =
                        json!(drained.iter().any(|(n, a)| *n == u.name && *a == t.address));
                    v
                })
                .collect();
            json!({
                "name": u.name,
                "balance": config.map(|c| format!("{:?}", c.balance)),
                "breaker": u.breaker.map(breaker),
                "available": u.targets.iter().filter(|t| t.available).count(),
                "total": u.targets.len(),
                "targets": targets,
            })
        })
        .collect();
    let drained: Vec<Value> = drained
        .iter()
        .map(|(u, t)| json!({ "upstream": u, "target": t }))
        .collect();
    let weights: Vec<Value> = overrides
        .iter()
        .map(|(u, t, w)| json!({ "upstream": u, "target": t, "weight": w }))
        .collect();
    json!({ "upstreams": upstreams, "drained": drained, "weights": weights })
}

/// One target: health and why, ejection, load, latency, addresses.
fn target(t: &TargetState, weight: Option<u32>) -> Value {
    let reason = match (&t.last_check, t.ejected_for) {
        (Some((false, why, _)), _) if !t.healthy => Some(format!("active check failed: {why}")),
        (_, Some(left)) => Some(format!(
            "ejected after passive failures, {}s left",
            left.as_secs()
        )),
        _ => None,
    };
    json!({
        "address": t.address,
        "weight": weight,
        "resolved": t.resolved.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "available": t.available,
        "healthy": t.healthy,
        "reason": reason,
        "ejected_for_ms": t.ejected_for.map(millis),
        "in_flight": t.in_flight,
        "latency_ms": t.latency.map(|l| l.as_secs_f64() * 1000.0),
        "last_check": t.last_check.as_ref().map(|(ok, why, ago)| json!({
            "ok": ok,
            "detail": why,
            "seconds_ago": ago.as_secs(),
        })),
    })
}

/// A breaker state as the admin API names it.
fn breaker(state: BreakerState) -> &'static str {
    match state {
        BreakerState::Closed => "closed",
        BreakerState::Open => "open",
        BreakerState::HalfOpen => "half_open",
    }
}

/// `/caches`: each cache store, named by the routes that use it.
pub(crate) fn caches(server: &RunningServer) -> Value {
    let snapshot = server.snapshot();
    let stores: Vec<Value> = snapshot
        .caches()
        .iter()
        .map(|c| {
            json!({
                "name": crate::admin::cache_name(&snapshot.config, c),
                "routes": crate::admin::cache_routes(&snapshot.config, c),
                "entries": c.len(),
                "bytes": c.size(),
                "max_bytes": c.policy().max_size,
            })
        })
        .collect();
    json!({ "caches": stores })
}

/// `/consumers`: who may call, in which groups, with what metadata, and
/// which kinds of credential each holds. API keys are counted, never shown
/// (not even their digests); Basic users by name only, never their hashes.
pub(crate) fn consumers(config: &Config) -> Value {
    let consumers: Vec<Value> = config
        .gateway
        .consumers
        .iter()
        .map(|c| {
            let metadata: serde_json::Map<String, Value> = c
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect();
            let mtls: Vec<Value> = c
                .mtls
                .iter()
                .map(|m| match m {
                    MtlsMapping::Subject(s) => json!({ "subject": s }),
                    MtlsMapping::San(s) => json!({ "san": s }),
                })
                .collect();
            json!({
                "name": c.name,
                "groups": c.groups,
                "metadata": metadata,
                "api_keys": c.api_keys.len(),
                "basic_auth_users": c.basic_auth.iter().map(|u| &u.username).collect::<Vec<_>>(),
                "jwt": c.jwt.iter().map(|j| json!({
                    "issuer": j.issuer, "claim": j.claim, "value": j.value,
                })).collect::<Vec<_>>(),
                "mtls": mtls,
            })
        })
        .collect();
    json!({ "consumers": consumers })
}

/// `/certificates`: each HTTPS listener's certificates as the files hold
/// them now (the TLS reload thread serves what is on disk): names and
/// expiry. Key files are never read here.
pub(crate) fn certificates(config: &Config) -> Value {
    let now = SystemTime::now();
    let mut out = Vec::new();
    for l in &config.listeners {
        let Some(tls) = &l.tls else { continue };
        for (i, c) in tls.certificates.iter().enumerate() {
            let mut entry = json!({
                "listener": l.name,
                "file": c.cert.path.display().to_string(),
                "default": i == tls.default_certificate,
            });
            match tollgate_net::tls::leaf_certificate(&c.cert) {
                Ok((names, not_after)) => {
                    let mut at = String::new();
                    if let Some(t) = not_after {
                        tollgate_ops::format_rfc3339_millis(t, &mut at);
                    }
                    let left = not_after.map(|t| match t.duration_since(now) {
                        Ok(d) => d.as_secs() as i64,
                        Err(e) => -(e.duration().as_secs() as i64),
                    });
                    entry["subject"] = json!(names.subject);
                    entry["dns_names"] = json!(names.dns);
                    entry["ip_addresses"] = json!(names.ips);
                    entry["not_after"] = json!((!at.is_empty()).then_some(at));
                    entry["expires_in_seconds"] = json!(left);
                }
                Err(e) => entry["error"] = json!(e),
            }
            out.push(entry);
        }
    }
    json!({ "certificates": out })
}

/// The listeners as `/status` shows them.
pub(crate) fn listeners(server: &RunningServer) -> Vec<Value> {
    let snapshot = server.snapshot();
    server
        .addresses()
        .iter()
        .map(|(name, addr)| {
            let protocol = snapshot
                .config
                .listeners
                .iter()
                .find(|l| &l.name == name)
                .map(|l| protocol(l.protocol));
            json!({ "name": name, "address": addr.to_string(), "protocol": protocol })
        })
        .collect()
}

/// A listener protocol as written in the file.
fn protocol(p: ListenerProtocol) -> &'static str {
    match p {
        ListenerProtocol::Http => "http",
        ListenerProtocol::Https => "https",
        ListenerProtocol::Tcp => "tcp",
        ListenerProtocol::TlsPassthrough => "tls_passthrough",
        ListenerProtocol::Udp => "udp",
    }
}

/// Whole milliseconds.
fn millis(d: Duration) -> u64 {
    d.as_millis().try_into().unwrap_or(u64::MAX)
}
