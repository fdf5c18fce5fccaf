//! Durations as Argo writes them: Go duration strings (`"30s"`, `"5m"`, `"1h30m"`,
//! `"250ms"`) and plain integer seconds (`30` or `"30"`, which Argo accepts for pauses and
//! weir accepts everywhere).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::common::IntOrString;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration")]
    Empty,
    #[error("negative duration `{0}`")]
    Negative(String),
    #[error("invalid duration `{0}`: expected integer seconds or a number with a unit (ns, us, ms, s, m, h), e.g. 30s, 5m, 1h30m")]
    Invalid(String),
}

/// Parses integer seconds or a Go-style duration string. Negative values are an error,
/// since no Argo duration may be negative.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    let (negative, body) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let invalid = || DurationError::Invalid(text.to_owned());
    let value = if let Ok(secs) = body.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        parse_with_units(body).ok_or_else(invalid)?
    };
    if negative && !value.is_zero() {
        return Err(DurationError::Negative(text.to_owned()));
    }
    Ok(value)
}

/// `1h30m`, `1.5s`, `250ms`: one or more (number, unit) pairs, as Go's time.ParseDuration.
fn parse_with_units(mut s: &str) -> Option<Duration> {
    if s.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !s.is_empty() {
        let num_len = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let number = &s[..num_len];
        if number.is_empty() || number == "." {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        s = &s[num_len..];
        let unit_len = s
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(s.len());
        let scale = match &s[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        s = &s[unit_len..];
        total += value * scale;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// Argo's `DurationString` (metric interval, initialDelay, experiment duration). Kept as
/// written so `{{args.interval}}` templates survive until arguments are resolved.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DurationString(pub String);

impl DurationString {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_template(&self) -> bool {
        self.0.contains("{{")
    }

    pub fn to_duration(&self) -> Result<Duration, DurationError> {
        parse_duration(&self.0)
    }
}

impl fmt::Display for DurationString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for DurationString {
    fn from(s: &str) -> Self {
        DurationString(s.to_owned())
    }
}

/// A pause duration (`IntOrString` in Argo): integer seconds or a duration string.
pub fn int_or_string_duration(value: &IntOrString) -> Result<Duration, DurationError> {
    match value {
        IntOrString::Int(n) if *n < 0 => Err(DurationError::Negative(n.to_string())),
        IntOrString::Int(n) => Ok(Duration::from_secs(u64::from(n.unsigned_abs()))),
        IntOrString::String(s) => parse_duration(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_integer_seconds_and_units() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_garbage_and_negatives() {
        assert!(matches!(
            parse_duration("ten"),
            Err(DurationError::Invalid(_))
        ));
        assert!(matches!(
            parse_duration("10x"),
            Err(DurationError::Invalid(_))
        ));
        assert!(matches!(
            parse_duration("s"),
            Err(DurationError::Invalid(_))
        ));
        assert!(matches!(
            parse_duration("-5s"),
            Err(DurationError::Negative(_))
        ));
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert!(matches!(
            int_or_string_duration(&IntOrString::Int(-1)),
            Err(DurationError::Negative(_))
        ));
    }
}
