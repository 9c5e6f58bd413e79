//! Which precompressed sibling a client accepts: `Accept-Encoding` with
//! q-values (RFC 9110 §12.5.3). The client's weights come first; among
//! equal weights brotli beats zstd beats gzip (smallest files first).

use http::HeaderValue;

/// An encoding with a precompressed sibling file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// `file.br`
    Brotli,
    /// `file.zst`
    Zstd,
    /// `file.gz`
    Gzip,
}

impl Encoding {
    /// Our preference order.
    const ALL: [Encoding; 3] = [Encoding::Brotli, Encoding::Zstd, Encoding::Gzip];

    /// The sibling file's extension.
    pub(crate) fn extension(self) -> &'static str {
        match self {
            Encoding::Brotli => "br",
            Encoding::Zstd => "zst",
            Encoding::Gzip => "gz",
        }
    }

    /// The `Content-Encoding` value.
    pub(crate) fn header(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Encoding::Brotli => "br",
            Encoding::Zstd => "zstd",
            Encoding::Gzip => "gzip",
        })
    }

    fn token(self) -> &'static str {
        match self {
            Encoding::Brotli => "br",
            Encoding::Zstd => "zstd",
            Encoding::Gzip => "gzip",
        }
    }
}

/// The encodings the client accepts, best first (at most three, no
/// allocation). `identity` is always acceptable as the last resort, so it
/// is not listed.
pub(crate) fn accepted(accept_encoding: Option<&HeaderValue>) -> [Option<Encoding>; 3] {
    let mut out = [None; 3];
    let Some(value) = accept_encoding.and_then(|v| v.to_str().ok()) else {
        return out;
    };
    // Weight in thousandths per encoding; `*` covers the ones not named.
    let mut weights: [Option<u16>; 3] = [None; 3];
    let mut star = None;
    for item in value.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let mut q = Some(1000);
        for param in parts {
            if let Some((k, v)) = param.split_once('=') {
                if k.trim().eq_ignore_ascii_case("q") {
                    q = qvalue(v.trim());
                }
            }
        }
        let Some(q) = q else { continue };
        if name == "*" {
            star = Some(q);
            continue;
        }
        for (i, e) in Encoding::ALL.iter().enumerate() {
            let legacy = *e == Encoding::Gzip && name.eq_ignore_ascii_case("x-gzip");
            if name.eq_ignore_ascii_case(e.token()) || legacy {
                weights[i] = Some(q);
            }
        }
    }
    let mut ranked: [(u16, usize); 3] = [(0, 0); 3];
    let mut n = 0;
    for (i, w) in weights.iter().enumerate() {
        let q = w.or(star).unwrap_or(0);
        if q > 0 {
            ranked[n] = (q, i);
            n += 1;
        }
    }
    // Stable: equal weights keep our preference order.
    ranked[..n].sort_by_key(|r| std::cmp::Reverse(r.0));
    for (slot, (_, i)) in out.iter_mut().zip(&ranked[..n]) {
        *slot = Some(Encoding::ALL[*i]);
    }
    out
}

/// `0`, `0.5`, `1`, `1.000` → thousandths; `None` when malformed.
fn qvalue(s: &str) -> Option<u16> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for (i, b) in frac.bytes().enumerate() {
        thousandths += u16::from(b - b'0') * [100, 10, 1][i];
    }
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(v: &'static str) -> Vec<&'static str> {
        accepted(Some(&HeaderValue::from_static(v)))
            .iter()
            .flatten()
            .map(|e| e.extension())
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
        assert!(accepted(None).iter().all(Option::is_none));
    }
}
