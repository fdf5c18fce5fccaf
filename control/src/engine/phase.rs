//! The rollout's phase and message, derived from spec and status exactly as Argo's
//! `rolloututil.CalculateRolloutPhase` does. Standalone has no pods: [`rollout_phase`]
//! leaves out the replica checks; the Kubernetes adapter, once it has written the
//! ReplicaSets' counts into the status, takes [`rollout_phase_with_replicas`], the whole of
//! Argo's function (`spec.restartAt` included), so that no phase says Healthy while pods
//! are still to come.

use weir_config::argo::{RolloutSpec, RolloutStatus};

use super::clock::parse_time;
use super::conditions::{INVALID_SPEC, ROLLOUT_ABORTED_REASON, TIMED_OUT_REASON};

pub const HEALTHY: &str = "Healthy";
pub const PROGRESSING: &str = "Progressing";
pub const PAUSED: &str = "Paused";
pub const DEGRADED: &str = "Degraded";

/// `(phase, message)`. `paused` is the effective `spec.paused` (commands included).
pub fn rollout_phase(spec: &RolloutSpec, status: &RolloutStatus, paused: bool) -> (String, String) {
    phase(spec, status, paused, false)
}

/// [`rollout_phase`] with Argo's checks of the status' replica counts and of a pending
/// `spec.restartAt`, for a status whose counts are the ReplicaSets'.
pub fn rollout_phase_with_replicas(
    spec: &RolloutSpec,
    status: &RolloutStatus,
    paused: bool,
) -> (String, String) {
    phase(spec, status, paused, true)
}

fn phase(
    spec: &RolloutSpec,
    status: &RolloutStatus,
    paused: bool,
    with_replicas: bool,
) -> (String, String) {
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
    if with_replicas {
        if let Some(message) = replicas_pending(spec, status) {
            return (PROGRESSING.into(), message.into());
        }
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

/// What Argo's phase waits for in the replica counts, checked before the strategy's own
/// checks: a restart not yet done, replicas to update, updated ones not yet available, and
/// (a basic canary only: blue-green and traffic-routed canaries keep old pods for their
/// scale-down delay) old ones still running.
fn replicas_pending(spec: &RolloutSpec, status: &RolloutStatus) -> Option<&'static str> {
    if restart_pending(spec, status) {
        return Some("rollout is restarting");
    }
    let updated = status.updated_replicas.unwrap_or(0);
    if updated < spec.replicas.unwrap_or(1) {
        return Some("more replicas need to be updated");
    }
    if status.available_replicas.unwrap_or(0) < updated {
        return Some("updated replicas are still becoming available");
    }
    let basic_canary = spec
        .strategy
        .canary
        .as_ref()
        .is_some_and(|c| c.traffic_routing.is_none());
    if basic_canary && status.replicas.unwrap_or(0) > updated {
        return Some("old replicas are pending termination");
    }
    None
}

/// Whether `spec.restartAt` asks for a restart that `status.restartedAt` does not record
/// (Argo compares the instants).
pub fn restart_pending(spec: &RolloutSpec, status: &RolloutStatus) -> bool {
    let Some(at) = &spec.restart_at else {
        return false;
    };
    !status.restarted_at.as_ref().is_some_and(|done| {
        done == at || (parse_time(done).is_some() && parse_time(done) == parse_time(at))
    })
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(strategy: serde_json::Value, restart_at: Option<&str>) -> RolloutSpec {
        serde_json::from_value(json!({
            "replicas": 5, "strategy": strategy, "restartAt": restart_at,
        }))
        .unwrap()
    }

    fn counts(replicas: i32, updated: i32, available: i32) -> RolloutStatus {
        RolloutStatus {
            replicas: Some(replicas),
            updated_replicas: Some(updated),
            available_replicas: Some(available),
            current_pod_hash: "a".into(),
            stable_rs: "a".into(),
            ..RolloutStatus::default()
        }
    }

    /// Argo's `CalculateRolloutPhase` with the counts: checked after the pauses, before the
    /// strategy's own checks.
    #[test]
    fn replica_counts_and_a_pending_restart_hold_the_phase_at_progressing() {
        let canary = json!({"canary": {}});
        let routed = json!({"canary": {"trafficRouting": {"nginx": {"stableIngress": "i"}}}});
        let at = "2027-01-15T08:00:00Z";
        let restarted = RolloutStatus {
            restarted_at: Some("2027-01-15T08:00:00.000Z".into()),
            ..counts(5, 5, 5)
        };
        let rows: [(&str, RolloutSpec, RolloutStatus, (&str, &str)); 8] = [
            (
                "all there",
                spec(canary.clone(), None),
                counts(5, 5, 5),
                ("Healthy", ""),
            ),
            (
                "to update",
                spec(canary.clone(), None),
                counts(5, 3, 5),
                ("Progressing", "more replicas need to be updated"),
            ),
            (
                "to become available",
                spec(canary.clone(), None),
                counts(5, 5, 4),
                (
                    "Progressing",
                    "updated replicas are still becoming available",
                ),
            ),
            (
                "old pods of a basic canary",
                spec(canary.clone(), None),
                counts(6, 5, 6),
                ("Progressing", "old replicas are pending termination"),
            ),
            (
                "old pods behind a traffic router stay for their delay",
                spec(routed, None),
                counts(6, 5, 6),
                ("Healthy", ""),
            ),
            (
                "restart pending",
                spec(canary.clone(), Some(at)),
                counts(5, 5, 5),
                ("Progressing", "rollout is restarting"),
            ),
            (
                "restart done (the same instant)",
                spec(canary.clone(), Some(at)),
                restarted,
                ("Healthy", ""),
            ),
            (
                "a pause comes first",
                spec(canary, Some(at)),
                RolloutStatus {
                    pause_conditions: vec![weir_config::argo::PauseCondition {
                        reason: "CanaryPauseStep".into(),
                        start_time: String::new(),
                    }],
                    ..counts(5, 1, 0)
                },
                ("Paused", "CanaryPauseStep"),
            ),
        ];
        for (name, spec, status, want) in rows {
            let got = rollout_phase_with_replicas(&spec, &status, false);
            assert_eq!((got.0.as_str(), got.1.as_str()), want, "{name}");
        }
        // Standalone has no pods: the counts are not looked at.
        let got = rollout_phase(&spec(json!({"canary": {}}), None), &counts(5, 0, 0), false);
        assert_eq!(got.0, "Healthy");
    }
}
