//! Raw (as written) → typed configuration. Every problem is collected with
//! its field path and location; nothing stops at the first error.

mod admin;
mod api;
mod forwarding;
mod gateway;
mod l4;
mod listener;
mod log;
pub(crate) mod policy;
mod redis;
mod resilience;
mod route;
mod security;
mod static_files;
mod tls;
mod trace;
mod upstream;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use ipnet::IpNet;

use crate::env::Expanded;
use crate::error::ConfigError;
use crate::raw::*;
use crate::typed::*;
use crate::units::{format_size, parse_duration, parse_size, parse_uint};
use forwarding::{builtin_forwarding, forwarding};

/// 1-based (line, column) in the file as written, when known.
pub(crate) type Loc = Option<(usize, usize)>;

/// Validation state: where errors go and how positions map back.
pub(crate) struct Ctx<'a> {
    file: &'a str,
    expanded: &'a Expanded,
    /// Directory relative file paths are resolved against.
    base: &'a Path,
    /// Every problem found so far.
    pub(crate) errors: Vec<ConfigError>,
    /// Names of the consumers defined (for policies that name one).
    consumers: Vec<String>,
    /// Names of the upstreams, in file order (for policies that fetch
    /// through one, validated before the upstreams themselves).
    upstream_names: Vec<String>,
    /// Whether the file has a `redis:` block (for `store: redis`).
    redis_defined: bool,
}

/// `` `a`, `b` ``, or `none` for an empty list (in messages).
fn quoted_list(items: &[&str]) -> String {
    if items.is_empty() {
        return "none".to_string();
    }
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    quoted.join(", ")
}

/// `base.field`, or `field` at the top level.
fn p(base: &str, field: &str) -> String {
    if base.is_empty() {
        field.to_string()
    } else {
        format!("{base}.{field}")
    }
}

impl<'a> Ctx<'a> {
    /// A context reporting errors against `file`.
    pub(crate) fn new(file: &'a str, expanded: &'a Expanded, base: &'a Path) -> Self {
        Self {
            file,
            expanded,
            base,
            errors: Vec::new(),
            consumers: Vec::new(),
            upstream_names: Vec::new(),
            redis_defined: false,
        }
    }

    /// Maps a position of the expanded text to the file as written.
    pub(crate) fn map(&self, line: u64, column: u64) -> Loc {
        if line == 0 {
            return None;
        }
        Some(self.expanded.original((line as usize, column as usize)))
    }

    /// Where a spanned value was written.
    fn at<T>(&self, s: &Sp<T>) -> Loc {
        self.map(s.referenced.line(), s.referenced.column())
    }

    /// Records a problem.
    fn err(&mut self, loc: Loc, path: &str, message: impl Into<String>) {
        self.errors
            .push(ConfigError::new(self.file, loc, path, message));
    }

    /// Checks that exactly one alternative of a choice was written: `given`
    /// lists the options present, `needs` says what needs one of them
    /// ("a route needs exactly one of `upstream`, `respond` or `redirect`").
    /// Reports otherwise, naming the options found, and returns false.
    fn exactly_one(&mut self, loc: Loc, path: &str, given: &[Option<&str>], needs: &str) -> bool {
        let found: Vec<&str> = given.iter().flatten().copied().collect();
        match found.len() {
            1 => true,
            0 => {
                self.err(loc, path, needs.to_owned());
                false
            }
            _ => {
                self.err(
                    loc,
                    path,
                    format!("{needs}, found `{}`", found.join("` and `")),
                );
                false
            }
        }
    }

    /// Parses a scalar that was written; `None` (reported at its place)
    /// when `parse` refuses it.
    fn value<T>(
        &mut self,
        v: &Sp<String>,
        path: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match parse(&v.value) {
            Ok(t) => Some(t),
            Err(e) => {
                let loc = self.at(v);
                self.err(loc, path, e);
                None
            }
        }
    }

    /// Parses an optional scalar, or returns `default` when absent or invalid.
    fn field<T>(
        &mut self,
        v: &Text,
        path: &str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> T {
        match v {
            Some(v) => self.value(v, path, parse).unwrap_or(default),
            None => default,
        }
    }

    /// Parses every item of a list written at `path`; each bad item is
    /// reported at its place (`path[i]`) and left out.
    fn each<T>(
        &mut self,
        list: &Sp<Vec<Sp<String>>>,
        path: &str,
        mut parse: impl FnMut(&str) -> Result<T, String>,
    ) -> Vec<T> {
        let mut out = Vec::with_capacity(list.value.len());
        for (i, item) in list.value.iter().enumerate() {
            if let Some(t) = self.value(item, &format!("{path}[{i}]"), &mut parse) {
                out.push(t);
            }
        }
        out
    }

    /// The index of `name` among the `defined` names of a `kind` of thing
    /// (`upstream`, `listener`), or an error listing the defined ones.
    fn reference(
        &mut self,
        kind: &str,
        name: &Sp<String>,
        path: &str,
        defined: &[&str],
    ) -> Option<usize> {
        if let Some(i) = defined.iter().position(|d| *d == name.value) {
            return Some(i);
        }
        let loc = self.at(name);
        self.err(
            loc,
            path,
            format!(
                "unknown {kind} `{}`; defined {kind}s: {}",
                name.value,
                quoted_list(defined)
            ),
        );
        None
    }

    /// A required, non-empty scalar; reports at `parent` when missing.
    fn required<'r>(&mut self, v: &'r Text, parent: Loc, path: &str) -> Option<&'r Sp<String>> {
        match v {
            None => {
                let field = path.rsplit('.').next().unwrap_or(path);
                self.err(parent, path, format!("missing required field `{field}`"));
                None
            }
            Some(s) if s.value.is_empty() => {
                let loc = self.at(s);
                self.err(loc, path, "must not be empty");
                None
            }
            Some(s) => Some(s),
        }
    }

    /// A duration that must be longer than zero.
    fn timeout(&mut self, v: &Text, path: &str, default: Duration) -> Duration {
        self.field(v, path, default, |s| {
            let d = parse_duration(s)?;
            if d.is_zero() {
                return Err(format!("must be longer than zero, got `{s}`"));
            }
            Ok(d)
        })
    }

    /// A whole number within `min..=max`.
    fn count(&mut self, v: &Text, path: &str, default: u64, min: u64, max: u64) -> u64 {
        self.field(v, path, default, |s| {
            let n = parse_uint(s)?;
            if n < min || n > max {
                return Err(format!("must be between {min} and {max}, got {n}"));
            }
            Ok(n)
        })
    }

    /// A size within `min..=max` bytes.
    fn size(&mut self, v: &Text, path: &str, default: u64, min: u64, max: u64) -> u64 {
        self.field(v, path, default, |s| {
            let n = parse_size(s)?;
            if n < min {
                return Err(format!("must be at least {}, got `{s}`", format_size(min)));
            }
            if n > max {
                return Err(format!("must be at most {}, got `{s}`", format_size(max)));
            }
            Ok(n)
        })
    }

    /// Checks that names are unique; reports each repeat at its place.
    fn unique(&mut self, kind: &str, names: &[(Option<String>, Loc, String)]) {
        let mut seen: HashMap<&str, Loc> = HashMap::new();
        for (name, loc, path) in names {
            let Some(name) = name else { continue };
            if let Some(first) = seen.get(name.as_str()) {
                let first = match first {
                    Some((line, _)) => format!(" (first defined at line {line})"),
                    None => String::new(),
                };
                self.err(
                    *loc,
                    path,
                    format!("duplicate {kind} name `{name}`{first}; names must be unique"),
                );
            } else {
                seen.insert(name, *loc);
            }
        }
    }
}

/// Validates a whole file.
pub(crate) fn validate(ctx: &mut Ctx<'_>, raw: &RawConfig) -> Config {
    let server = server(ctx, raw.server.as_ref());
    let access_log = access_log(ctx, raw.access_log.as_ref());
    let access_log_headers = match raw
        .access_log
        .as_ref()
        .and_then(|a| a.value.headers.as_ref())
    {
        Some(list) => ctx.each(list, "access_log.headers", logged_header_name),
        None => Vec::new(),
    };
    let log = log::log(ctx, raw.log.as_ref());
    let gateway = gateway::gateway(ctx, raw);
    let redis = redis::redis(ctx, raw.redis.as_ref());
    ctx.redis_defined = raw.redis.is_some();
    ctx.upstream_names = raw
        .upstreams
        .iter()
        .flat_map(|l| &l.value)
        .map(|u| {
            u.value
                .name
                .as_ref()
                .map_or(String::new(), |n| n.value.clone())
        })
        .collect();
    let named = policy::named(ctx, raw.policies.as_ref());
    let defaults = defaults(ctx, raw.defaults.as_ref(), &named);

    let mut listeners = Vec::new();
    match &raw.listeners {
        None => ctx.err(
            None,
            "listeners",
            "missing required field `listeners`: define at least one listener",
        ),
        Some(l) if l.value.is_empty() => {
            let loc = ctx.at(l);
            ctx.err(loc, "listeners", "at least one listener is required");
        }
        Some(l) => {
            let mut names = Vec::new();
            let mut addresses: HashMap<SocketAddr, String> = HashMap::new();
            for (i, item) in l.value.iter().enumerate() {
                let path = format!("listeners[{i}]");
                let (listener, name, addr_loc) = listener::listener(ctx, item, &path);
                if listener.address.port() != 0 && addr_loc.is_some() {
                    if let Some(other) = addresses.get(&listener.address) {
                        ctx.err(
                            addr_loc.flatten(),
                            &p(&path, "address"),
                            format!(
                                "address {} is already used by listener `{other}`",
                                listener.address
                            ),
                        );
                    } else {
                        addresses.insert(listener.address, listener.name.clone());
                    }
                }
                names.push((name, ctx.at(item), p(&path, "name")));
                listeners.push(listener);
            }
            ctx.unique("listener", &names);
        }
    }

    let mut upstreams = Vec::new();
    if let Some(l) = &raw.upstreams {
        let mut names = Vec::new();
        for (i, item) in l.value.iter().enumerate() {
            let path = format!("upstreams[{i}]");
            let (upstream, name) = upstream::upstream(ctx, item, &path);
            names.push((name, ctx.at(item), p(&path, "name")));
            upstreams.push(upstream);
        }
        ctx.unique("upstream", &names);
    }

    let mut routes = Vec::new();
    // A file whose listeners are all L4 (tcp, udp, ...) needs no routes.
    let l4_only = !listeners.is_empty() && listeners.iter().all(|l| l.protocol.is_l4());
    match &raw.routes {
        None if l4_only => {}
        Some(l) if l4_only && l.value.is_empty() => {}
        None => ctx.err(
            None,
            "routes",
            "missing required field `routes`: define at least one route",
        ),
        Some(l) if l.value.is_empty() => {
            let loc = ctx.at(l);
            ctx.err(loc, "routes", "at least one route is required");
        }
        Some(l) => {
            let known = route::Known {
                listeners: &listeners,
                upstreams: &upstreams,
                policies: &named,
            };
            let mut names = Vec::new();
            for (i, item) in l.value.iter().enumerate() {
                let path = format!("routes[{i}]");
                let (r, name) = route::route(ctx, item, &path, &known, &defaults);
                names.push((name, ctx.at(item), p(&path, "name")));
                routes.push(r);
            }
            ctx.unique("route", &names);
        }
    }
    l4::check(ctx, raw, &mut listeners, &mut upstreams, &routes);
    let admin = admin::admin(ctx, raw.admin.as_ref(), &listeners);
    let tracing = trace::tracing(ctx, raw.tracing.as_ref());
    let consumer_metrics = trace::consumer_metrics(ctx, raw.metrics.as_ref(), &gateway);

    Config {
        server,
        listeners,
        upstreams,
        routes,
        access_log,
        access_log_headers,
        log,
        admin,
        gateway,
        redis,
        tracing,
        consumer_metrics,
    }
}

fn server(ctx: &mut Ctx<'_>, raw: Option<&Sp<RawServer>>) -> Server {
    let cores = || std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut server = Server {
        workers: cores(),
        shutdown_timeout: Duration::from_secs(30),
    };
    let Some(raw) = raw else { return server };
    let workers = ctx.count(&raw.value.workers, "server.workers", 0, 0, 1024);
    if workers > 0 {
        server.workers = workers as usize;
    }
    server.shutdown_timeout = ctx.field(
        &raw.value.shutdown_timeout,
        "server.shutdown_timeout",
        server.shutdown_timeout,
        parse_duration,
    );
    server
}

fn access_log(ctx: &mut Ctx<'_>, raw: Option<&Sp<RawAccessLog>>) -> AccessLog {
    let Some(raw) = raw else {
        return AccessLog::Stdout;
    };
    let output = ctx.field(
        &raw.value.output,
        "access_log.output",
        "stdout",
        |s| match s {
            "stdout" => Ok("stdout"),
            "off" => Ok("off"),
            "file" => Ok("file"),
            _ => Err(format!("expected `stdout`, `off` or `file`, got `{s}`")),
        },
    );
    match (output, &raw.value.path) {
        ("file", None) => {
            let loc = ctx.at(raw);
            ctx.err(
                loc,
                "access_log.path",
                "missing required field `path`: `output: file` needs a file path",
            );
            AccessLog::Stdout
        }
        ("file", Some(path)) if path.value.is_empty() => {
            let loc = ctx.at(path);
            ctx.err(loc, "access_log.path", "must not be empty");
            AccessLog::Stdout
        }
        ("file", Some(path)) => AccessLog::File(path.value.clone().into()),
        (other, Some(path)) => {
            let loc = ctx.at(path);
            ctx.err(
                loc,
                "access_log.path",
                format!("`path` is only allowed with `output: file`, not `output: {other}`"),
            );
            AccessLog::Stdout
        }
        ("off", None) => AccessLog::Off,
        (_, None) => AccessLog::Stdout,
    }
}

/// What every route inherits unless it sets its own.
pub(crate) struct Defaults {
    timeout: Duration,
    max_body: u64,
    forwarding: Forwarding,
    policies: Vec<Policy>,
}

fn defaults(ctx: &mut Ctx<'_>, raw: Option<&Sp<RawDefaults>>, named: &policy::Named) -> Defaults {
    let mut d = Defaults {
        timeout: Duration::from_secs(60),
        max_body: 10 << 20,
        forwarding: builtin_forwarding(),
        policies: Vec::new(),
    };
    let Some(raw) = raw else { return d };
    let raw = &raw.value;
    d.timeout = ctx.timeout(&raw.timeout, "defaults.timeout", d.timeout);
    d.max_body = ctx.size(&raw.max_body, "defaults.max_body", d.max_body, 0, u64::MAX);
    d.forwarding = forwarding(
        ctx,
        raw.forwarding.as_ref(),
        &d.forwarding,
        "defaults.forwarding",
    );
    d.policies = policy::list(ctx, &raw.policies, "defaults.policies", named, false);
    d
}

/// A CIDR (`10.0.0.0/8`, `fd00::/8`) or a bare address (`10.1.2.3`, `::1`);
/// host bits of a CIDR are dropped.
fn net(s: &str) -> Result<IpNet, String> {
    if let Ok(net) = IpNet::from_str(s) {
        return Ok(net.trunc());
    }
    if let Ok(ip) = IpAddr::from_str(s) {
        return Ok(IpNet::from(ip));
    }
    Err(format!("invalid address `{s}`: expected a CIDR such as `10.0.0.0/8` or `fd00::/8`, or an IP address such as `10.1.2.3` or `::1`"))
}

/// A path that must start with `/` (prefixes, rewrites, probe paths).
fn absolute_path(s: &str) -> Result<String, String> {
    if s.starts_with('/') {
        Ok(s.to_string())
    } else {
        Err(format!("must start with `/`, got `{}`", s.escape_debug()))
    }
}

/// A request field the access log may copy: never one that carries a
/// credential (secrets never reach a log).
fn logged_header_name(s: &str) -> Result<HeaderName, String> {
    let name = header_name(s)?;
    let n = name.as_str();
    let secret = ["authorization", "proxy-authorization", "cookie"].contains(&n)
        || ["key", "token", "secret", "password", "auth"]
            .iter()
            .any(|w| n.contains(w));
    if secret {
        return Err(format!(
            "`{s}` may carry a credential and is never written to the access log"
        ));
    }
    Ok(name)
}

/// Parses a header name such as `X-Request-Id`.
fn header_name(s: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(s.as_bytes()).map_err(|_| {
        format!("invalid header name `{s}`: use letters, digits and !#$%&'*+-.^_`|~ only")
    })
}

/// Parses a header value (visible ASCII, spaces and tabs).
fn header_value(s: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(s).map_err(|_| {
        format!(
            "invalid header value `{}`: use visible ASCII characters, spaces and tabs only",
            s.escape_debug()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nets() {
        assert_eq!(net("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(net("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(net("::1").unwrap().to_string(), "::1/128");
        assert_eq!(net("192.168.1.1").unwrap().to_string(), "192.168.1.1/32");
        assert!(net("10.0.0.0/33").is_err());
        assert!(net("example.com").is_err());
    }
}
