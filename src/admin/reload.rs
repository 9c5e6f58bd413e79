//! Reloading the configuration file: the one path SIGHUP and the admin
//! API's `POST /reload` share. Reads and validates the file, says what
//! would change (listeners, upstreams, routes added, removed, changed), and
//! applies it unless asked only to check.

use std::fmt::Debug;
use std::path::Path;

use serde_json::{json, Value};
use tollgate_config::{Config, ConfigError, ConfigErrors};
use tollgate_proxy::RunningServer;

/// The outcome of one reload, for the event log and the admin API.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    /// Whether the new configuration is now serving.
    pub(crate) applied: bool,
    /// What changed (or would have).
    pub(crate) changes: Value,
    /// Why it was refused: the file has errors, or the server's reason.
    pub(crate) reason: Option<String>,
    /// Located errors (`validate`'s) or the reason the server refused it.
    pub(crate) errors: Vec<Value>,
    /// Hash of the file's bytes that were read.
    pub(crate) hash: Option<String>,
    /// Settings that changed but apply only at the next start.
    pub(crate) next_start: Vec<&'static str>,
}

/// The settings a reload cannot change: read at start only.
#[derive(Debug, Clone)]
pub(crate) struct StartOnly {
    pub(crate) log: tollgate_config::Log,
    pub(crate) admin: Option<tollgate_config::Admin>,
}

impl StartOnly {
    /// What `config` changes of them, by top-level field.
    fn changed_by(&self, config: &Config) -> Vec<&'static str> {
        let mut out = Vec::new();
        if config.log != self.log {
            out.push("log");
        }
        if config.admin != self.admin {
            out.push("admin");
        }
        out
    }
}

/// Validates `text` (the file at `path` as read now, or a new one handed
/// over by `PUT /config`) and, unless `dry_run`, applies it to `server`.
/// Text with errors, or a configuration the server refuses (a changed
/// listener), changes nothing.
pub(crate) fn reload(
    server: &RunningServer,
    path: &Path,
    text: Result<String, String>,
    start: &StartOnly,
    dry_run: bool,
) -> Outcome {
    let hash = text.as_ref().ok().map(|t| hash_hex(t.as_bytes()));
    let refused = |reason: String, errors: Vec<Value>, changes: Value| Outcome {
        applied: false,
        changes,
        reason: Some(reason),
        errors,
        hash: hash.clone(),
        next_start: Vec::new(),
    };
    let config = match text.map_err(|e| {
        let e = ConfigError::new(path.display().to_string(), None, "", e);
        ConfigErrors::single(e)
    }) {
        Ok(t) => load_checked(&t, path),
        Err(e) => Err(e),
    };
    let config = match config {
        Ok(c) => c,
        Err(errors) => {
            let list = errors.0.iter().map(error_json).collect();
            return refused("the configuration has errors".into(), list, json!({}));
        }
    };
    let old = server.snapshot();
    let changes = diff(&old.config, &config);
    let next_start = start.changed_by(&config);
    if dry_run {
        return Outcome {
            applied: false,
            changes,
            reason: None,
            errors: Vec::new(),
            hash,
            next_start,
        };
    }
    match server.reload(config) {
        Ok(_) => Outcome {
            applied: true,
            changes,
            reason: None,
            errors: Vec::new(),
            hash,
            next_start,
        },
        Err(reason) => refused(reason.clone(), vec![json!({ "message": reason })], changes),
    }
}

/// The file at `path` as text, or why it cannot be read.
pub(crate) fn read_file(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read file: {e}"))
}

/// Validates `text` as the file at `path` and reads the files it names
/// (certificates, keys), as `tollgate validate` does.
fn load_checked(text: &str, path: &Path) -> Result<Config, ConfigErrors> {
    tollgate_config::load_text(text, path).and_then(|c| {
        let errors = tollgate_proxy::check_files(&c);
        if errors.is_empty() {
            Ok(c)
        } else {
            Err(ConfigErrors(errors))
        }
    })
}

/// Writes `text` to `path` atomically (a temporary file beside it, then a
/// rename), keeping the previous contents as `PATH.prev`.
pub(crate) fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tollgate-new"));
    std::fs::write(&tmp, text)?;
    if path.exists() {
        std::fs::copy(path, path.with_file_name(format!("{name}.prev")))?;
    }
    std::fs::rename(&tmp, path)
}

/// One located error as JSON: the parts and the line `validate` prints.
fn error_json(e: &ConfigError) -> Value {
    json!({
        "file": e.file,
        "line": e.location.map(|l| l.0),
        "column": e.location.map(|l| l.1),
        "path": e.path,
        "message": e.message,
        "text": e.to_string(),
    })
}

/// Names added, removed and changed, per part of the file.
pub(crate) fn diff(old: &Config, new: &Config) -> Value {
    json!({
        "listeners": by_name(&old.listeners, &new.listeners, |l| &l.name),
        "upstreams": by_name(&old.upstreams, &new.upstreams, |u| &u.name),
        "routes": by_name(&old.routes, &new.routes, |r| &r.name),
    })
}

/// What `changes` (from [`diff`]) says, for a log line: `routes added
/// [a], changed [b]; upstreams removed [c]`, or `nothing changed`.
pub(crate) fn summary(changes: &Value) -> String {
    let mut parts = Vec::new();
    for part in ["listeners", "upstreams", "routes"] {
        let said: Vec<String> = ["added", "removed", "changed"]
            .iter()
            .filter_map(|what| {
                let names: Vec<&str> = changes[part][what]
                    .as_array()?
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                (!names.is_empty()).then(|| format!("{what} [{}]", names.join(", ")))
            })
            .collect();
        if !said.is_empty() {
            parts.push(format!("{part} {}", said.join(", ")));
        }
    }
    if parts.is_empty() {
        "nothing changed".into()
    } else {
        parts.join("; ")
    }
}

/// Compares two lists of named items; "changed" compares their debug
/// form, which covers every setting (routes hold regexes, which have no
/// equality of their own).
fn by_name<T: Debug>(old: &[T], new: &[T], name: impl Fn(&T) -> &String) -> Value {
    let find =
        |list: &[T], n: &String| list.iter().find(|i| name(i) == n).map(|i| format!("{i:?}"));
    let added: Vec<&String> = new
        .iter()
        .map(&name)
        .filter(|n| find(old, n).is_none())
        .collect();
    let removed: Vec<&String> = old
        .iter()
        .map(&name)
        .filter(|n| find(new, n).is_none())
        .collect();
    let changed: Vec<&String> = new
        .iter()
        .filter(|i| find(old, name(i)).is_some_and(|o| o != format!("{i:?}")))
        .map(&name)
        .collect();
    json!({ "added": added, "removed": removed, "changed": changed })
}

/// FNV-1a (64 bits) of the file, in hex: enough to tell whether two
/// processes or two moments run the same file, not a security hash.
pub(crate) fn hash_hex(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "listeners: [{name: web, address: \"127.0.0.1:1\"}]\n\
        upstreams: [{name: app, targets: [{address: \"127.0.0.1:2\"}]}]\n";

    #[test]
    fn diff_lists_added_removed_and_changed_by_name() {
        let old = tollgate_config::parse_str_with_env(
            &format!("{BASE}routes: [{{name: a, respond: {{}}}}, {{name: b, respond: {{}}}}]\n"),
            "old.yaml",
            |_| None,
        )
        .unwrap();
        let new = tollgate_config::parse_str_with_env(
            &format!(
                "{BASE}routes: [{{name: a, respond: {{status: 201}}}}, {{name: c, respond: {{}}}}]\n"
            ),
            "new.yaml",
            |_| None,
        )
        .unwrap();
        let d = diff(&old, &new);
        assert_eq!(d["routes"]["added"], json!(["c"]));
        assert_eq!(d["routes"]["removed"], json!(["b"]));
        assert_eq!(d["routes"]["changed"], json!(["a"]));
        assert_eq!(d["upstreams"]["changed"], json!([]));
        assert_eq!(summary(&d), "routes added [c], removed [b], changed [a]");
        assert_eq!(summary(&diff(&old, &old)), "nothing changed");
    }

    #[test]
    fn hash_is_stable_and_tells_files_apart() {
        assert_eq!(hash_hex(b"a"), hash_hex(b"a"));
        assert_ne!(hash_hex(b"a"), hash_hex(b"b"));
        assert_eq!(hash_hex(b"").len(), 16);
    }
}
