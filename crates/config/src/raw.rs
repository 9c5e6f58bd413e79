//! The configuration file as written: strict serde structs, every field
//! optional and wrapped in [`Spanned`] so validation can report missing and
//! invalid values together, each with its line and column.
//!
//! Structs deny unknown fields, but they are read through
//! [`crate::lenient`], which finds every unknown field first (using the
//! field lists serde derives from these structs) and leaves them out.
//!
//! Scalars (numbers, durations, sizes, booleans, keywords) are read as text
//! and parsed by the validator, so a bad value is a collected validation
//! error rather than a serde error that stops everything.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

mod api;
mod cache;
mod compress;
mod gateway;
mod ratelimit;
mod transform;

pub(crate) use api::*;
pub(crate) use cache::*;
pub(crate) use compress::*;
pub(crate) use gateway::*;
pub(crate) use ratelimit::*;
pub(crate) use transform::*;

/// A value with the place it was written.
pub(crate) type Sp<T> = Spanned<T>;
/// An optional scalar, kept as written.
pub(crate) type Text = Option<Sp<String>>;
/// An optional list.
pub(crate) type List<T> = Option<Sp<Vec<Sp<T>>>>;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub(crate) server: Option<Sp<RawServer>>,
    pub(crate) access_log: Option<Sp<RawAccessLog>>,
    pub(crate) log: Option<Sp<RawLog>>,
    pub(crate) defaults: Option<Sp<RawDefaults>>,
    pub(crate) listeners: List<RawListener>,
    pub(crate) upstreams: List<RawUpstream>,
    pub(crate) routes: List<RawRoute>,
    pub(crate) policies: Option<Sp<NamedMap<RawPolicy>>>,
    pub(crate) consumers: List<RawConsumer>,
    pub(crate) identity_headers: Option<Sp<RawIdentityHeaders>>,
    pub(crate) admin: Option<Sp<RawAdmin>>,
    pub(crate) redis: Option<Sp<RawRedis>>,
    pub(crate) tracing: Option<Sp<RawTracing>>,
    pub(crate) metrics: Option<Sp<RawMetrics>>,
}

/// `metrics:` (what `/metrics` counts beyond the defaults)
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMetrics {
    pub(crate) consumers: Option<Sp<Vec<Sp<String>>>>,
    pub(crate) top_consumers: Text,
}

/// `tracing:` (spans exported with OTLP over HTTP)
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTracing {
    pub(crate) otlp: Option<Sp<RawOtlp>>,
    pub(crate) sample_ratio: Text,
    pub(crate) service_name: Text,
    pub(crate) queue: Text,
    pub(crate) batch: Text,
    pub(crate) batch_delay: Text,
}

/// `tracing.otlp:` (where spans are sent)
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOtlp {
    pub(crate) endpoint: Text,
    pub(crate) timeout: Text,
}

/// `admin:` (the admin API's listener)
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAdmin {
    pub(crate) address: Text,
    pub(crate) token: Option<Sp<RawSecretSource>>,
    pub(crate) metrics_public: Text,
    pub(crate) metrics: Text,
    pub(crate) tls: Option<Sp<RawAdminTls>>,
}

/// `admin.tls`: HTTPS on the admin listener, optionally with client
/// certificates.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAdminTls {
    pub(crate) certificate: Text,
    pub(crate) key: Text,
    pub(crate) client_ca: Text,
}

/// Where a secret is read from: `{file: PATH}` or `{env: NAME}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSecretSource {
    pub(crate) file: Text,
    pub(crate) env: Text,
}

/// `server:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    pub(crate) workers: Text,
    pub(crate) shutdown_timeout: Text,
}

/// `access_log:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAccessLog {
    pub(crate) output: Text,
    pub(crate) path: Text,
    pub(crate) headers: List<String>,
}

/// `log:` (the operator's event log, not the access log)
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLog {
    pub(crate) level: Text,
    pub(crate) format: Text,
    pub(crate) output: Text,
}

/// `defaults:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDefaults {
    pub(crate) timeout: Text,
    pub(crate) max_body: Text,
    pub(crate) forwarding: Option<Sp<RawForwarding>>,
    pub(crate) policies: List<RawPolicy>,
}

/// `forwarding:` in `defaults` or a route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawForwarding {
    pub(crate) x_forwarded: Text,
    pub(crate) forwarded: Text,
    pub(crate) via: Text,
    pub(crate) host: Option<Sp<RawHost>>,
    pub(crate) hide_response_headers: List<String>,
    pub(crate) request_id_header: Text,
    pub(crate) upgrades: List<String>,
    pub(crate) refuse_underscore_headers: Text,
}

/// `host: preserve | target | {fixed: "name"}`
#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawHost {
    Preserve,
    Target,
    Fixed(Sp<String>),
}

/// One of `listeners:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawListener {
    pub(crate) name: Text,
    pub(crate) address: Text,
    pub(crate) protocol: Text,
    pub(crate) trusted_proxies: List<String>,
    pub(crate) limits: Option<Sp<RawLimits>>,
    pub(crate) http2: Option<Sp<RawHttp2>>,
    // L4 listeners (validate/l4.rs).
    pub(crate) upstream: Text,
    pub(crate) sni: List<RawSniRoute>,
    pub(crate) idle_timeout: Text,
    pub(crate) max_sessions: Text,
    pub(crate) access_log: Text,
    pub(crate) proxy_protocol: Option<Sp<RawAcceptProxy>>,
    pub(crate) ip_filter: Option<Sp<RawIpFilter>>,
    pub(crate) per_client: Option<Sp<RawPerClient>>,
    pub(crate) normalize_path: Text,
    pub(crate) encoded_slash: Text,
    pub(crate) keep_underscore_headers: Text,
    pub(crate) tls: Option<Sp<RawListenerTls>>,
    pub(crate) hsts: Option<Sp<RawHsts>>,
    pub(crate) redirect_https: Option<Sp<RawHttpsRedirect>>,
}

/// One of `sni:` of a `tls_passthrough` listener.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSniRoute {
    pub(crate) hosts: List<String>,
    pub(crate) upstream: Text,
}

/// `proxy_protocol:` of a listener: who must send a PROXY header.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAcceptProxy {
    pub(crate) trusted: List<String>,
}

/// `ip_filter:` of a listener or a policy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIpFilter {
    pub(crate) allow: List<String>,
    pub(crate) deny: List<String>,
}

/// `per_client:` of a listener.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPerClient {
    pub(crate) max_connections: Text,
    pub(crate) rate: Text,
    pub(crate) burst: Text,
}

/// `limits:` of a listener.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    pub(crate) max_header_bytes: Text,
    pub(crate) max_headers: Text,
    pub(crate) max_uri_length: Text,
    pub(crate) header_read_timeout: Text,
    pub(crate) keepalive_timeout: Text,
    pub(crate) send_timeout: Text,
    pub(crate) min_send_rate: Text,
    pub(crate) send_rate_window: Text,
    pub(crate) max_connections: Text,
}

/// `http2:` of a listener.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttp2 {
    pub(crate) max_concurrent_streams: Text,
    pub(crate) max_header_list_size: Text,
    pub(crate) max_pending_resets: Text,
}

/// One of `upstreams:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUpstream {
    pub(crate) name: Text,
    pub(crate) targets: List<RawTarget>,
    pub(crate) protocol: Text,
    pub(crate) timeouts: Option<Sp<RawTimeouts>>,
    pub(crate) pool: Option<Sp<RawPool>>,
    pub(crate) balance: Text,
    pub(crate) hash_on: Option<Sp<RawHashOn>>,
    pub(crate) health: Option<Sp<RawHealth>>,
    pub(crate) retries: Option<Sp<RawRetries>>,
    pub(crate) circuit_breaker: Option<Sp<RawBreaker>>,
    pub(crate) sticky: Option<Sp<RawSticky>>,
    pub(crate) slow_start: Text,
    pub(crate) dns_refresh: Text,
    /// PROXY protocol version sent to targets (validate/l4.rs).
    pub(crate) proxy_protocol: Text,
    pub(crate) tls: Option<Sp<RawUpstreamTls>>,
}

/// `retries:` of an upstream.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetries {
    pub(crate) attempts: Text,
    pub(crate) on: List<String>,
    pub(crate) methods: Text,
    pub(crate) backoff: Option<Sp<RawBackoff>>,
    pub(crate) budget: Text,
    pub(crate) min_per_second: Text,
    pub(crate) buffer_body: Text,
}

/// `retries.backoff:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBackoff {
    pub(crate) base: Text,
    pub(crate) max: Text,
}

/// `circuit_breaker:` of an upstream.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBreaker {
    pub(crate) max_requests: Text,
    pub(crate) max_connections: Text,
    pub(crate) max_pending: Text,
    pub(crate) error_rate: Option<Sp<RawErrorRate>>,
}

/// `circuit_breaker.error_rate:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawErrorRate {
    pub(crate) threshold: Text,
    pub(crate) min_requests: Text,
    pub(crate) window: Text,
    pub(crate) open_for: Text,
    pub(crate) probes: Text,
}

/// `sticky:` of an upstream.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSticky {
    pub(crate) cookie: Text,
    pub(crate) max_age: Text,
    pub(crate) path: Text,
    pub(crate) secure: Text,
    pub(crate) http_only: Text,
    pub(crate) same_site: Text,
}

/// `health:` of an upstream.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHealth {
    pub(crate) active: Option<Sp<RawActiveHealth>>,
    pub(crate) passive: Option<Sp<RawPassiveHealth>>,
    pub(crate) when_all_down: Text,
}

/// `health.active:` of an upstream.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawActiveHealth {
    #[serde(rename = "type")]
    pub(crate) kind: Text,
    pub(crate) path: Text,
    pub(crate) method: Text,
    pub(crate) host: Text,
    pub(crate) expect: List<String>,
    pub(crate) interval: Text,
    pub(crate) jitter: Text,
    pub(crate) timeout: Text,
    pub(crate) healthy: Text,
    pub(crate) unhealthy: Text,
}

/// `health.passive:` of an upstream.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPassiveHealth {
    pub(crate) consecutive_failures: Text,
    pub(crate) eject_for: Text,
    pub(crate) max_eject_for: Text,
    pub(crate) max_ejected: Text,
}

/// `hash_on:` of an upstream: exactly one of the fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHashOn {
    pub(crate) header: Text,
    pub(crate) cookie: Text,
    pub(crate) query: Text,
    pub(crate) client_ip: Text,
    pub(crate) path: Text,
}

/// One of `targets:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTarget {
    pub(crate) address: Text,
    pub(crate) weight: Text,
}

/// `timeouts:` of an upstream.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTimeouts {
    pub(crate) connect: Text,
    pub(crate) response_header: Text,
    pub(crate) read_idle: Text,
}

/// `pool:` of an upstream.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPool {
    pub(crate) max_idle: Text,
    pub(crate) idle_timeout: Text,
}

/// One of `routes:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    pub(crate) name: Text,
    pub(crate) listeners: List<String>,
    #[serde(rename = "match")]
    pub(crate) matcher: Option<Sp<RawMatch>>,
    pub(crate) upstream: Text,
    pub(crate) respond: Option<Sp<RawRespond>>,
    pub(crate) redirect: Option<Sp<RawRedirect>>,
    #[serde(rename = "static")]
    pub(crate) static_files: Option<Sp<RawStatic>>,
    pub(crate) aggregate: Option<Sp<RawAggregate>>,
    pub(crate) deprecation: Option<Sp<RawLifecycleDate>>,
    pub(crate) sunset: Option<Sp<RawLifecycleDate>>,
    pub(crate) rewrite: Option<Sp<RawRewrite>>,
    pub(crate) timeout: Text,
    pub(crate) max_body: Text,
    pub(crate) forwarding: Option<Sp<RawForwarding>>,
    pub(crate) policies: List<RawPolicy>,
}

/// `match:` of a route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMatch {
    pub(crate) hosts: List<String>,
    pub(crate) path: Option<Sp<RawPath>>,
    pub(crate) methods: List<String>,
    pub(crate) headers: List<RawValueMatch>,
    pub(crate) query: List<RawValueMatch>,
    pub(crate) version: Option<Sp<RawVersion>>,
}

/// `path:` of a match.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPath {
    pub(crate) prefix: Text,
    pub(crate) exact: Text,
    pub(crate) regex: Text,
}

/// One header or query condition.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawValueMatch {
    pub(crate) name: Text,
    pub(crate) value: Text,
    pub(crate) regex: Text,
    pub(crate) present: Text,
}

/// `respond:` of a route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRespond {
    pub(crate) status: Text,
    pub(crate) headers: Option<Sp<OrderedMap>>,
    pub(crate) body: Text,
}

/// `redirect:` of a route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRedirect {
    pub(crate) to: Text,
    pub(crate) status: Text,
    pub(crate) keep_path: Text,
}

/// `static:` of a route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStatic {
    pub(crate) root: Text,
    pub(crate) index: Text,
    pub(crate) listing: Text,
    pub(crate) precompressed: Text,
    pub(crate) follow_symlinks_outside_root: Text,
    pub(crate) allow_hidden: Text,
    pub(crate) content_types: Option<Sp<OrderedMap>>,
    pub(crate) default_content_type: Text,
}

/// `rewrite:` of a route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRewrite {
    pub(crate) strip_prefix: Text,
    pub(crate) add_prefix: Text,
    pub(crate) regex: Option<Sp<RawRegexRewrite>>,
}

/// `rewrite.regex:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRegexRewrite {
    pub(crate) pattern: Text,
    pub(crate) replace: Text,
}

/// `tls:` of a listener.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawListenerTls {
    pub(crate) certificates: List<RawCertificate>,
    pub(crate) min_version: Text,
    pub(crate) alpn: List<String>,
    pub(crate) session_tickets: Text,
    pub(crate) session_cache: Text,
    pub(crate) handshake_timeout: Text,
    pub(crate) reload_interval: Text,
    pub(crate) client_auth: Option<Sp<RawClientAuth>>,
}

/// One of `tls.certificates:` of a listener.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCertificate {
    pub(crate) cert: Text,
    pub(crate) key: Text,
    pub(crate) default: Text,
}

/// `tls.client_auth:` of a listener.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawClientAuth {
    pub(crate) mode: Text,
    pub(crate) ca: Text,
    pub(crate) subject_header: Text,
    pub(crate) san_header: Text,
}

/// `hsts:` of a listener.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHsts {
    pub(crate) max_age: Text,
    pub(crate) include_subdomains: Text,
    pub(crate) preload: Text,
}

/// `redirect_https:` of a listener.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttpsRedirect {
    pub(crate) port: Text,
    pub(crate) status: Text,
}

/// `tls:` of an upstream.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUpstreamTls {
    pub(crate) ca: Text,
    pub(crate) server_name: Text,
    pub(crate) client_cert: Option<Sp<RawKeyPair>>,
    pub(crate) verify: Text,
    pub(crate) min_version: Text,
}

/// `client_cert:` of an upstream's `tls`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawKeyPair {
    pub(crate) cert: Text,
    pub(crate) key: Text,
}

/// One entry of a `policies` list: exactly one field is set. Each policy
/// kind adds its field here and its validation in `validate/policy.rs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPolicy {
    #[serde(rename = "use")]
    pub(crate) use_named: Text,
    pub(crate) headers: Option<Sp<RawHeaderRules>>,
    pub(crate) ip_filter: Option<Sp<RawIpFilter>>,
    pub(crate) methods: List<String>,
    pub(crate) security_headers: Option<Sp<RawSecurityHeaders>>,
    pub(crate) cors: Option<Sp<RawCors>>,
    pub(crate) cache: Option<Sp<RawCache>>,
    pub(crate) compress: Option<Sp<RawCompress>>,
    pub(crate) key_auth: Option<Sp<RawKeyAuth>>,
    pub(crate) basic_auth: Option<Sp<RawBasicAuth>>,
    pub(crate) mtls_auth: Option<Sp<RawMtlsAuth>>,
    pub(crate) acl: Option<Sp<RawAcl>>,
    pub(crate) jwt: Option<Sp<RawJwt>>,
    pub(crate) require: Option<Sp<RawRequire>>,
    pub(crate) oauth2_introspection: Option<Sp<RawIntrospection>>,
    pub(crate) forward_auth: Option<Sp<RawForwardAuth>>,
    pub(crate) auth: Option<Sp<RawAuthChoice>>,
    pub(crate) rate_limit: Option<Sp<RawRateLimit>>,
    pub(crate) quota: Option<Sp<RawQuota>>,
    pub(crate) concurrency_limit: Option<Sp<RawConcurrencyLimit>>,
    pub(crate) validate: Option<Sp<RawValidate>>,
    pub(crate) transform: Option<Sp<RawTransform>>,
    pub(crate) json_to_xml: Option<Sp<RawXmlConvert>>,
    pub(crate) xml_to_json: Option<Sp<RawXmlConvert>>,
    pub(crate) soap: Option<Sp<RawSoap>>,
}

/// `security_headers:` policy; `off` disables a field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSecurityHeaders {
    pub(crate) hsts: Text,
    pub(crate) content_type_options: Text,
    pub(crate) frame_options: Text,
    pub(crate) referrer_policy: Text,
    pub(crate) content_security_policy: Text,
    pub(crate) overwrite: Text,
}

/// `cors:` policy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCors {
    pub(crate) allow_origins: List<String>,
    pub(crate) allow_methods: List<String>,
    pub(crate) allow_headers: List<String>,
    pub(crate) expose_headers: List<String>,
    pub(crate) allow_credentials: Text,
    pub(crate) max_age: Text,
}

/// `headers:` policy: rules for each direction.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHeaderRules {
    pub(crate) request: Option<Sp<RawHeaderOps>>,
    pub(crate) response: Option<Sp<RawHeaderOps>>,
}

/// `request:` or `response:` of a `headers` policy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHeaderOps {
    pub(crate) set: Option<Sp<OrderedMap>>,
    pub(crate) add: Option<Sp<OrderedMap>>,
    pub(crate) remove: List<String>,
}

/// A mapping from names to values, in file order.
#[derive(Debug)]
pub(crate) struct NamedMap<T>(pub(crate) Vec<(Sp<String>, Sp<T>)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for NamedMap<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for MapVisitor<T> {
            type Value = NamedMap<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of names to definitions")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NamedMap<T>, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(NamedMap(entries))
            }
        }

        d.deserialize_map(MapVisitor(std::marker::PhantomData))
    }
}

/// A YAML mapping of strings kept in the order written.
#[derive(Debug, Default)]
pub(crate) struct OrderedMap(pub(crate) Vec<(Sp<String>, Sp<String>)>);

impl<'de> Deserialize<'de> for OrderedMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapVisitor;

        impl<'de> Visitor<'de> for MapVisitor {
            type Value = OrderedMap;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of header names to values")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedMap, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(OrderedMap(entries))
            }
        }

        d.deserialize_map(MapVisitor)
    }
}
