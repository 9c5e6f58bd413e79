//! Script replies into decisions. A reply is a flat list of integers
//! (see `scripts`); anything else (a wrong length, a negative count, a
//! non-integer) is an error, handled as a store failure: a reply never
//! panics and never admits by accident.

use std::time::Duration;

use super::super::algorithm::{Cell, Check};
use super::super::Verdict;

/// A reply that is not what the script returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadReply(pub String);

/// The checks of a GCRA or sliding-window reply for `n` limits: per limit
/// `wait` (µs, -1 when admitted), `remaining`, `reset` (µs).
pub fn decode_checks(reply: &[i64], n: usize) -> Result<Vec<Check>, BadReply> {
    if n == 0 || reply.len() != n.saturating_mul(3) {
        return Err(BadReply(format!(
            "expected {} integers for {n} limits, got {}",
            n.saturating_mul(3),
            reply.len()
        )));
    }
    reply
        .chunks_exact(3)
        .map(|c| {
            let (wait, remaining, reset) = (c[0], c[1], c[2]);
            if wait < -1 || remaining < 0 || reset < 0 {
                return Err(BadReply(format!("out of range: {c:?}")));
            }
            let wait = u64::try_from(wait).ok().map(micros);
            Ok(Check {
                next: Cell::Gcra(0),
                wait,
                remaining: remaining as u64,
                reset: micros(reset as u64),
                idle_at: 0,
            })
        })
        .collect()
}

/// A quota reply: admitted (1/0), the count after the request, seconds
/// to the window's end and its length; `limit` is the quota's count.
pub fn decode_quota(reply: &[i64], limit: u64) -> Result<Verdict, BadReply> {
    let [allowed, used, reset, window] = reply else {
        return Err(BadReply(format!(
            "expected 4 integers, got {}",
            reply.len()
        )));
    };
    let allowed = match allowed {
        0 => false,
        1 => true,
        other => return Err(BadReply(format!("admitted is {other}"))),
    };
    if *used < 0 || *reset < 0 || *window <= 0 {
        return Err(BadReply(format!("out of range: {reply:?}")));
    }
    let used = *used as u64;
    Ok(Verdict {
        allowed,
        quota: limit,
        window: *window as u64,
        remaining: if allowed {
            limit.saturating_sub(used)
        } else {
            0
        },
        reset: Duration::from_secs(*reset as u64),
    })
}

fn micros(us: u64) -> u64 {
    us.saturating_mul(1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_decode_or_are_refused_whole() {
        let checks = decode_checks(&[-1, 4, 100, 250, 0, 250], 2).unwrap();
        assert_eq!(
            (checks[0].wait, checks[0].remaining, checks[0].reset),
            (None, 4, 100_000)
        );
        assert_eq!(checks[1].wait, Some(250_000));
        assert!(decode_checks(&[-1, 4], 1).is_err());
        assert!(decode_checks(&[-2, 4, 1], 1).is_err());
        assert!(decode_checks(&[-1, -4, 1], 1).is_err());
        assert!(decode_checks(&[], 0).is_err());
        let v = decode_quota(&[1, 3, 10, 86_400], 5).unwrap();
        assert_eq!((v.allowed, v.remaining, v.window), (true, 2, 86_400));
        assert_eq!(v.reset, Duration::from_secs(10));
        assert!(!decode_quota(&[0, 5, 10, 86_400], 5).unwrap().allowed);
        assert!(decode_quota(&[2, 5, 10, 86_400], 5).is_err());
        assert!(decode_quota(&[1, 5, 10], 5).is_err());
    }
}
