//! Accept-Encoding (RFC 9110 §12.5.3) read once for both its users, and
//! the compress policy's negotiation: the client's q-values decide, the
//! server's order breaks ties; `q=0` excludes, `*` stands for every coding
//! not named, and `identity` may be preferred or excluded.

use http::header::ACCEPT_ENCODING;
use http::HeaderMap;
use tollgate_config::Coding;

/// q-values in thousandths.
type Q = u16;

/// What an Accept-Encoding says about the codings tollgate knows: the
/// compress policy negotiates with it, static files pick a precompressed
/// sibling with it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AcceptEncoding {
    codings: [Option<Q>; 3],
    star: Option<Q>,
    identity: Option<Q>,
}

fn slot(c: Coding) -> usize {
    match c {
        Coding::Gzip => 0,
        Coding::Brotli => 1,
        Coding::Zstd => 2,
    }
}

impl AcceptEncoding {
    /// The weights of every Accept-Encoding field of a request; `None`
    /// when it has none.
    pub(crate) fn parse(headers: &HeaderMap) -> Option<Self> {
        if !headers.contains_key(ACCEPT_ENCODING) {
            return None;
        }
        let mut w = Self::default();
        for value in headers.get_all(ACCEPT_ENCODING) {
            for element in value.as_bytes().split(|b| *b == b',') {
                w.add(element);
            }
        }
        Some(w)
    }

    /// Takes in one element, `coding` or `coding;q=0.5`.
    fn add(&mut self, element: &[u8]) {
        let mut parts = element.split(|b| *b == b';');
        let name = parts.next().unwrap_or_default().trim_ascii();
        if name.is_empty() {
            return;
        }
        let mut q: Option<Q> = Some(1000);
        for param in parts {
            let param = param.trim_ascii();
            if let Some((k, v)) = split_eq(param) {
                if k.eq_ignore_ascii_case(b"q") {
                    q = qvalue(v);
                }
            }
        }
        // An element with a broken q-value is ignored.
        let Some(q) = q else { return };
        let target = if name.eq_ignore_ascii_case(b"gzip") || name.eq_ignore_ascii_case(b"x-gzip") {
            &mut self.codings[slot(Coding::Gzip)]
        } else if name.eq_ignore_ascii_case(b"br") {
            &mut self.codings[slot(Coding::Brotli)]
        } else if name.eq_ignore_ascii_case(b"zstd") {
            &mut self.codings[slot(Coding::Zstd)]
        } else if name == b"*" {
            &mut self.star
        } else if name.eq_ignore_ascii_case(b"identity") {
            &mut self.identity
        } else {
            return;
        };
        // Repeated: the most favourable mention counts.
        *target = Some(target.map_or(q, |old| old.max(q)));
    }

    /// The client's weight for `c` (named, else `*`, else 0: not acceptable).
    pub(crate) fn weight(&self, c: Coding) -> Q {
        self.codings[slot(c)].or(self.star).unwrap_or(0)
    }
}

/// The coding to send for a request with `headers`, among `offered` (most
/// preferred first); `None`: send the answer as it is. Without an
/// Accept-Encoding nothing is compressed.
pub fn negotiate(headers: &HeaderMap, offered: &[Coding]) -> Option<Coding> {
    let w = AcceptEncoding::parse(headers)?;
    let mut best: Option<(Coding, Q)> = None;
    for &c in offered {
        let q = w.weight(c);
        if q > 0 && best.is_none_or(|(_, b)| q > b) {
            best = Some((c, q));
        }
    }
    let (coding, q) = best?;
    // identity wins only when the client ranks it strictly higher by name;
    // otherwise it is the fallback, not a competitor.
    match w.identity {
        Some(iq) if iq > q => None,
        _ => Some(coding),
    }
}

fn split_eq(param: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = param.iter().position(|b| *b == b'=')?;
    Some((param[..i].trim_ascii(), param[i + 1..].trim_ascii()))
}

/// `0`, `0.5`, `1`, `1.000`... (at most three decimals) in thousandths.
fn qvalue(v: &[u8]) -> Option<Q> {
    let (int, frac) = match v.iter().position(|b| *b == b'.') {
        Some(i) => (&v[..i], &v[i + 1..]),
        None => (v, &[][..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths: Q = 0;
    for (i, d) in frac.iter().enumerate() {
        thousandths += Q::from(d - b'0') * [100, 10, 1][i];
    }
    match int {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const ALL: &[Coding] = &[Coding::Zstd, Coding::Brotli, Coding::Gzip];

    fn pick(ae: &str, offered: &[Coding]) -> Option<Coding> {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT_ENCODING, HeaderValue::from_str(ae).unwrap());
        negotiate(&h, offered)
    }

    #[test]
    fn q_values_then_server_order() {
        assert_eq!(pick("gzip, br, zstd", ALL), Some(Coding::Zstd));
        assert_eq!(pick("gzip, br", ALL), Some(Coding::Brotli));
        assert_eq!(pick("gzip;q=1.0, br;q=0.5", ALL), Some(Coding::Gzip));
        assert_eq!(pick("GZIP", ALL), Some(Coding::Gzip));
        assert_eq!(pick("x-gzip", ALL), Some(Coding::Gzip));
        assert_eq!(
            pick("gzip, br", &[Coding::Gzip, Coding::Brotli]),
            Some(Coding::Gzip)
        );
        assert_eq!(pick("deflate, compress", ALL), None);
        assert_eq!(pick("", ALL), None);
        assert_eq!(negotiate(&HeaderMap::new(), ALL), None);
    }

    #[test]
    fn zero_excludes_and_star_fills_in() {
        assert_eq!(pick("br;q=0, gzip", ALL), Some(Coding::Gzip));
        assert_eq!(pick("*", ALL), Some(Coding::Zstd));
        assert_eq!(pick("*;q=0.5, zstd;q=0", ALL), Some(Coding::Brotli));
        assert_eq!(pick("*;q=0", ALL), None);
        assert_eq!(pick("gzip;q=0", ALL), None);
        assert_eq!(pick("gzip;q=0.000", ALL), None);
    }

    #[test]
    fn identity() {
        assert_eq!(pick("identity, gzip;q=0.5", ALL), None);
        assert_eq!(pick("identity;q=0.5, gzip", ALL), Some(Coding::Gzip));
        assert_eq!(pick("identity;q=0, gzip", ALL), Some(Coding::Gzip));
        assert_eq!(pick("identity", ALL), None);
        assert_eq!(pick("gzip;q=0.5, identity;q=0.5", ALL), Some(Coding::Gzip));
    }

    #[test]
    fn broken_q_values_are_ignored() {
        assert_eq!(pick("gzip;q=2, br;q=abc, zstd;q=0.1234", ALL), None);
        assert_eq!(pick("gzip;q=1.001", ALL), None);
        assert_eq!(pick(";;,, ;q=1, gzip ; q = 0.8 ", ALL), Some(Coding::Gzip));
    }
}
