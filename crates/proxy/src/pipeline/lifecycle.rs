//! A route's deprecation and sunset announcements on its answers:
//! `Deprecation: @<unix-seconds>` (RFC 9745, a structured-field date),
//! `Sunset: <HTTP-date>` (RFC 8594), and a `Link` to each one's notes
//! (`rel="deprecation"`, `rel="sunset"`).

use std::time::{Duration, UNIX_EPOCH};

use http::header::{HeaderName, HeaderValue, LINK};
use http::{HeaderMap, Response};
use tollgate_config::{Lifecycle, Route};

use crate::body::ResponseBody;

static DEPRECATION: HeaderName = HeaderName::from_static("deprecation");
static SUNSET: HeaderName = HeaderName::from_static("sunset");

/// Adds the route's announcements to its answer (not to errors that
/// become answers later: those come from tollgate, not the API).
pub(super) fn announce<E>(route: &Route, answered: &mut Result<Response<ResponseBody>, E>) {
    let (Some(l), Ok(resp)) = (&route.lifecycle, answered) else {
        return;
    };
    add_fields(l, resp.headers_mut());
}

fn add_fields(l: &Lifecycle, h: &mut HeaderMap) {
    if let Some(d) = &l.deprecation {
        if let Ok(v) = HeaderValue::from_str(&format!("@{}", d.at)) {
            h.insert(&DEPRECATION, v);
        }
        link(h, d.link.as_deref(), "deprecation");
    }
    if let Some(s) = &l.sunset {
        let at = UNIX_EPOCH + Duration::from_secs(s.at);
        h.insert(&SUNSET, tollgate_core::http_date_value(at));
        link(h, s.link.as_deref(), "sunset");
    }
}

fn link(h: &mut HeaderMap, url: Option<&str>, rel: &str) {
    let Some(url) = url else { return };
    // Validated: no spaces, controls or `>` in the URL.
    if let Ok(v) = HeaderValue::from_str(&format!("<{url}>; rel=\"{rel}\"")) {
        h.append(LINK, v);
    }
}

/// The announcements, as `explain` shows them.
pub(crate) fn describe_lifecycle(l: &Lifecycle) -> String {
    let mut h = HeaderMap::new();
    add_fields(l, &mut h);
    let fields: Vec<String> = h
        .iter()
        .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap_or("")))
        .collect();
    format!("answers carry: {}", fields.join("; "))
}

#[cfg(test)]
mod tests {
    use tollgate_config::LifecycleDate;

    use super::*;

    #[test]
    fn fields_follow_the_rfcs() {
        let l = Lifecycle {
            deprecation: Some(LifecycleDate {
                at: 1_688_169_599,
                link: Some("https://example.com/v1".into()),
            }),
            sunset: Some(LifecycleDate {
                at: 1_688_169_599,
                link: None,
            }),
        };
        let mut h = HeaderMap::new();
        add_fields(&l, &mut h);
        assert_eq!(h["deprecation"], "@1688169599");
        assert_eq!(h["sunset"], "Fri, 30 Jun 2023 23:59:59 GMT");
        assert_eq!(h["link"], "<https://example.com/v1>; rel=\"deprecation\"");
    }
}
