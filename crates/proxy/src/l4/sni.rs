//! Server name → upstream for `tls_passthrough` listeners: an exact name
//! wins over a wildcard, a longer wildcard over a shorter one, and the
//! listener's `upstream` takes the rest (no name, or no match).

use std::collections::HashMap;

use tollgate_config::{HostPattern, L4Listener};

/// The compiled `sni` routes of one listener.
#[derive(Debug)]
pub(super) struct SniTable {
    exact: HashMap<String, usize>,
    /// `.example.com` suffixes, longest first.
    suffixes: Vec<(String, usize)>,
    default: Option<usize>,
}

impl SniTable {
    pub(super) fn new(l4: &L4Listener) -> Self {
        let mut exact = HashMap::new();
        let mut suffixes = Vec::new();
        for route in &l4.sni {
            for host in &route.hosts {
                match host {
                    HostPattern::Exact(name) => {
                        exact.entry(name.clone()).or_insert(route.upstream);
                    }
                    HostPattern::Suffix(s) => suffixes.push((s.clone(), route.upstream)),
                }
            }
        }
        // Stable: equal lengths keep file order.
        suffixes.sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
        Self {
            exact,
            suffixes,
            default: l4.upstream,
        }
    }

    /// The upstream for a ClientHello's server name (lowercase), if any.
    pub(super) fn route(&self, name: Option<&str>) -> Option<usize> {
        let Some(name) = name else {
            return self.default;
        };
        if let Some(&u) = self.exact.get(name) {
            return Some(u);
        }
        self.suffixes
            .iter()
            .find(|(s, _)| name.len() > s.len() && name.ends_with(s.as_str()))
            .map(|&(_, u)| u)
            .or(self.default)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use tollgate_config::SniRoute;

    #[test]
    fn exact_then_longest_wildcard_then_default() {
        let l4 = L4Listener {
            upstream: Some(9),
            sni: vec![
                SniRoute {
                    hosts: vec![HostPattern::Suffix(".example.com".into())],
                    upstream: 1,
                },
                SniRoute {
                    hosts: vec![
                        HostPattern::Suffix(".api.example.com".into()),
                        HostPattern::Exact("example.com".into()),
                    ],
                    upstream: 2,
                },
                SniRoute {
                    hosts: vec![HostPattern::Exact("v1.api.example.com".into())],
                    upstream: 3,
                },
            ],
            idle_timeout: Duration::from_secs(1),
            max_sessions: 1,
            access_log: true,
        };
        let t = SniTable::new(&l4);
        assert_eq!(t.route(Some("v1.api.example.com")), Some(3));
        assert_eq!(t.route(Some("v2.api.example.com")), Some(2));
        assert_eq!(t.route(Some("api.example.com")), Some(1));
        assert_eq!(t.route(Some("example.com")), Some(2));
        assert_eq!(t.route(Some("www.example.com")), Some(1));
        assert_eq!(t.route(Some("example.org")), Some(9));
        assert_eq!(t.route(Some("xexample.com")), Some(9));
        assert_eq!(t.route(None), Some(9));
        let none = SniTable::new(&L4Listener {
            upstream: None,
            ..l4
        });
        assert_eq!(none.route(None), None);
        assert_eq!(none.route(Some("example.org")), None);
    }
}
