//! Blue-green sizing: the new (preview) ReplicaSet's size before and after promotion, and the
//! checkpoint that lets it grow from `previewReplicaCount` to full size.
//!
//! The active (stable) ReplicaSet is always held at `spec.replicas` (Argo's
//! `reconcileBlueGreenStableReplicaSet`); blue-green never surges. Older ReplicaSets are in
//! [`super::scaledown::plan_blue_green_older_replica_sets`].
//!
//! Mirrors Argo's `utils/replicaset/bluegreen.go`, the blue-green half of `NewRSNewReplicas`
//! in `utils/replicaset/replicaset.go`, and `calculateScaleUpPreviewCheckPoint` in
//! `rollout/bluegreen.go`.

use weir_config::argo::BlueGreenStrategy;

use super::{ReplicaSet, RolloutStatusView};

/// What the blue-green rules read from a Rollout.
#[derive(Clone, Copy, Debug)]
pub struct BlueGreenRollout<'a> {
    /// `spec.replicas`, defaulted ([`super::replicas_or_default`]).
    pub replicas: i32,
    pub strategy: &'a BlueGreenStrategy,
    pub status: &'a RolloutStatusView,
}

/// The ReplicaSet with this pod template hash, and the others that carry a hash (Argo's
/// `GetReplicaSetByTemplateHash`). An empty hash matches nothing and returns all of them as
/// the others. ReplicaSets without the hash label are in neither list; if several match, the
/// last one wins.
pub fn replica_set_by_template_hash<'a>(
    all: &'a [ReplicaSet],
    hash: &str,
) -> (Option<&'a ReplicaSet>, Vec<&'a ReplicaSet>) {
    if hash.is_empty() {
        return (None, all.iter().collect());
    }
    let mut found = None;
    let mut others = Vec::new();
    for rs in all {
        match rs.pod_template_hash.as_deref() {
            Some(h) if h == hash => found = Some(rs),
            Some(_) => others.push(rs),
            None => {}
        }
    }
    (found, others)
}

/// The new ReplicaSet's size (the blue-green half of Argo's `NewRSNewReplicas`).
///
/// Without `previewReplicaCount`, all `replicas`. With it, all `replicas` once there is no
/// active ReplicaSet or the new one is it (promoted), or during a full promotion, or once the
/// preview has passed its scale-up checkpoint and nothing pauses the Rollout (resumed, about
/// to switch the active Service); `previewReplicaCount` before that, and at once for a
/// ReplicaSet that is not the one `status.currentPodHash` records (a new update).
pub fn blue_green_new_replica_set_replicas(
    rollout: &BlueGreenRollout,
    all: &[ReplicaSet],
    new: &ReplicaSet,
) -> i32 {
    let Some(preview) = rollout.strategy.preview_replica_count else {
        return rollout.replicas;
    };
    let status = rollout.status;
    let (active, _) = replica_set_by_template_hash(all, &status.active_selector);
    if active.is_none_or(|a| a.name == new.name) {
        return rollout.replicas;
    }
    if status.promote_full {
        return rollout.replicas;
    }
    if new.hash() != status.current_pod_hash {
        return preview;
    }
    if !status.paused && status.scale_up_preview_check_point {
        return rollout.replicas;
    }
    preview
}

/// The new ReplicaSet has exactly its size and all of it available, so the Rollout may
/// pause for promotion (Argo's `ReadyForPause`).
pub fn ready_for_pause(rollout: &BlueGreenRollout, new: &ReplicaSet, all: &[ReplicaSet]) -> bool {
    let n = blue_green_new_replica_set_replicas(rollout, all, new);
    new.spec_replicas == n && new.available_replicas == n
}

/// The active (stable) ReplicaSet's size: always `replicas` (Argo's
/// `reconcileBlueGreenStableReplicaSet`).
pub fn blue_green_stable_replica_set_replicas(replicas: i32) -> i32 {
    replicas
}

/// `status.blueGreen.scaleUpPreviewCheckPoint` for this reconcile (Argo's
/// `calculateScaleUpPreviewCheckPoint`, computed when the Rollout is not being fully
/// promoted): a one-way switch, false without `previewReplicaCount`; once true it stays true
/// (until a template change or promotion resets the status); it turns true when
/// pre-promotion analysis is complete, the blue-green pause is complete, and exactly
/// `previewReplicaCount` new pods are available.
pub fn scale_up_preview_check_point(
    strategy: &BlueGreenStrategy,
    previous: bool,
    pre_promotion_analysis_completed: bool,
    blue_green_pause_completed: bool,
    new: Option<&ReplicaSet>,
) -> bool {
    let Some(preview) = strategy.preview_replica_count else {
        return false;
    };
    if previous {
        return true;
    }
    if !pre_promotion_analysis_completed || !blue_green_pause_completed {
        return false;
    }
    new.map_or(0, |rs| rs.available_replicas) == preview
}
