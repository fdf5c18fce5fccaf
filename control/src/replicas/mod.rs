//! ReplicaSet sizing, as Argo Rollouts does it: how many pods the new (canary / preview)
//! ReplicaSet, the stable (active) ReplicaSet and the older ReplicaSets of a Rollout get.
//!
//! weir's Kubernetes controller must move pods exactly as Argo's controller does, so a team
//! can swap one controller for the other mid-rollout without a pod moving differently. This
//! module is that arithmetic and nothing else: pure functions over plain values (counts,
//! names, the strategy as weir's config crate parses it, the few status fields the rules
//! read, `now` as an argument). No I/O, no clock, no Kubernetes client types; the adapter
//! reads the cluster, calls these, and carries out what they return.
//!
//! It mirrors Argo's `utils/replicaset` package (`canary.go`, `bluegreen.go`,
//! `replicaset.go`) plus the pieces of the controller's `rollout/replicaset.go`,
//! `rollout/canary.go` and `rollout/bluegreen.go` that decide sizes from those values (older
//! ReplicaSet scale-down, scale-down deadlines, the abort hold). Each function's doc names
//! the Argo function it mirrors. Read against Argo Rollouts at commit
//! `9f8d111d8f8e3e88b6d7f8bbdf62fd3cd863ef9d`; the tests port the behaviour of Argo's own
//! unit tests for these functions, one table row per case, each group naming the Argo test.
//!
//! - [`intstr`]: `maxSurge` / `maxUnavailable` resolution (Kubernetes `intstr`, Argo's
//!   defaults and its fencepost rule).
//! - [`canary`]: canary and stable counts, basic (replica-weighted) and traffic-routed, the
//!   weight a step asks for, and whether a step's counts are reached.
//! - [`bluegreen`]: the new ReplicaSet's size before and after promotion (previewReplicaCount).
//! - [`scaledown`]: older ReplicaSets (which to scale down, in which order, how far), the
//!   `scale-down-deadline` annotation as time arithmetic, and the abort hold of the new one.
//! - [`template`]: whether a live ReplicaSet's pod template is the Rollout's, ignoring
//!   Argo's `rollouts-pod-template-hash` label.
//!
//! Counts are `i32`, as Kubernetes' `int32` replica fields. Where Argo does `int32`
//! arithmetic these functions work in `i64` and saturate back to `i32`: Argo's arithmetic
//! would wrap only past ±2³¹ pods, which no cluster holds, and saturating means no input can
//! make weir panic or wrap. Where Argo uses floating point (weights to replicas, percentages)
//! the same `f64` operations are done in the same order, so results match bit for bit.

pub mod bluegreen;
pub mod canary;
pub mod intstr;
pub mod scaledown;
pub mod template;

#[cfg(test)]
mod bluegreen_tests;
#[cfg(test)]
mod canary_tests;
#[cfg(test)]
mod intstr_tests;
#[cfg(test)]
mod scaledown_tests;
#[cfg(test)]
mod test_support;

use weir_config::argo::Rollout;

use crate::analysis::Timestamp;

/// The label Argo puts on every ReplicaSet (and its pods) it creates: the pod template's
/// hash. Services and traffic routers select a ReplicaSet by it; `status.stableRS`,
/// `status.currentPodHash` and the blue-green selectors hold its values.
pub const POD_TEMPLATE_HASH_LABEL: &str = "rollouts-pod-template-hash";

/// The annotation holding the time (RFC 3339, UTC, whole seconds) after which Argo scales an
/// older ReplicaSet, or an aborted new one, down to zero.
pub const SCALE_DOWN_DEADLINE_ANNOTATION: &str = "scale-down-deadline";

/// The annotation holding a ReplicaSet's revision number, which orders older ReplicaSets.
pub const REVISION_ANNOTATION: &str = "rollout.argoproj.io/revision";

/// `spec.replicas` when the Rollout leaves it unset (Argo's `defaults.DefaultReplicas`).
pub const DEFAULT_REPLICAS: i32 = 1;

/// A ReplicaSet as the sizing rules see it: its identity, its counts, and the two
/// annotations that order and time its scale-down.
///
/// `spec_replicas` is the ReplicaSet's `spec.replicas`; the API server defaults it to 1, so
/// the adapter passes what the server returns (Argo dereferences it unchecked).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplicaSet {
    /// `metadata.name`. Argo tells the new and stable ReplicaSets apart by name.
    pub name: String,
    /// The `rollouts-pod-template-hash` label, if the ReplicaSet has it.
    pub pod_template_hash: Option<String>,
    /// `spec.replicas`: the size the ReplicaSet is asked to have.
    pub spec_replicas: i32,
    /// `status.replicas`: pods that exist (ready or not).
    pub status_replicas: i32,
    /// `status.availableReplicas`: pods ready for at least `minReadySeconds`.
    pub available_replicas: i32,
    /// The `rollout.argoproj.io/revision` annotation as written (it may be absent or not a
    /// number; Argo orders such ReplicaSets specially).
    pub revision: Option<String>,
    /// `metadata.creationTimestamp`, which breaks ties between equal revisions.
    pub created_at: Timestamp,
    /// The `scale-down-deadline` annotation as written. Present-but-empty differs from
    /// absent in one Argo rule (the abort hold), so the raw value is kept.
    pub scale_down_deadline: Option<String>,
}

impl ReplicaSet {
    /// The pod template hash, or `""` when the label is missing (Argo reads a missing label
    /// as the empty string).
    pub fn hash(&self) -> &str {
        self.pod_template_hash.as_deref().unwrap_or("")
    }
}

/// The Rollout status fields (and `spec.paused`) the sizing rules read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RolloutStatusView {
    /// `status.currentPodHash`: the hash of the ReplicaSet the Rollout's template asks for.
    pub current_pod_hash: String,
    /// `status.stableRS`: the hash of the stable ReplicaSet (empty before the first one).
    pub stable_rs: String,
    /// `status.currentStepIndex`.
    pub current_step_index: Option<i32>,
    /// `status.abort`.
    pub abort: bool,
    /// `status.promoteFull`: skip the remaining steps.
    pub promote_full: bool,
    /// `spec.paused`, or any `status.pauseConditions` (Argo's blue-green `isNotPaused`,
    /// negated).
    pub paused: bool,
    /// `status.blueGreen.activeSelector`: the hash the active Service selects.
    pub active_selector: String,
    /// `status.blueGreen.scaleUpPreviewCheckPoint`.
    pub scale_up_preview_check_point: bool,
}

impl RolloutStatusView {
    /// The fields of a Rollout as weir's config crate parses it.
    pub fn of(rollout: &Rollout) -> Self {
        let mut view = RolloutStatusView {
            paused: rollout.spec.paused,
            ..Default::default()
        };
        if let Some(status) = &rollout.status {
            view.current_pod_hash = status.current_pod_hash.clone();
            view.stable_rs = status.stable_rs.clone();
            view.current_step_index = status.current_step_index;
            view.abort = status.abort;
            view.promote_full = status.promote_full;
            view.paused |= !status.pause_conditions.is_empty();
            if let Some(bg) = &status.blue_green {
                view.active_selector = bg.active_selector.clone();
                view.scale_up_preview_check_point = bg.scale_up_preview_check_point;
            }
        }
        view
    }
}

/// The canary and stable weights a traffic router last reported
/// (`status.canary.weights.{canary,stable}.weight`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrafficWeights {
    pub canary: i32,
    pub stable: i32,
}

impl From<&weir_config::argo::TrafficWeights> for TrafficWeights {
    fn from(w: &weir_config::argo::TrafficWeights) -> Self {
        TrafficWeights {
            canary: w.canary.weight,
            stable: w.stable.weight,
        }
    }
}

/// `spec.replicas`, or 1 when unset (Argo's `defaults.GetReplicasOrDefault`).
pub fn replicas_or_default(replicas: Option<i32>) -> i32 {
    replicas.unwrap_or(DEFAULT_REPLICAS)
}

/// The sum of `spec.replicas` (Argo's `GetReplicaCountForReplicaSets`).
pub fn total_spec_replicas<'a>(sets: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    saturate(sets.into_iter().map(|rs| i64::from(rs.spec_replicas)).sum())
}

/// The sum of `status.availableReplicas` (Argo's `GetAvailableReplicaCountForReplicaSets`).
pub fn total_available_replicas<'a>(sets: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    saturate(
        sets.into_iter()
            .map(|rs| i64::from(rs.available_replicas))
            .sum(),
    )
}

/// The sum of `status.replicas` (Argo's `GetActualReplicaCountForReplicaSets`).
pub fn total_status_replicas<'a>(sets: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    saturate(
        sets.into_iter()
            .map(|rs| i64::from(rs.status_replicas))
            .sum(),
    )
}

/// The Rollout is fully promoted: the ReplicaSet its template asks for is the stable one
/// (Argo's `rolloututil.IsFullyPromoted`).
pub fn is_fully_promoted(status: &RolloutStatusView) -> bool {
    status.stable_rs == status.current_pod_hash
}

/// An `i64` intermediate back to a replica count, saturating at the `i32` bounds.
pub(crate) fn saturate(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX })
}
