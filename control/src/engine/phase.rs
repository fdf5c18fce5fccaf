//! The rollout's phase and message, derived from spec and status exactly as Argo's
//! `rolloututil.CalculateRolloutPhase` does (replica checks aside: standalone has none).

use weir_config::argo::{RolloutSpec, RolloutStatus};

use super::conditions::{INVALID_SPEC, ROLLOUT_ABORTED_REASON, TIMED_OUT_REASON};

pub const HEALTHY: &str = "Healthy";
pub const PROGRESSING: &str = "Progressing";
pub const PAUSED: &str = "Paused";
pub const DEGRADED: &str = "Degraded";

/// `(phase, message)`. `paused` is the effective `spec.paused` (commands included).
pub fn rollout_phase(spec: &RolloutSpec, status: &RolloutStatus, paused: bool) -> (String, String) {
    for cond in &status.conditions {
        if cond.type_ == INVALID_SPEC {
            return (DEGRADED.into(), format!("{INVALID_SPEC}: {}", cond.message));
        }
        if cond.reason == ROLLOUT_ABORTED_REASON || cond.reason == TIMED_OUT_REASON {
            return (
                DEGRADED.into(),
                format!("{}: {}", cond.reason, cond.message),
            );
        }
    }
    if paused {
        return (PAUSED.into(), "manually paused".into());
    }
    if let Some(cond) = status.pause_conditions.first() {
        return (PAUSED.into(), cond.reason.clone());
    }
    let strategy = &spec.strategy;
    if strategy.blue_green.is_some() {
        let active = status
            .blue_green
            .as_ref()
            .map(|b| b.active_selector.as_str())
            .unwrap_or("");
        if active.is_empty() || active != status.current_pod_hash {
            return (PROGRESSING.into(), "active service cutover pending".into());
        }
    }
    if status.stable_rs.is_empty() || status.stable_rs != status.current_pod_hash {
        let message = if let Some(bg) = &strategy.blue_green {
            if bg.post_promotion_analysis.is_some() && !post_promotion_completed(status) {
                "waiting for analysis to complete"
            } else {
                "waiting for post-promotion verification to complete"
            }
        } else {
            "waiting for all steps to complete"
        };
        return (PROGRESSING.into(), message.into());
    }
    (HEALTHY.into(), String::new())
}

/// Whether the post-promotion analysis run ended (Argo's `AnalysisPhase.Completed`).
fn post_promotion_completed(status: &RolloutStatus) -> bool {
    status
        .blue_green
        .as_ref()
        .and_then(|b| b.post_promotion_analysis_run_status.as_ref())
        .is_some_and(|r| {
            matches!(
                r.status.as_str(),
                "Successful" | "Failed" | "Error" | "Inconclusive"
            )
        })
}
