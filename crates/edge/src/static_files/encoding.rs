//! Which precompressed sibling a client accepts, read from Accept-Encoding
//! the way the compress policy reads it. The client's weights come first;
//! among equal weights brotli beats zstd beats gzip (smallest files first).

use http::HeaderMap;
use tollgate_config::Coding;

use crate::compress::accept::AcceptEncoding;

/// Our preference order among equal weights.
const PREFERRED: [Coding; 3] = [Coding::Brotli, Coding::Zstd, Coding::Gzip];

/// The extension of a coding's sibling file (`app.js.br`).
pub(crate) fn extension(c: Coding) -> &'static str {
    match c {
        Coding::Brotli => "br",
        Coding::Zstd => "zst",
        Coding::Gzip => "gz",
    }
}

/// The codings the client accepts, best first (at most three, no
/// allocation). `identity` is always acceptable as the last resort, so it
/// is not listed.
pub(crate) fn accepted(headers: &HeaderMap) -> [Option<Coding>; 3] {
    let mut out = [None; 3];
    let Some(ae) = AcceptEncoding::parse(headers) else {
        return out;
    };
    let mut ranked: [(u16, Coding); 3] = PREFERRED.map(|c| (ae.weight(c), c));
    // Stable: equal weights keep our preference order.
    ranked.sort_by_key(|r| std::cmp::Reverse(r.0));
    for (slot, (_, c)) in out.iter_mut().zip(ranked.iter().filter(|r| r.0 > 0)) {
        *slot = Some(*c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::ACCEPT_ENCODING;
    use http::HeaderValue;

    fn order(v: &'static str) -> Vec<&'static str> {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT_ENCODING, HeaderValue::from_static(v));
        accepted(&h)
            .iter()
            .flatten()
            .map(|c| extension(*c))
            .collect()
    }

    #[test]
    fn preferences() {
        assert_eq!(order("gzip, deflate, br"), ["br", "gz"]);
        assert_eq!(order("gzip, br;q=0.5"), ["gz", "br"]);
        assert_eq!(order("br;q=0, gzip"), ["gz"]);
        assert_eq!(order("*"), ["br", "zst", "gz"]);
        assert_eq!(order("*;q=0.1, gzip;q=0.9"), ["gz", "br", "zst"]);
        assert_eq!(order("*, br;q=0"), ["zst", "gz"]);
        assert_eq!(order("identity"), Vec::<&str>::new());
        assert_eq!(order("GZIP;Q=1.000, zstd"), ["zst", "gz"]);
        assert_eq!(order("x-gzip"), ["gz"]);
        assert_eq!(
            order("gzip;q=2, br;q=abc, zstd;q=0.0001"),
            Vec::<&str>::new()
        );
        assert_eq!(order(""), Vec::<&str>::new());
        assert!(accepted(&HeaderMap::new()).iter().all(Option::is_none));
    }
}
