//! Reading the canary steps: which step is current, its weight, its name in events, and the
//! steps' hash. Argo's `utils/replicaset/canary.go` and `rolloututil.CanaryStepString`.

use std::time::Duration;

use weir_config::argo::{int_or_string_duration, CanaryStep, CanaryStrategy, RolloutStatus};

/// Argo's default for `trafficRouting.maxTrafficWeight`.
pub const DEFAULT_MAX_WEIGHT: i32 = 100;

/// The total weight of the managed route.
pub fn max_weight(canary: &CanaryStrategy) -> i32 {
    canary
        .traffic_routing
        .as_ref()
        .and_then(|t| t.max_traffic_weight)
        .unwrap_or(DEFAULT_MAX_WEIGHT)
}

/// Argo's `GetCurrentCanaryStep`: the step index (0 when unset) and the step, if the index
/// is within the steps. `None` for both when there are no steps.
pub fn current_step<'a>(
    canary: &'a CanaryStrategy,
    status: &RolloutStatus,
) -> (Option<&'a CanaryStep>, Option<usize>) {
    if canary.steps.is_empty() {
        return (None, None);
    }
    let index = status
        .current_step_index
        .and_then(|i| usize::try_from(i).ok())
        .unwrap_or(0);
    (canary.steps.get(index), Some(index))
}

/// Argo's `GetCurrentSetWeight`: the last setWeight at or before the current step; the
/// maximum past the last step; 0 when aborted or before any setWeight.
pub fn current_set_weight(canary: &CanaryStrategy, status: &RolloutStatus) -> i32 {
    if status.abort {
        return 0;
    }
    match current_step(canary, status) {
        (Some(_), Some(index)) => canary.steps[..=index]
            .iter()
            .rev()
            .find_map(|s| s.set_weight)
            .unwrap_or(0),
        _ => max_weight(canary),
    }
}

/// A pause step's duration; `None` for an indefinite pause (or a duration that does not
/// parse, which lint reports and which then waits for a promotion rather than not at all).
pub fn pause_duration(step: &CanaryStep) -> Option<Duration> {
    let duration = step.pause.as_ref()?.duration.as_ref()?;
    int_or_string_duration(duration).ok()
}

/// Argo's `CanaryStepString`, used in RolloutStepCompleted events.
pub fn step_string(step: &CanaryStep) -> String {
    if let Some(w) = step.set_weight {
        return format!("setWeight: {w}");
    }
    if let Some(pause) = &step.pause {
        return match &pause.duration {
            Some(d) => format!("pause: {d}"),
            None => "pause".to_string(),
        };
    }
    if step.experiment.is_some() {
        return "experiment".to_string();
    }
    if step.analysis.is_some() {
        return "analysis".to_string();
    }
    if let Some(scale) = &step.set_canary_scale {
        if let Some(w) = scale.weight {
            return format!("setCanaryScale{{weight: {w}}}");
        } else if scale.match_traffic_weight {
            return "setCanaryScale{matchTrafficWeight: true}".to_string();
        } else if let Some(r) = scale.replicas {
            return format!("setCanaryScale{{replicas: {r}}}");
        }
    }
    if let Some(plugin) = &step.plugin {
        return format!("plugin: {}", plugin.name);
    }
    if let Some(route) = &step.set_header_route {
        return format!("setHeaderRoute: {}", route.name);
    }
    if let Some(route) = &step.set_mirror_route {
        return format!("setMirrorRoute: {}", route.name);
    }
    "invalid".to_string()
}

pub use super::step_hash::step_hash;

/// Steps that do nothing in standalone mode and complete at once: setCanaryScale (no
/// replicas to scale) and step plugins.
pub fn is_passed_over(step: &CanaryStep) -> bool {
    step.set_canary_scale.is_some() || step.plugin.is_some()
}
