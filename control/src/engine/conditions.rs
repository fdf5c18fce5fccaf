//! Rollout conditions with Argo's types, reasons and messages (`utils/conditions`), and the
//! progress-deadline rules built on the Progressing condition.

use weir_config::argo::{Condition, RolloutStatus};

use super::clock::{format_time, parse_time};
use crate::analysis::Timestamp;

pub const PROGRESSING: &str = "Progressing";
pub const AVAILABLE: &str = "Available";
pub const HEALTHY: &str = "Healthy";
pub const COMPLETED: &str = "Completed";
pub const PAUSED: &str = "Paused";
pub const INVALID_SPEC: &str = "InvalidSpec";

pub const TRUE: &str = "True";
pub const FALSE: &str = "False";
pub const UNKNOWN: &str = "Unknown";

pub const INVALID_SPEC_REASON: &str = "InvalidSpec";
pub const AVAILABLE_REASON: &str = "AvailableReason";
pub const AVAILABLE_MESSAGE: &str = "Rollout has minimum availability";
pub const NOT_AVAILABLE_MESSAGE: &str = "Rollout does not have minimum availability";
pub const REPLICA_SET_NOT_AVAILABLE_REASON: &str = "ReplicaSetNotAvailable";
pub const REPLICA_SET_UPDATED_REASON: &str = "ReplicaSetUpdated";
pub const ROLLOUT_UPDATED_REASON: &str = "RolloutUpdated";
pub const ROLLOUT_COMPLETED_REASON: &str = "RolloutCompleted";
pub const ROLLOUT_NOT_COMPLETED_REASON: &str = "RolloutNotCompleted";
pub const ROLLOUT_HEALTHY_REASON: &str = "RolloutHealthy";
pub const ROLLOUT_HEALTHY_MESSAGE: &str = "Rollout is healthy";
pub const ROLLOUT_NOT_HEALTHY_MESSAGE: &str = "Rollout is not healthy";
pub const ROLLOUT_ABORTED_REASON: &str = "RolloutAborted";
pub const ROLLOUT_RETRY_REASON: &str = "RolloutRetry";
pub const ROLLOUT_RETRY_MESSAGE: &str = "Retrying Rollout after abort";
pub const ROLLOUT_PAUSED_REASON: &str = "RolloutPaused";
pub const ROLLOUT_PAUSED_MESSAGE: &str = "Rollout is paused";
pub const ROLLOUT_RESUMED_REASON: &str = "RolloutResumed";
pub const ROLLOUT_RESUMED_MESSAGE: &str = "Rollout is resumed";
pub const ROLLOUT_STEP_COMPLETED_REASON: &str = "RolloutStepCompleted";
pub const TRAFFIC_WEIGHT_UPDATED_REASON: &str = "TrafficWeightUpdated";
pub const NEW_RS_AVAILABLE_REASON: &str = "NewReplicaSetAvailable";
pub const TIMED_OUT_REASON: &str = "ProgressDeadlineExceeded";
pub const SKIP_STEPS_REASON: &str = "SkipSteps";
pub const SWITCH_SERVICE_REASON: &str = "SwitchService";

/// Argo's default `progressDeadlineSeconds`.
pub const DEFAULT_PROGRESS_DEADLINE_SECONDS: i32 = 600;

/// `ReplicaSet %q is progressing.` (Go's `%q`: a double-quoted, escaped string.)
pub fn progressing_message(rs: &str) -> String {
    format!("ReplicaSet {rs:?} is progressing.")
}

/// `ReplicaSet %q has successfully progressed.`
pub fn completed_message(rs: &str) -> String {
    format!("ReplicaSet {rs:?} has successfully progressed.")
}

/// `ReplicaSet %q has timed out progressing.`
pub fn timed_out_message(rs: &str) -> String {
    format!("ReplicaSet {rs:?} has timed out progressing.")
}

/// `Rollout aborted update to revision %d`.
pub fn aborted_message(revision: u64) -> String {
    format!("Rollout aborted update to revision {revision}")
}

pub fn get<'a>(status: &'a RolloutStatus, type_: &str) -> Option<&'a Condition> {
    status.conditions.iter().find(|c| c.type_ == type_)
}

pub fn remove(status: &mut RolloutStatus, type_: &str) {
    status.conditions.retain(|c| c.type_ != type_);
}

/// A condition stamped `now` (update and transition time).
pub fn new_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: impl Into<String>,
    now: Timestamp,
) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: status.to_string(),
        last_update_time: Some(format_time(now)),
        last_transition_time: Some(format_time(now)),
        reason: reason.to_string(),
        message: message.into(),
    }
}

/// Argo's `SetRolloutCondition`: no change (and `false`) when a condition of that type has
/// the same status and reason; otherwise replace it (keeping its transition time when the
/// status is unchanged), moved to the end of the list, and `true`.
pub fn set(status: &mut RolloutStatus, mut condition: Condition) -> bool {
    if let Some(current) = get(status, &condition.type_) {
        if current.status == condition.status && current.reason == condition.reason {
            return false;
        }
        if current.status == condition.status {
            condition
                .last_transition_time
                .clone_from(&current.last_transition_time);
        }
    }
    remove(status, &condition.type_);
    status.conditions.push(condition);
    true
}

/// Argo's `RolloutCompleted`: the desired version is the stable one.
pub fn rollout_completed(status: &RolloutStatus) -> bool {
    !status.stable_rs.is_empty() && status.stable_rs == status.current_pod_hash
}

/// Argo's `RolloutProgressing` for a canary: the stable version, the step index or the steps
/// changed. Standalone has no replicas becoming available; weights the proxy newly
/// confirmed stand in for them.
pub fn rollout_progressing(prev: &RolloutStatus, new: &RolloutStatus) -> bool {
    let verified = |s: &RolloutStatus| {
        s.canary
            .as_ref()
            .and_then(|c| c.weights.as_ref())
            .and_then(|w| w.verified)
            .unwrap_or(false)
    };
    let step_changed = matches!(
        (prev.current_step_index, new.current_step_index),
        (Some(a), Some(b)) if a != b
    );
    new.stable_rs != prev.stable_rs
        || step_changed
        || new.current_step_hash != prev.current_step_hash
        || (verified(new) && !verified(prev))
}

/// The pods' part of Argo's `RolloutProgressing`: more pods updated, ready or available than
/// the previous status says, or fewer old ones.
pub fn pods_progressing(prev: &RolloutStatus, new: &RolloutStatus) -> bool {
    let n = |v: Option<i32>| v.unwrap_or(0);
    let old_pods = |s: &RolloutStatus| n(s.replicas) - n(s.updated_replicas);
    n(new.updated_replicas) != n(prev.updated_replicas)
        || old_pods(new) < old_pods(prev)
        || n(new.ready_replicas) > n(prev.ready_replicas)
        || n(new.available_replicas) > n(prev.available_replicas)
}

/// Argo's `RolloutProgressing` for blue-green: the active or the preview service changed
/// version (standalone has no replicas becoming available to count as progress).
pub fn blue_green_progressing(prev: &RolloutStatus, new: &RolloutStatus) -> bool {
    let selectors = |s: &RolloutStatus| {
        s.blue_green
            .as_ref()
            .map(|b| (b.active_selector.clone(), b.preview_selector.clone()))
            .unwrap_or_default()
    };
    selectors(prev) != selectors(new)
}

/// Argo's `RolloutTimedOut`: the Progressing condition says so already, or was last
/// updated more than the deadline ago. Paused and aborted rollouts never time out.
pub fn timed_out(status: &RolloutStatus, deadline_seconds: i32, now: Timestamp) -> bool {
    match deadline(status, deadline_seconds) {
        Deadline::Exceeded => true,
        Deadline::At(at) => now > at,
        Deadline::None => false,
    }
}

/// When the progress deadline falls, for requeueing.
pub enum Deadline {
    None,
    Exceeded,
    At(Timestamp),
}

pub fn deadline(status: &RolloutStatus, deadline_seconds: i32) -> Deadline {
    let Some(cond) = get(status, PROGRESSING) else {
        return Deadline::None;
    };
    match cond.reason.as_str() {
        ROLLOUT_ABORTED_REASON | ROLLOUT_PAUSED_REASON => Deadline::None,
        TIMED_OUT_REASON => Deadline::Exceeded,
        _ => match cond.last_update_time.as_deref().and_then(parse_time) {
            Some(from) => {
                let secs = u64::try_from(deadline_seconds.max(0)).unwrap_or(0);
                Deadline::At(from.saturating_add(std::time::Duration::from_secs(secs)))
            }
            None => Deadline::None,
        },
    }
}
