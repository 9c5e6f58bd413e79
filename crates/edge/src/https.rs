//! Sending plain-HTTP clients to HTTPS: the Location of the redirect.

use tollgate_config::HttpsRedirect;

/// `https://host[:port]/path?query` for a request to `host` (lowercase,
/// without its port; IPv6 in brackets) with `path_and_query`. The port is
/// left out when it is 443. `None` when there is no host to send the client to.
pub fn https_location(r: &HttpsRedirect, host: &str, path_and_query: &str) -> Option<String> {
    if host.is_empty() {
        return None;
    }
    let path = if path_and_query.starts_with('/') {
        path_and_query
    } else {
        "/"
    };
    Some(if r.port == 443 {
        format!("https://{host}{path}")
    } else {
        format!("https://{host}:{}{path}", r.port)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to(port: u16) -> HttpsRedirect {
        HttpsRedirect {
            port,
            status: http::StatusCode::PERMANENT_REDIRECT,
        }
    }

    #[test]
    fn keeps_host_and_path_and_drops_the_default_port() {
        assert_eq!(
            https_location(&to(443), "example.com", "/a/b?c=1").as_deref(),
            Some("https://example.com/a/b?c=1")
        );
        assert_eq!(
            https_location(&to(8443), "[::1]", "/").as_deref(),
            Some("https://[::1]:8443/")
        );
        // An asterisk-form or empty target still lands on a page.
        assert_eq!(
            https_location(&to(443), "a.test", "*").as_deref(),
            Some("https://a.test/")
        );
        assert_eq!(https_location(&to(443), "", "/"), None);
    }
}
