//! Wall-clock formatting without a date library (HTTP dates live in core).

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use tollgate_core::civil_from_days;

/// Appends `t` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
pub fn format_rfc3339_millis(t: SystemTime, out: &mut String) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        d.subsec_millis()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_known_instants() {
        let mut s = String::new();
        format_rfc3339_millis(
            UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            &mut s,
        );
        assert_eq!(s, "2023-11-14T22:13:20.123Z");
        s.clear();
        format_rfc3339_millis(UNIX_EPOCH + Duration::from_secs(951_782_400), &mut s);
        assert_eq!(s, "2000-02-29T00:00:00.000Z");
    }
}
