//! `spec.restartAt` carried out as Argo's pod restarter does (`rollout/restart.go`): the
//! restart action of Argo CD and `kubectl argo rollouts restart` set it, and every pod of
//! the Rollout's ReplicaSets created before it is evicted (`pods/eviction`, so a
//! PodDisruptionBudget can refuse one) for its ReplicaSet to replace, stable and canary
//! alike, while paused too (Argo does not look at pauses here).
//!
//! Each pass evicts at most as many pods as keep the available ones at
//! `max(spec.replicas, the ReplicaSets' replicas) - max(maxUnavailable, 1)`, counting pods
//! (not ReplicaSet counts, which lag an eviction) that are available and not terminating.
//! When no pod older than `restartAt` is left, `status.restartedAt` is set to it and the
//! restart is done. A `restartAt` still ahead is waited for; a new pod template or new steps
//! make the engine record it as done (Argo's `resetRolloutStatus`: the new version's pods
//! are new anyway), and no pod is evicted in that pass, nor in a pass that follows a
//! change of `spec.replicas` (Argo's scaling event, when it only resizes).

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, EvictParams, ListParams};
use kube::runtime::controller::Action as Requeue;
use kube::ResourceExt;
use weir_config::argo::RolloutSpec;

use super::replicasets::list_selector;
use super::replicasets::owned_by;
use super::rollouts::{now, Context, ReconcileError, Snapshot};
use crate::analysis::Timestamp;
use crate::engine::clock::parse_time;
use crate::engine::phase::restart_pending;
use crate::replicas::intstr::{blue_green_max_unavailable, canary_max_unavailable};

/// Argo's `restartPodCheckTime`: how soon to look again while pods are left to restart
/// (pods restarted faster than availability shows would otherwise leave nothing to wake
/// the Rollout).
const POD_CHECK: Duration = Duration::from_secs(30);

/// One restart pass before the strategy's reconcile (Argo's `RolloutPodRestarter.Reconcile`).
/// Records in `snap` what the strategy's pass carries on with: `status.restartedAt` once
/// done, and when to wake for a `restartAt` still ahead or pods still left. Returns the
/// requeue that ends the reconcile here: when `ends_pass_on_eviction` (Argo's canary) and
/// pods were evicted, the ReplicaSets' availability does not show them yet and a scale-down
/// on it could take too many.
pub(super) async fn reconcile(
    ctx: &Context,
    snap: &mut Snapshot,
    ends_pass_on_eviction: bool,
) -> Result<Option<Requeue>, ReconcileError> {
    let now = now();
    let spec = &snap.rollout.spec;
    let Some(at) = spec.restart_at.as_deref().and_then(parse_time) else {
        return Ok(None);
    };
    if now <= at {
        // Argo's checkEnqueueRollout: look again when it is due.
        snap.wake_at = Some(at.saturating_add(Duration::from_millis(1)));
        return Ok(None);
    }
    if !restart_pending(spec, &snap.status) || new_version(snap) {
        return Ok(None);
    }
    if snap.scaling_event {
        // Argo syncs only the replicas on a scaling event; the restart waits for the next
        // pass, which the resize brings.
        return Ok(None);
    }
    let pods = rollout_pods(ctx, snap).await?;
    let min_ready = u64::try_from(spec.min_ready_seconds.unwrap_or(0)).unwrap_or(0);
    let available = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none() && available(p, min_ready, now))
        .count();
    let total = crate::replicas::total_spec_replicas(snap.views.iter());
    let mut budget = restart_budget(
        snap.replicas,
        total,
        i32::try_from(available).unwrap_or(i32::MAX),
        max_unavailable(spec, snap.replicas),
    );
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &snap.ns);
    let (mut older, mut evicted) = (0, 0);
    for pod in &pods {
        // A pod without a creation time is as old as Go's zero time.
        if created(pod).unwrap_or_default() >= at {
            continue;
        }
        older += 1;
        if budget <= 0 || pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        match api.evict(&pod.name_any(), &EvictParams::default()).await {
            Ok(_) => {
                tracing::info!(rollout = %snap.name, pod = %pod.name_any(), restart_at = ?spec.restart_at, "restarting a pod older than restartAt");
                budget -= 1;
                evicted += 1;
            }
            // A PodDisruptionBudget refused it: tried again on a later pass.
            Err(kube::Error::Api(e)) if e.code == 429 => {
                tracing::warn!(rollout = %snap.name, pod = %pod.name_any(), "{}", e.message);
            }
            Err(e) => return Err(e.into()),
        }
    }
    if older > evicted {
        tracing::info!(rollout = %snap.name, "{older}/{} pods require restart, restarted {evicted}", pods.len());
        snap.wake_at = Some(now.saturating_add(POD_CHECK));
    }
    if evicted > 0 && ends_pass_on_eviction {
        return Ok(Some(Requeue::requeue(POD_CHECK)));
    }
    if older == evicted {
        tracing::info!(rollout = %snap.name, "all {} pods are current; restart done", pods.len());
        snap.status.restarted_at.clone_from(&spec.restart_at);
    }
    Ok(None)
}

/// Whether this pass starts a new version, or (canary) new steps: Argo's strategies return
/// before the restarter then (`CheckPodSpecChange`: not on first sight, where no hash is
/// recorded; `PodTemplateOrStepsChanged`: also when no step hash is).
fn new_version(snap: &Snapshot) -> bool {
    let status = &snap.status;
    let new_steps = snap.rollout.spec.strategy.canary.as_ref().is_some_and(|c| {
        status.current_step_hash.is_empty()
            || crate::engine::steps::step_hash(c) != status.current_step_hash
    });
    let new_pods = !status.current_pod_hash.is_empty() && status.current_pod_hash != snap.hash;
    new_pods || new_steps
}

/// The pods of the Rollout's selector that one of its ReplicaSets owns (Argo's
/// `getRolloutPods`), in the order the API server lists them.
async fn rollout_pods(ctx: &Context, snap: &Snapshot) -> Result<Vec<Pod>, ReconcileError> {
    let uid = snap.raw["metadata"]["uid"].as_str().unwrap_or_default();
    let selector = list_selector(&snap.raw["spec"]["selector"]);
    let sets: Vec<String> = snap
        .rs_api
        .list(&ListParams::default().labels(&selector))
        .await?
        .items
        .iter()
        .filter(|rs| owned_by(rs, uid))
        .filter_map(|rs| rs.uid())
        .collect();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &snap.ns);
    let pods = api.list(&ListParams::default().labels(&selector)).await?;
    Ok(pods
        .items
        .into_iter()
        .filter(|p| p.owner_references().iter().any(|o| sets.contains(&o.uid)))
        .collect())
}

/// How many pods this pass may evict: those available beyond `max(replicas, total) -
/// max(maxUnavailable, 1)` (at least one at a time even when maxUnavailable is 0; the
/// larger count covers a canary weight that does not divide the replicas evenly).
fn restart_budget(replicas: i32, total: i32, available: i32, max_unavailable: i32) -> i32 {
    let concurrent = max_unavailable.max(1);
    available - (replicas.max(total) - concurrent)
}

/// Argo's `MaxUnavailable` for the Rollout's strategy.
fn max_unavailable(spec: &RolloutSpec, replicas: i32) -> i32 {
    match (&spec.strategy.canary, &spec.strategy.blue_green) {
        (Some(canary), _) => canary_max_unavailable(replicas, canary),
        (None, Some(blue_green)) => blue_green_max_unavailable(replicas, blue_green),
        (None, None) => 0,
    }
}

/// `podutil.IsPodAvailable`: Ready, and for `min_ready` seconds when that is not 0.
fn available(pod: &Pod, min_ready: u64, now: Timestamp) -> bool {
    let ready = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"));
    let Some(ready) = ready.filter(|c| c.status == "True") else {
        return false;
    };
    if min_ready == 0 {
        return true;
    }
    ready
        .last_transition_time
        .as_ref()
        .and_then(|t| u64::try_from(t.0.as_millisecond()).ok())
        .is_some_and(|since| {
            Timestamp::from_millis(since).saturating_add(Duration::from_secs(min_ready)) < now
        })
}

fn created(pod: &Pod) -> Option<Timestamp> {
    let t = pod.metadata.creation_timestamp.as_ref()?;
    Some(Timestamp::from_millis(
        u64::try_from(t.0.as_millisecond()).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Argo's restart budget (`restart_test.go`'s arithmetic): at least one pod at a time,
    /// the larger of spec and ReplicaSet replicas as the base.
    #[test]
    fn the_budget_keeps_enough_pods_available() {
        // (replicas, total, available, maxUnavailable) -> budget
        let rows = [
            ((3, 3, 3, 0), 1),
            ((3, 3, 2, 0), 0),
            ((5, 5, 5, 1), 1),
            ((5, 5, 4, 1), 0),
            ((10, 10, 10, 3), 3),
            ((10, 10, 8, 3), 1),
            // A canary weight that does not divide: 6 pods for 5 replicas.
            ((5, 6, 6, 1), 1),
            ((5, 6, 5, 1), 0),
            ((1, 1, 0, 0), 0),
        ];
        for ((replicas, total, available, max_unavailable), want) in rows {
            assert_eq!(
                restart_budget(replicas, total, available, max_unavailable),
                want,
                "{replicas} {total} {available} {max_unavailable}"
            );
        }
    }

    #[test]
    fn a_restart_is_done_at_the_same_instant() {
        let spec = |at: &str| RolloutSpec {
            restart_at: Some(at.to_owned()),
            ..RolloutSpec::default()
        };
        let status = |at: Option<&str>| weir_config::argo::RolloutStatus {
            restarted_at: at.map(str::to_owned),
            ..Default::default()
        };
        let at = "2026-01-02T03:04:05Z";
        let done = |spec, status| !restart_pending(&spec, &status);
        assert!(done(spec(at), status(Some(at))));
        assert!(done(spec(at), status(Some("2026-01-02T03:04:05.000Z"))));
        assert!(!done(spec(at), status(Some("2026-01-02T03:04:04Z"))));
        assert!(!done(spec(at), status(None)));
        assert!(done(RolloutSpec::default(), status(None)));
    }

    #[test]
    fn availability_waits_for_min_ready_seconds() {
        let pod = |ready: &str, since: &str| -> Pod {
            serde_json::from_value(json!({"metadata": {"name": "p"}, "status": {"conditions": [
                {"type": "Ready", "status": ready, "lastTransitionTime": since}]}}))
            .unwrap()
        };
        let now = parse_time("2026-01-01T00:00:10Z").unwrap();
        assert!(available(&pod("True", "2026-01-01T00:00:09Z"), 0, now));
        assert!(!available(&pod("False", "2026-01-01T00:00:00Z"), 0, now));
        assert!(available(&pod("True", "2026-01-01T00:00:04Z"), 5, now));
        assert!(!available(&pod("True", "2026-01-01T00:00:05Z"), 5, now));
    }
}
