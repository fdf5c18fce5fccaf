//! Durations as users write them: `"1s"`, `"250ms"`, `"1m30s"` (humantime syntax), or
//! a bare integer meaning seconds, as Argo accepts.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A non-negative duration parsed from `"10s"`-style text or an integer of seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub const fn from_secs(s: u64) -> Self {
        Duration(std::time::Duration::from_secs(s))
    }
    pub const fn from_millis(ms: u64) -> Self {
        Duration(std::time::Duration::from_millis(ms))
    }
    pub fn get(self) -> std::time::Duration {
        self.0
    }
}

/// Parses `"1s"`, `"250ms"`, `"2m"`, `"1h30m"` or `"15"` (seconds).
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    if t.starts_with('-') {
        return Err(format!("duration {text:?} is negative"));
    }
    humantime::parse_duration(t).map(Duration).map_err(|e| {
        format!("invalid duration {text:?} ({e}); write e.g. \"500ms\", \"10s\", \"5m\" or an integer of seconds")
    })
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"10s\" or an integer of seconds")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                Ok(Duration::from_secs(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                u64::try_from(v)
                    .map(Duration::from_secs)
                    .map_err(|_| E::custom(format!("duration {v} is negative")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_users_write() {
        let cases = [
            ("1s", 1000),
            ("250ms", 250),
            ("2m", 120_000),
            ("1h30m", 5_400_000),
            ("15", 15_000),
        ];
        for (text, ms) in cases {
            assert_eq!(parse(text).unwrap().get().as_millis(), ms, "{text}");
        }
    }

    #[test]
    fn rejects_negative_and_garbage() {
        assert!(parse("-1s").unwrap_err().contains("negative"));
        assert!(parse("soon").unwrap_err().contains("invalid duration"));
    }
}
