//! `/metrics` families the binary knows of itself: configuration reloads,
//! the configuration's hash, the build, and certificate expiry.

use std::time::UNIX_EPOCH;

use tollgate_config::Config;
use tollgate_ops::metrics::{Family, Value};

use super::FileState;

/// Reload counts, the time of the last reload, the applied configuration's
/// hash, and the build info.
pub(super) fn process_families(state: &FileState) -> Vec<Family> {
    let mut families = vec![
        Family {
            name: "tollgate_build_info",
            help: "1, with the version as a label.",
            series: vec![(
                vec![("version", env!("CARGO_PKG_VERSION").to_string())],
                Value::Gauge(1.0),
            )],
        },
        Family {
            name: "tollgate_config_reloads",
            help: "Configuration reloads tried (file change, SIGHUP, admin API), dry runs aside.",
            series: vec![(vec![], Value::Counter(state.reloads))],
        },
        Family {
            name: "tollgate_config_reload_failures",
            help: "Configuration reloads refused (invalid file, or the server's reason).",
            series: vec![(vec![], Value::Counter(state.reload_failures))],
        },
    ];
    if let Some(hash) = &state.hash {
        families.push(Family {
            name: "tollgate_config_info",
            help: "1, with the hash of the configuration applied last as a label.",
            series: vec![(vec![("hash", hash.clone())], Value::Gauge(1.0))],
        });
    }
    if let Some(at) = state.last_reload_at {
        let seconds = at
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        families.push(Family {
            name: "tollgate_config_last_reload_timestamp_seconds",
            help: "When the last reload was tried, in seconds since the Unix epoch.",
            series: vec![(vec![], Value::Gauge(seconds))],
        });
    }
    families
}

/// When each HTTPS listener's certificates expire, read from the files as
/// `/certificates` reads them (what the TLS reload thread serves); a file
/// that cannot be read has no series (`/certificates` says why).
pub(super) fn certificate_families(config: &Config) -> Vec<Family> {
    let mut series = Vec::new();
    for l in &config.listeners {
        let Some(tls) = &l.tls else { continue };
        for c in &tls.certificates {
            let Ok((names, Some(not_after))) = tollgate_net::tls::leaf_certificate(&c.cert) else {
                continue;
            };
            let seconds = not_after
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64();
            let labels = vec![
                ("listener", l.name.clone()),
                ("file", c.cert.path.display().to_string()),
                ("subject", names.subject.clone()),
            ];
            series.push((labels, Value::Gauge(seconds)));
        }
    }
    vec![Family {
        name: "tollgate_certificate_expiry_timestamp_seconds",
        help: "When each HTTPS listener certificate stops being valid (not after), in seconds since the Unix epoch.",
        series,
    }]
}
