//! `/config`: the configuration file as written, as JSON, with secrets
//! taken out. `${NAME}` and `${file:PATH}` references are shown as written,
//! never expanded, so nothing they bring in can appear; values under
//! fields that hold secrets (keys, tokens, passwords, API keys) and any
//! PEM text are replaced by `"<redacted>"`.

use serde_json::Value;

/// What stands in for a secret.
const REDACTED: &str = "<redacted>";

/// The file's text (before `${...}` expansion) as redacted JSON.
pub(crate) fn config_json(text: &str) -> Result<Value, String> {
    let mut value: Value = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
    redact(&mut value);
    Ok(value)
}

/// Whether a field of this name holds a secret (or the way to one).
fn secret_field(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "key"
        || name == "token"
        || name == "authorization"
        || [
            "password", "passwd", "secret", "api_key", "apikey", "private",
        ]
        .iter()
        .any(|s| name.contains(s))
}

/// Replaces secrets in place, at any depth.
fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (name, v) in map.iter_mut() {
                if secret_field(name) && !v.is_null() {
                    *v = Value::String(REDACTED.into());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        Value::String(s) if s.contains("-----BEGIN") => *s = REDACTED.into(),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_references_stay_unexpanded() {
        let text = "admin: {token: {env: ADMIN}}\n\
            listeners: [{name: web, address: \"127.0.0.1:1\", tls: {certificates: [{cert: c.pem, key: k.pem}]}}]\n\
            routes: [{name: r, respond: {body: \"${GREETING}\"}, headers: {api_key: abc, x: \"-----BEGIN KEY\"}}]\n\
            redis: {url: \"redis://127.0.0.1:6379\", username: app, password: hunter2}\n";
        let v = config_json(text).unwrap();
        let out = v.to_string();
        assert_eq!(v["admin"]["token"], "<redacted>");
        assert_eq!(
            v["listeners"][0]["tls"]["certificates"][0]["key"],
            "<redacted>"
        );
        assert_eq!(v["listeners"][0]["tls"]["certificates"][0]["cert"], "c.pem");
        assert_eq!(v["routes"][0]["respond"]["body"], "${GREETING}");
        assert!(!out.contains("abc") && !out.contains("BEGIN"), "{out}");
        assert_eq!(v["redis"]["password"], "<redacted>");
        assert!(!out.contains("hunter2"), "{out}");
    }
}
