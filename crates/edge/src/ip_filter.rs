//! IP filters: whether a client address may pass.
//!
//! The most specific entry decides: of all `allow` and `deny` networks that
//! contain the address, the one with the longest prefix wins, and `deny`
//! wins a tie. An address no entry contains passes only when `allow` is
//! empty (a deny list), so `allow: [10.0.0.0/8], deny: [10.1.0.0/16]` and
//! `deny: [10.0.0.0/8], allow: [10.1.0.0/16]` both mean what they say,
//! whatever the order written.

use std::net::IpAddr;

use ipnet::IpNet;
use tollgate_config::IpFilter;

/// Whether `ip` may pass `filter`. IPv4-mapped IPv6 addresses (a dual-stack
/// listener's IPv4 clients) are matched as IPv4.
pub fn ip_allowed(filter: &IpFilter, ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    let longest = |nets: &[IpNet]| {
        nets.iter()
            .filter(|n| n.contains(&ip))
            .map(IpNet::prefix_len)
            .max()
    };
    match (longest(&filter.allow), longest(&filter.deny)) {
        (Some(allow), Some(deny)) => allow > deny,
        (Some(_), None) => true,
        (None, Some(_)) => false,
        (None, None) => filter.allow.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(allow: &[&str], deny: &[&str]) -> IpFilter {
        let nets = |l: &[&str]| l.iter().map(|s| s.parse().unwrap()).collect();
        IpFilter {
            allow: nets(allow),
            deny: nets(deny),
        }
    }

    fn ok(f: &IpFilter, ip: &str) -> bool {
        ip_allowed(f, ip.parse().unwrap())
    }

    #[test]
    fn allow_list_with_an_exception() {
        let f = filter(&["10.0.0.0/8", "::1/128"], &["10.1.0.0/16"]);
        assert!(ok(&f, "10.2.3.4"));
        assert!(!ok(&f, "10.1.3.4"));
        assert!(!ok(&f, "192.168.1.1"), "not listed: allow list refuses");
        assert!(ok(&f, "::1"));
        assert!(!ok(&f, "::2"));
        assert!(ok(&f, "::ffff:10.2.3.4"), "IPv4-mapped counts as IPv4");
    }

    #[test]
    fn deny_list_with_an_exception() {
        let f = filter(&["10.1.0.0/16"], &["10.0.0.0/8"]);
        assert!(!ok(&f, "10.2.3.4"));
        assert!(ok(&f, "10.1.3.4"));
        let deny_only = filter(&[], &["192.0.2.0/24", "2001:db8::/32"]);
        assert!(
            ok(&deny_only, "198.51.100.1"),
            "not listed: deny list lets through"
        );
        assert!(!ok(&deny_only, "192.0.2.77"));
        assert!(!ok(&deny_only, "2001:db8::1"));
        assert!(!ok(&deny_only, "::ffff:192.0.2.1"));
    }

    #[test]
    fn deny_wins_a_tie() {
        let f = filter(&["127.0.0.2/32"], &["127.0.0.2/32"]);
        assert!(!ok(&f, "127.0.0.2"));
    }
}
