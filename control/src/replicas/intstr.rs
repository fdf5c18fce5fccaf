//! `maxSurge` and `maxUnavailable`: an absolute pod count or a percentage of `spec.replicas`,
//! resolved to pods the way Argo does.
//!
//! Two Kubernetes readings of an int-or-string exist. The current one
//! (`intstr.GetScaledValueFromIntOrPercent`, [`scaled_value_from_int_or_percent`]) scales
//! only strings that end in `%` and rejects any other string. Argo calls the older, deprecated
//! one (`intstr.GetValueFromIntOrPercent`, [`value_from_int_or_percent`]): every string is a
//! percentage, with every `%` in it dropped, so `"25"` is 25 % and `maxSurge: "3"` is 3 % of
//! the replicas, not 3 pods. Argo's own defaults rely on that: they are the strings `"25"`.
//! The sizing functions use the older reading, as Argo does.
//!
//! Percentages are `value × total / 100` rounded up for `maxSurge` and down for
//! `maxUnavailable`, computed in `f64` as Kubernetes does.

use thiserror::Error;
use weir_config::argo::{BlueGreenStrategy, CanaryStrategy, IntOrString};

use super::saturate;

/// Argo's default `maxSurge` (`defaults.DefaultMaxSurge`): the string `"25"`, which Argo's
/// reading takes as 25 %.
pub const DEFAULT_MAX_SURGE: &str = "25";

/// Argo's default `maxUnavailable` (`defaults.DefaultMaxUnavailable`), also 25 %.
pub const DEFAULT_MAX_UNAVAILABLE: &str = "25";

/// An int-or-string that names no number of pods.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum IntOrPercentError {
    /// The string, with its `%` signs removed, is not a decimal integer.
    #[error("invalid value for IntOrString: {0:?} is not an integer or percentage")]
    NotANumber(String),
    /// The strict reading only: a string without a trailing `%`.
    #[error("invalid value for IntOrString: {0:?} is not a percentage")]
    NotAPercentage(String),
}

/// Pods for an int-or-string the way Argo reads it (Kubernetes' deprecated
/// `intstr.GetValueFromIntOrPercent`): an integer is pods; any string is a percentage of
/// `total` once every `%` is removed (`"25%"`, `"25"` and `"2%5"` are all 25 %), rounded up
/// when `round_up`, down otherwise.
pub fn value_from_int_or_percent(
    value: &IntOrString,
    total: i32,
    round_up: bool,
) -> Result<i64, IntOrPercentError> {
    match value {
        IntOrString::Int(n) => Ok(i64::from(*n)),
        IntOrString::String(s) => {
            let digits: String = s.chars().filter(|c| *c != '%').collect();
            let percent =
                parse_decimal(&digits).ok_or_else(|| IntOrPercentError::NotANumber(s.clone()))?;
            Ok(scale_percent(percent, total, round_up))
        }
    }
}

/// Pods for an int-or-string the way current Kubernetes reads it
/// (`intstr.GetScaledValueFromIntOrPercent`): an integer is pods; a string must be a decimal
/// integer followed by one `%`. Argo's sizing does not use this reading (see the module doc);
/// it is here so the difference is written down and tested.
pub fn scaled_value_from_int_or_percent(
    value: &IntOrString,
    total: i32,
    round_up: bool,
) -> Result<i64, IntOrPercentError> {
    match value {
        IntOrString::Int(n) => Ok(i64::from(*n)),
        IntOrString::String(s) => {
            let digits = s
                .strip_suffix('%')
                .ok_or_else(|| IntOrPercentError::NotAPercentage(s.clone()))?;
            let percent =
                parse_decimal(digits).ok_or_else(|| IntOrPercentError::NotANumber(s.clone()))?;
            Ok(scale_percent(percent, total, round_up))
        }
    }
}

/// `maxSurge` and `maxUnavailable` resolved together against `desired` pods (Argo's
/// `resolveFenceposts`). An unset value counts as 0. Surge rounds up and unavailability down;
/// if both come to 0 (validation rejects two literal zeros, but rounding a small percentage
/// down can still reach 0) unavailability becomes 1, so the rollout can always progress by
/// taking one pod down even where surging is blocked (by a quota, say). Either value failing
/// to parse is an error, and no fencepost fix is applied.
pub fn resolve_fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    desired: i32,
) -> Result<(i32, i32), IntOrPercentError> {
    let zero = IntOrString::Int(0);
    let surge = value_from_int_or_percent(max_surge.unwrap_or(&zero), desired, true)?;
    let mut unavailable =
        value_from_int_or_percent(max_unavailable.unwrap_or(&zero), desired, false)?;
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    Ok((saturate(surge), saturate(unavailable)))
}

/// The canary's `maxSurge`, or Argo's default `"25"` (`defaults.GetMaxSurgeOrDefault`).
pub fn canary_max_surge_or_default(canary: &CanaryStrategy) -> IntOrString {
    canary
        .max_surge
        .clone()
        .unwrap_or_else(|| IntOrString::String(DEFAULT_MAX_SURGE.to_owned()))
}

/// The canary's `maxUnavailable`, or Argo's default `"25"` (`defaults.GetMaxUnavailableOrDefault`).
pub fn canary_max_unavailable_or_default(canary: &CanaryStrategy) -> IntOrString {
    canary
        .max_unavailable
        .clone()
        .unwrap_or_else(|| IntOrString::String(DEFAULT_MAX_UNAVAILABLE.to_owned()))
}

/// The blue-green `maxUnavailable`, or Argo's default `"25"`.
pub fn blue_green_max_unavailable_or_default(blue_green: &BlueGreenStrategy) -> IntOrString {
    blue_green
        .max_unavailable
        .clone()
        .unwrap_or_else(|| IntOrString::String(DEFAULT_MAX_UNAVAILABLE.to_owned()))
}

/// How many pods above `replicas` a canary may run (Argo's `MaxSurge` for a canary Rollout):
/// the surge half of [`resolve_fenceposts`] over the values or their defaults. A value that
/// does not parse gives 0, as Argo ignores the error (validation reports it). A blue-green
/// Rollout never surges: Argo's `MaxSurge` is 0 for it.
pub fn canary_max_surge(replicas: i32, canary: &CanaryStrategy) -> i32 {
    let surge = canary_max_surge_or_default(canary);
    let unavailable = canary_max_unavailable_or_default(canary);
    resolve_fenceposts(Some(&surge), Some(&unavailable), replicas).map_or(0, |(s, _)| s)
}

/// How many of `replicas` pods a canary may have unavailable (Argo's `MaxUnavailable` for a
/// canary Rollout): 0 when `replicas` is 0; otherwise the unavailable half of
/// [`resolve_fenceposts`] (so at least 1 when both resolve to 0; 0 when a value does not
/// parse), capped at `replicas`.
pub fn canary_max_unavailable(replicas: i32, canary: &CanaryStrategy) -> i32 {
    if replicas == 0 {
        return 0;
    }
    let surge = canary_max_surge_or_default(canary);
    let unavailable = canary_max_unavailable_or_default(canary);
    let resolved =
        resolve_fenceposts(Some(&surge), Some(&unavailable), replicas).map_or(0, |(_, u)| u);
    resolved.min(replicas)
}

/// How many of `replicas` pods a blue-green Rollout may have unavailable (Argo's
/// `MaxUnavailable` for blue-green): `maxUnavailable` (default 25 %) rounded down, with no
/// fencepost fix (blue-green has no surge to pair it with), 0 when it does not parse or
/// `replicas` is 0, capped at `replicas`.
pub fn blue_green_max_unavailable(replicas: i32, blue_green: &BlueGreenStrategy) -> i32 {
    if replicas == 0 {
        return 0;
    }
    let value = blue_green_max_unavailable_or_default(blue_green);
    let resolved = value_from_int_or_percent(&value, replicas, false).map_or(0, saturate);
    resolved.min(replicas)
}

/// `percent` % of `total`, rounded up or down, in the `f64` steps Kubernetes uses (exact for
/// any percentage and replica count a Rollout can hold).
fn scale_percent(percent: i64, total: i32, round_up: bool) -> i64 {
    let scaled = percent as f64 * f64::from(total) / 100.0;
    let rounded = if round_up {
        scaled.ceil()
    } else {
        scaled.floor()
    };
    // `as` saturates (and maps NaN to 0); Go's conversion is undefined out of range.
    rounded as i64
}

/// Go's `strconv.Atoi`: an optional sign and decimal digits, nothing else.
fn parse_decimal(s: &str) -> Option<i64> {
    s.parse::<i64>().ok()
}
