//! Whether an answer is compressed, and the field edits that go with it.

use http::header::{self, HeaderValue};
use http::HeaderMap;
use tollgate_config::{Coding, CompressPolicy};

use crate::cache::control::has_no_transform;

/// What the request phase learnt about a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestSide {
    /// The coding negotiated from Accept-Encoding, if any.
    pub coding: Option<Coding>,
    /// The method was HEAD.
    pub head: bool,
    /// The request said `Cache-Control: no-transform`.
    pub no_transform: bool,
}

/// What to do with an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Leave it alone: not a candidate whatever the request said.
    Skip,
    /// A compressible answer sent as it is: only `Vary: Accept-Encoding`.
    VaryOnly,
    /// Compress with this coding (and add Vary).
    Compress(Coding),
}

/// Decides for an answer with `status`, `headers` and a body of `length`
/// (when known).
pub fn decide(
    policy: &CompressPolicy,
    req: &RequestSide,
    status: u16,
    headers: &HeaderMap,
    length: Option<u64>,
) -> Decision {
    if status < 200 || status == 204 || status == 304 {
        return Decision::Skip;
    }
    if headers.contains_key(header::CONTENT_ENCODING) || has_no_transform(headers) {
        return Decision::Skip;
    }
    if !compressible_type(policy, headers) {
        return Decision::Skip;
    }
    // From here the choice depends on Accept-Encoding, so caches must know.
    let partial = status == 206 || headers.contains_key(header::CONTENT_RANGE);
    let small = length.is_some_and(|n| n == 0 || n < policy.min_length);
    match req.coding {
        Some(c) if !(partial || small || req.head || req.no_transform) => Decision::Compress(c),
        _ => Decision::VaryOnly,
    }
}

/// Whether the answer's Content-Type is in the policy's list.
fn compressible_type(policy: &CompressPolicy, headers: &HeaderMap) -> bool {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    let media = ct
        .as_bytes()
        .split(|b| *b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    let Ok(media) = std::str::from_utf8(media) else {
        return false;
    };
    if media.bytes().any(|b| b.is_ascii_uppercase()) {
        let lower = media.to_ascii_lowercase();
        policy.types.iter().any(|t| t.matches(&lower))
    } else {
        policy.types.iter().any(|t| t.matches(media))
    }
}

/// Adds `Accept-Encoding` to the answer's Vary, merged into the existing
/// value; nothing when it is there already or Vary is `*`.
pub fn add_vary(headers: &mut HeaderMap) {
    let mut count = 0;
    for v in headers.get_all(header::VARY) {
        count += 1;
        let named = v.as_bytes().split(|b| *b == b',').any(|f| {
            let f = f.trim_ascii();
            f == b"*" || f.eq_ignore_ascii_case(b"accept-encoding")
        });
        if named {
            return;
        }
    }
    let merged = match (count, headers.get(header::VARY)) {
        (1, Some(v)) if !v.as_bytes().trim_ascii().is_empty() => {
            let mut s = Vec::with_capacity(v.len() + 17);
            s.extend_from_slice(v.as_bytes());
            s.extend_from_slice(b", Accept-Encoding");
            HeaderValue::from_bytes(&s).ok()
        }
        _ => None,
    };
    match merged {
        Some(v) => {
            headers.insert(header::VARY, v);
        }
        None => {
            headers.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        }
    }
}

/// The field edits of a compressed answer: Content-Encoding set, the
/// length gone (the body is streamed), a strong ETag made weak (the bytes
/// differ, the meaning does not), Accept-Ranges gone (ranges of the
/// compressed stream are not offered), and Vary.
pub fn mark_compressed(headers: &mut HeaderMap, coding: Coding) {
    headers.insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static(coding.token()),
    );
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::ACCEPT_RANGES);
    if let Some(etag) = headers.get(header::ETAG) {
        if etag.as_bytes().starts_with(b"\"") {
            let mut weak = Vec::with_capacity(etag.len() + 2);
            weak.extend_from_slice(b"W/");
            weak.extend_from_slice(etag.as_bytes());
            if let Ok(v) = HeaderValue::from_bytes(&weak) {
                headers.insert(header::ETAG, v);
            }
        }
    }
    add_vary(headers);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::headers;
    use tollgate_config::{TypePattern, DEFAULT_TYPES};

    fn policy() -> CompressPolicy {
        CompressPolicy {
            algorithms: vec![Coding::Gzip],
            min_length: 100,
            types: DEFAULT_TYPES
                .iter()
                .map(|t| TypePattern::parse(t).unwrap())
                .collect(),
            gzip_level: 6,
            brotli_level: 4,
            zstd_level: 3,
        }
    }

    const GZ: RequestSide = RequestSide {
        coding: Some(Coding::Gzip),
        head: false,
        no_transform: false,
    };

    #[test]
    fn decisions() {
        let p = policy();
        let html = headers(&[("content-type", "Text/HTML; charset=utf-8")]);
        assert_eq!(
            decide(&p, &GZ, 200, &html, None),
            Decision::Compress(Coding::Gzip)
        );
        assert_eq!(
            decide(&p, &GZ, 200, &html, Some(100)),
            Decision::Compress(Coding::Gzip)
        );
        assert_eq!(decide(&p, &GZ, 200, &html, Some(99)), Decision::VaryOnly);
        assert_eq!(decide(&p, &GZ, 200, &html, Some(0)), Decision::VaryOnly);
        assert_eq!(
            decide(&p, &RequestSide::default(), 200, &html, None),
            Decision::VaryOnly
        );
        assert_eq!(
            decide(&p, &RequestSide { head: true, ..GZ }, 200, &html, None),
            Decision::VaryOnly
        );
        assert_eq!(
            decide(
                &p,
                &RequestSide {
                    no_transform: true,
                    ..GZ
                },
                200,
                &html,
                None
            ),
            Decision::VaryOnly
        );
        assert_eq!(decide(&p, &GZ, 206, &html, None), Decision::VaryOnly);
        assert_eq!(decide(&p, &GZ, 304, &html, None), Decision::Skip);
        assert_eq!(decide(&p, &GZ, 204, &html, None), Decision::Skip);
        assert_eq!(decide(&p, &GZ, 101, &html, None), Decision::Skip);
        let png = headers(&[("content-type", "image/png")]);
        assert_eq!(decide(&p, &GZ, 200, &png, None), Decision::Skip);
        assert_eq!(
            decide(&p, &GZ, 200, &HeaderMap::new(), None),
            Decision::Skip
        );
        let ld = headers(&[("content-type", "application/ld+json")]);
        assert_eq!(
            decide(&p, &GZ, 200, &ld, None),
            Decision::Compress(Coding::Gzip)
        );
        let encoded = headers(&[("content-type", "text/plain"), ("content-encoding", "br")]);
        assert_eq!(decide(&p, &GZ, 200, &encoded, None), Decision::Skip);
        let nt = headers(&[
            ("content-type", "text/plain"),
            ("cache-control", "public, no-transform"),
        ]);
        assert_eq!(decide(&p, &GZ, 200, &nt, None), Decision::Skip);
        let ranged = headers(&[
            ("content-type", "text/plain"),
            ("content-range", "bytes 0-1/9"),
        ]);
        assert_eq!(decide(&p, &GZ, 200, &ranged, None), Decision::VaryOnly);
    }

    #[test]
    fn vary_is_merged() {
        let mut h = headers(&[("vary", "Origin")]);
        add_vary(&mut h);
        assert_eq!(
            h.get_all("vary").iter().collect::<Vec<_>>(),
            ["Origin, Accept-Encoding"]
        );
        add_vary(&mut h);
        assert_eq!(h.get_all("vary").iter().count(), 1);
        let mut h = headers(&[("vary", "a"), ("vary", "b")]);
        add_vary(&mut h);
        assert_eq!(
            h.get_all("vary").iter().collect::<Vec<_>>(),
            ["a", "b", "Accept-Encoding"]
        );
        let mut h = headers(&[("vary", "*")]);
        add_vary(&mut h);
        assert_eq!(h.get_all("vary").iter().collect::<Vec<_>>(), ["*"]);
        let mut h = HeaderMap::new();
        add_vary(&mut h);
        assert_eq!(h.get("vary").unwrap(), "Accept-Encoding");
    }

    #[test]
    fn compressed_fields() {
        let mut h = headers(&[
            ("etag", "\"v1\""),
            ("content-length", "10"),
            ("accept-ranges", "bytes"),
        ]);
        mark_compressed(&mut h, Coding::Brotli);
        assert_eq!(h.get("etag").unwrap(), "W/\"v1\"");
        assert_eq!(h.get("content-encoding").unwrap(), "br");
        assert!(!h.contains_key("content-length") && !h.contains_key("accept-ranges"));
        let mut h = headers(&[("etag", "W/\"v1\"")]);
        mark_compressed(&mut h, Coding::Gzip);
        assert_eq!(h.get("etag").unwrap(), "W/\"v1\"");
    }
}
