//! Status timestamps: the engine's [`Timestamp`] (milliseconds) written as RFC 3339 text, as
//! Argo's `metav1.Time` is (whole seconds, UTC, `Z`).
//!
//! Argo truncates to seconds, so a pause that started at 12.7 s is recorded as 12 s and
//! ends up to a second early; weir writes the same text, so it behaves the same.

use std::time::{Duration, UNIX_EPOCH};

use crate::analysis::Timestamp;

/// `2026-11-26T12:00:00Z`.
pub fn format_time(t: Timestamp) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(t.as_millis());
    humantime::format_rfc3339_seconds(at).to_string()
}

/// The instant an RFC 3339 status field names, or `None` when it does not parse (a status
/// edited by hand); callers then treat the field as absent.
pub fn parse_time(text: &str) -> Option<Timestamp> {
    let at = humantime::parse_rfc3339_weak(text).ok()?;
    let since = at.duration_since(UNIX_EPOCH).ok()?;
    Some(Timestamp::from_millis(
        u64::try_from(since.as_millis()).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_whole_seconds_and_truncates_millis() {
        let t = Timestamp::from_millis(1_700_000_000_000);
        assert_eq!(format_time(t), "2023-11-14T22:13:20Z");
        assert_eq!(parse_time(&format_time(t)), Some(t));
        let late = Timestamp::from_millis(1_700_000_000_999);
        assert_eq!(parse_time(&format_time(late)), Some(t));
        assert_eq!(parse_time("yesterday"), None);
    }
}
