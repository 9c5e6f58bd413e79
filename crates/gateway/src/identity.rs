//! The consumer's identity on its way upstream: the configured identity
//! headers are removed from every request, whatever the client sent (also
//! spelt with `_` for `-`, in any case), then written from the consumer the
//! auth policies found, if any.

use http::{HeaderMap, HeaderName, HeaderValue};
use tollgate_config::IdentityHeaders;

use crate::Consumer;

/// Removes `names` and their `_` spellings (`x_consumer_name` for
/// `x-consumer-name`; header names are already lowercase).
pub fn strip(headers: &mut HeaderMap, names: &[HeaderName]) {
    // One pass over the request's few fields finds the usual case (none
    // of them) without hashing each configured name for a lookup.
    if !headers
        .keys()
        .any(|k| names.iter().any(|n| same_name(n, k)))
    {
        return;
    }
    let spoofed: Vec<HeaderName> = headers
        .keys()
        .filter(|k| names.iter().any(|n| same_name(n, k)))
        .cloned()
        .collect();
    for name in spoofed {
        headers.remove(name);
    }
}

/// `sent` is `name`, or `name` with `_` for some `-`.
fn same_name(name: &HeaderName, sent: &HeaderName) -> bool {
    let (n, k) = (name.as_str(), sent.as_str());
    n.len() == k.len()
        && n.bytes()
            .zip(k.bytes())
            .all(|(a, b)| a == b || (a == b'-' && b == b'_'))
}

/// Writes `consumer`'s name, groups and chosen metadata.
pub fn write(headers: &mut HeaderMap, cfg: &IdentityHeaders, consumer: &Consumer) {
    if let Some(v) = &consumer.name_value {
        headers.insert(&cfg.name, v.clone());
    }
    if let Some(v) = &consumer.groups_value {
        headers.insert(&cfg.groups, v.clone());
    }
    for (key, name) in &cfg.metadata {
        if let Some(v) = consumer
            .metadata(key)
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(name, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spoofed_copies_go_in_every_spelling() {
        let cfg = IdentityHeaders::default();
        let names: Vec<HeaderName> = cfg.names().cloned().collect();
        let mut h = HeaderMap::new();
        h.insert("x-consumer-name", HeaderValue::from_static("admin"));
        h.insert(
            "X_Consumer_Name"
                .to_ascii_lowercase()
                .parse::<HeaderName>()
                .unwrap(),
            HeaderValue::from_static("admin"),
        );
        h.insert("x-consumer_groups", HeaderValue::from_static("root"));
        h.insert("x_other", HeaderValue::from_static("kept"));
        strip(&mut h, &names);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h.contains_key("x_other"));
    }
}
