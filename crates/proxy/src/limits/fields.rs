//! The answer's rate-limit fields, rendered without `format!`: the
//! policy's name as a structured-field string and its `RateLimit-Policy`
//! values are made once per policy (at load); per request only the
//! `RateLimit` value's two numbers are written, on the stack.

use http::HeaderValue;
use tollgate_config::{Quota, Rate, RateLimit};

/// What a policy's answers repeat: its label and policy values.
#[derive(Debug)]
pub(crate) struct FieldText {
    /// The policy's name as a structured-field string (`"name"`).
    label: Box<str>,
    /// `RateLimit-Policy` of each limit the policy may report, by its
    /// quota (`q`) and window (`w`).
    policies: Vec<(u64, u64, HeaderValue)>,
}

impl FieldText {
    /// The fields of a `rate_limit`: every limit of its own, of its plans
    /// and of its consumers' overrides.
    pub(crate) fn for_rate(p: &RateLimit) -> Self {
        let sets = std::iter::once(&p.limits)
            .chain(p.plans.iter().map(|(_, r)| r))
            .chain(p.consumers.iter().map(|(_, r)| r));
        let limits = sets
            .flatten()
            .map(|r| (r.count.saturating_add(p.burst), window(r)));
        Self::new(&p.name, limits)
    }

    /// The fields of a `quota` (its calendar windows vary: rendered per
    /// request).
    pub(crate) fn for_quota(q: &Quota) -> Self {
        Self::new(&q.name, std::iter::empty())
    }

    fn new(name: &str, limits: impl Iterator<Item = (u64, u64)>) -> Self {
        let label = sf_string(name).into_boxed_str();
        let mut policies: Vec<(u64, u64, HeaderValue)> = Vec::new();
        for (q, w) in limits {
            if policies.iter().any(|(pq, pw, _)| (*pq, *pw) == (q, w)) {
                continue;
            }
            if let Some(v) = render(&label, ";q=", q, ";w=", w) {
                policies.push((q, w, v));
            }
        }
        Self { label, policies }
    }

    /// `RateLimit-Policy`: made at load for the policy's limits.
    pub(crate) fn policy(&self, quota: u64, window: u64) -> Option<HeaderValue> {
        match self
            .policies
            .iter()
            .find(|(q, w, _)| (*q, *w) == (quota, window))
        {
            Some((_, _, v)) => Some(v.clone()),
            None => render(&self.label, ";q=", quota, ";w=", window),
        }
    }

    /// `RateLimit`: the requests left and the seconds until reset.
    pub(crate) fn remaining(&self, remaining: u64, reset: u64) -> Option<HeaderValue> {
        render(&self.label, ";r=", remaining, ";t=", reset)
    }
}

/// A rate's window as a verdict reports it: whole seconds, at least one.
fn window(r: &Rate) -> u64 {
    let ns = u64::try_from(r.period.as_nanos()).unwrap_or(u64::MAX);
    (ns / 1_000_000_000).max(1)
}

/// `label` `ka` `a` `kb` `b` as a field value, written on the stack (a
/// label too long for it goes through the heap).
fn render(label: &str, ka: &str, a: u64, kb: &str, b: u64) -> Option<HeaderValue> {
    let (mut da, mut db) = ([0u8; 20], [0u8; 20]);
    let parts = [
        label.as_bytes(),
        ka.as_bytes(),
        digits(a, &mut da),
        kb.as_bytes(),
        digits(b, &mut db),
    ];
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut stack = [0u8; 160];
    if len > stack.len() {
        return HeaderValue::from_bytes(&parts.concat()).ok();
    }
    let mut at = 0;
    for p in parts {
        stack[at..at + p.len()].copy_from_slice(p);
        at += p.len();
    }
    HeaderValue::from_bytes(&stack[..len]).ok()
}

/// `n` in decimal, written at the end of `buf`.
fn digits(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

/// A structured-field string (RFC 8941 §3.3.3): printable ASCII, with `"`
/// and `\` escaped; other characters become `_`.
pub(crate) fn sf_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('_'),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_field_strings_are_escaped() {
        assert_eq!(sf_string("default"), "\"default\"");
        assert_eq!(sf_string("a\"b\\c\u{e9}"), "\"a\\\"b\\\\c_\"");
    }

    #[test]
    fn numbers_are_written_as_format_would() {
        for n in [0, 7, 10, 99, 1_000_000, u64::MAX] {
            let mut buf = [0u8; 20];
            assert_eq!(digits(n, &mut buf), n.to_string().as_bytes());
        }
    }

    #[test]
    fn values_made_at_load_equal_those_rendered_per_request() {
        let long = "n".repeat(300);
        for name in ["p", long.as_str()] {
            let t = FieldText::new(name, [(15, 1), (15, 1), (100, 3600)].into_iter());
            assert_eq!(t.policies.len(), 2, "one value per distinct limit");
            let label = sf_string(name);
            for (q, w) in [(15, 1), (100, 3600), (7, 60)] {
                let v = t.policy(q, w).unwrap();
                assert_eq!(v.to_str().unwrap(), format!("{label};q={q};w={w}"));
            }
            let v = t.remaining(0, 12);
            assert_eq!(v.unwrap().to_str().unwrap(), format!("{label};r=0;t=12"));
        }
    }
}
