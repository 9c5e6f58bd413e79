//! TLS to upstream targets: each upstream with a `tls` section gets one
//! connector (shared by all workers, so its session cache lets reconnects
//! resume), and each of its targets the name it is verified by.

use tollgate_config::{Config, ConfigError, Upstream};
use tollgate_net::tls::{upstream_alpn, ServerName, UpstreamConnector};

/// How to reach one target over TLS.
#[derive(Debug, Clone)]
pub(crate) struct TargetTls {
    /// The upstream's client configuration.
    pub(crate) connector: UpstreamConnector,
    /// SNI and the name its certificate must carry.
    pub(crate) name: ServerName<'static>,
}

/// Per upstream (in config order), per target: the TLS settings, or `None`
/// for cleartext upstreams. Reads every CA and client certificate file.
pub(crate) fn build(config: &Config) -> Result<Vec<Option<Vec<TargetTls>>>, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let mut out = Vec::with_capacity(config.upstreams.len());
    for u in &config.upstreams {
        let Some(tls) = &u.tls else {
            out.push(None);
            continue;
        };
        match UpstreamConnector::build(tls, upstream_alpn(u.protocol)) {
            Ok(connector) => match targets(u, &connector) {
                Ok(t) => out.push(Some(t)),
                Err(e) => {
                    errors.push(tls.origin.error(e));
                    out.push(None);
                }
            },
            Err(e) => {
                errors.extend(e);
                out.push(None);
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The same targets for health probes, which speak HTTP/1.1 whatever the
/// upstream's protocol.
pub(crate) fn for_probes(targets: &[TargetTls]) -> Vec<TargetTls> {
    let Some(first) = targets.first() else {
        return Vec::new();
    };
    let connector = first.connector.with_alpn(&[b"http/1.1"]);
    targets
        .iter()
        .map(|t| TargetTls {
            connector: connector.clone(),
            name: t.name.clone(),
        })
        .collect()
}

fn targets(u: &Upstream, connector: &UpstreamConnector) -> Result<Vec<TargetTls>, String> {
    u.targets
        .iter()
        .map(|t| {
            let host = t.address.rsplit_once(':').map_or(&*t.address, |(h, _)| h);
            Ok(TargetTls {
                connector: connector.clone(),
                name: connector.name_for(host)?,
            })
        })
        .collect()
}
