//! tollgate in-process, and config templates.

use std::fmt::Display;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;

use tollgate_proxy::RunningServer;

use crate::Upstream;

/// Settings most test configs start with: one worker, a short drain, no
/// access log. [`Tollgate::start_with_defaults`] puts them in front.
pub const TEST_PREAMBLE: &str =
    "server: {workers: 1, shutdown_timeout: 5s}\naccess_log: {output: off}\n";

/// How long dropping a [`Tollgate`] waits for it to stop before giving up.
const DROP_WAIT: Duration = Duration::from_secs(10);

/// A tollgate running in this process; stopped when dropped.
#[derive(Debug)]
pub struct Tollgate {
    server: Option<RunningServer>,
    addresses: Vec<(String, SocketAddr)>,
}

impl Tollgate {
    /// Parses `yaml` (as `test.yaml`) and starts tollgate. Panics with every
    /// configuration error when the config is invalid, or when it cannot start.
    pub fn start(yaml: &str) -> Self {
        Self::try_start(yaml).expect("tollgate failed to start")
    }

    /// Like [`Tollgate::start`], but returns the error when tollgate
    /// cannot start (e.g. a port in use); still panics on an invalid config.
    pub fn try_start(yaml: &str) -> std::io::Result<Self> {
        let config = tollgate_config::parse_str(yaml, "test.yaml")
            .unwrap_or_else(|e| panic!("invalid test config:\n{e}\n--- config ---\n{yaml}"));
        let server = RunningServer::start(config)?;
        let addresses = server.addresses().to_vec();
        Ok(Self {
            server: Some(server),
            addresses,
        })
    }

    /// tollgate ([`TEST_PREAMBLE`] settings) with listener `web` on
    /// 127.0.0.1:0 sending every request (route `all`) to upstream `pool`
    /// over `targets`, in order; `extra` is written into the upstream's
    /// section (lines indented four spaces, e.g. `"    balance: random"`).
    ///
    /// ```no_run
    /// # use tollgate_testkit::{Tollgate, Upstream};
    /// let (a, b) = (Upstream::echo(), Upstream::echo());
    /// let tg = Tollgate::in_front_of(&[&a, &b], "    balance: least_connections");
    /// let weighted = Tollgate::in_front_of(&[(&a, 3), (&b, 1)], "");
    /// ```
    pub fn in_front_of<T: PoolTarget>(targets: &[T], extra: &str) -> Self {
        let list: Vec<String> = targets
            .iter()
            .map(|t| format!("{{address: \"{}\", weight: {}}}", t.address(), t.weight()))
            .collect();
        Self::start_with_defaults(&render(
            r#"
listeners:
  - {name: web, address: 127.0.0.1:0}
upstreams:
  - name: pool
    targets: [{targets}]
{extra}
routes:
  - {name: all, upstream: pool}
"#,
            &[("targets", &list.join(", ")), ("extra", &extra)],
        ))
    }

    /// One listener `web` and one upstream `u` at `up`, then `rest`
    /// (routes, named policies, defaults), with [`TEST_PREAMBLE`].
    pub fn for_upstream(up: &Upstream, rest: &str) -> Self {
        Self::start_with_defaults(&render(
            r#"
listeners:
  - {name: web, address: 127.0.0.1:0}
upstreams:
  - {name: u, targets: [{address: "{up}"}]}
{rest}"#,
            &[("up", &up.addr()), ("rest", &rest)],
        ))
    }

    /// [`Tollgate::start`] with [`TEST_PREAMBLE`] in front of `rest`
    /// (which then holds listeners, upstreams, routes, defaults).
    pub fn start_with_defaults(rest: &str) -> Self {
        Self::start(&format!("{TEST_PREAMBLE}{rest}"))
    }

    /// Reloads with `yaml` ([`TEST_PREAMBLE`] in front), as SIGHUP does.
    pub fn reload_with_defaults(
        &self,
        rest: &str,
    ) -> Result<tollgate_proxy::ReloadSummary, String> {
        let yaml = format!("{TEST_PREAMBLE}{rest}");
        let config = tollgate_config::parse_str(&yaml, "test.yaml").map_err(|e| e.to_string())?;
        self.server
            .as_ref()
            .ok_or_else(|| "stopped".to_string())?
            .reload(config)
    }

    /// The sum of every series of counter `name` (as `/metrics` names it,
    /// without `_total`) now, read from the server without an admin
    /// listener; `None` when no series has that name.
    pub fn counter(&self, name: &str) -> Option<u64> {
        self.series_sum(name, |v| match v {
            tollgate_ops::metrics::Value::Counter(n) => *n,
            _ => 0,
        })
    }

    /// `value` of every series of family `name` summed; `None` when no
    /// family has that name.
    fn series_sum<T: std::iter::Sum>(
        &self,
        name: &str,
        value: impl Fn(&tollgate_ops::metrics::Value) -> T,
    ) -> Option<T> {
        let families = self.server.as_ref()?.metrics();
        let family = families.into_iter().find(|f| f.name == name)?;
        Some(family.series.iter().map(|(_, v)| value(v)).sum())
    }

    /// The sum of every series of gauge `name` now (as [`Self::counter`]
    /// reads counters); `None` when no series has that name.
    pub fn gauge(&self, name: &str) -> Option<f64> {
        self.series_sum(name, |v| match v {
            tollgate_ops::metrics::Value::Gauge(n) => *n,
            _ => 0.0,
        })
    }

    /// The load balancer's view of every upstream and target now.
    pub fn upstream_states(&self) -> Vec<tollgate_proxy::UpstreamState> {
        self.server
            .as_ref()
            .map(RunningServer::upstream_states)
            .unwrap_or_default()
    }

    /// The bound address of listener `listener`; panics when there is none.
    pub fn addr(&self, listener: &str) -> SocketAddr {
        self.addresses
            .iter()
            .find(|(n, _)| n == listener)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("no listener named {listener:?}"))
    }

    /// `http://<addr of listener><path>`.
    pub fn url(&self, listener: &str, path: &str) -> String {
        format!("http://{}{path}", self.addr(listener))
    }

    /// Requests, relayed connections and UDP sessions in flight on each
    /// target of upstream `name`; panics when there is no such upstream.
    pub fn in_flight(&self, name: &str) -> Vec<u64> {
        self.server
            .as_ref()
            .and_then(|s| s.in_flight(name))
            .unwrap_or_else(|| panic!("no upstream named {name:?}"))
    }

    /// Stops tollgate and waits for it: in-flight requests drain up to
    /// `server.shutdown_timeout`. Blocks.
    pub fn shutdown(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown();
        }
    }
}

impl Drop for Tollgate {
    fn drop(&mut self) {
        let Some(server) = self.server.take() else {
            return;
        };
        // Shut down on another thread so a stuck drain can never hang a test.
        let (tx, rx) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("tollgate-shutdown".into())
            .spawn(move || {
                server.shutdown();
                let _ = tx.send(());
            });
        if spawned.is_ok() {
            let _ = rx.recv_timeout(DROP_WAIT);
        }
    }
}

/// A target of [`Tollgate::in_front_of`]'s upstream: an [`Upstream`], an
/// address (`SocketAddr`, or `host:port` text), or either with a weight.
pub trait PoolTarget {
    /// `host:port` as written in the config.
    fn address(&self) -> String;
    /// The target's weight (1 unless given).
    fn weight(&self) -> u32 {
        1
    }
}

impl PoolTarget for &Upstream {
    fn address(&self) -> String {
        self.addr().to_string()
    }
}

impl PoolTarget for SocketAddr {
    fn address(&self) -> String {
        self.to_string()
    }
}

impl PoolTarget for &str {
    fn address(&self) -> String {
        (*self).to_owned()
    }
}

impl<T: PoolTarget> PoolTarget for (T, u32) {
    fn address(&self) -> String {
        self.0.address()
    }
    fn weight(&self) -> u32 {
        self.1
    }
}

/// Replaces every `{name}` in `template` with its value. Panics when a
/// placeholder given in `vars` does not occur (a typo in the test).
///
/// ```
/// let yaml = tollgate_testkit::render("address: {up}", &[("up", &"127.0.0.1:9")]);
/// assert_eq!(yaml, "address: 127.0.0.1:9");
/// ```
pub fn render(template: &str, vars: &[(&str, &dyn Display)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in vars {
        let placeholder = format!("{{{name}}}");
        assert!(
            out.contains(&placeholder),
            "placeholder {placeholder} not found in template"
        );
        out = out.replace(&placeholder, &value.to_string());
    }
    out
}

/// An address on 127.0.0.1 where nothing listens (bound, then released).
pub fn unused_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("address")
}
