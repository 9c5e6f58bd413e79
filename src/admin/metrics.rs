//! `/metrics` families the binary knows of itself: configuration reloads,
//! the configuration's hash, and the build.

use std::time::UNIX_EPOCH;

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
