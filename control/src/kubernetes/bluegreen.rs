//! A blue-green Rollout's own part of the reconcile, in the order of Argo's
//! `rolloutBlueGreen`: the active Service read for the version it serves, the engine (which
//! waits for the new ReplicaSet: `ReadyForPause` before the pause, `IsSaturated` before the
//! switch), the ReplicaSets sized as Argo's blue-green sizes them (the stable at full size,
//! the new one at `previewReplicaCount` until its checkpoint, older ones kept until their
//! `scale-down-deadline`, an aborted new one held for `abortScaleDownDelaySeconds`), and the
//! preview and active Services pointed where the status says.

use k8s_openapi::api::core::v1::Service;
use kube::api::Api;
use kube::runtime::controller::Action as Requeue;
use weir_config::argo::{BlueGreenStrategy, RolloutStatus};

use super::analysisruns::{carry_out, observe, RolloutRuns};
use super::events::record_event;
use super::hash::POD_TEMPLATE_HASH_LABEL;
use super::rollouts::{
    fill_replica_counts, now, point_service, requeue_after, split, Context, ReconcileError,
    Snapshot,
};
use crate::engine::pause::INCONCLUSIVE_ANALYSIS;
use crate::engine::{self, Action, Observed, ObservedReplicas};
use crate::replicas::bluegreen::{
    blue_green_new_replica_set_replicas, blue_green_stable_replica_set_replicas, ready_for_pause,
    BlueGreenRollout,
};
use crate::replicas::scaledown::{
    plan_blue_green_older_replica_sets, reconcile_new_replica_set, scale_down_deadlines_to_remove,
    AbortHold, BlueGreenScaleDown, NewReplicaSetDecision, ScaleDownContext, StrategyRef,
    DEFAULT_RESYNC_PERIOD,
};
use crate::replicas::{self};

/// What of a blue-green Rollout this adapter does not drive yet, if anything: nothing.
pub fn undriven(_blue_green: &BlueGreenStrategy) -> Option<&'static str> {
    None
}

pub(super) async fn reconcile(
    ctx: &Context,
    snap: &mut Snapshot,
    bg: &BlueGreenStrategy,
) -> Result<Requeue, ReconcileError> {
    let hash = snap.hash.clone();
    let status = snap.status.clone();
    let replicas = snap.replicas;

    // The version the active Service serves: what the engine verifies a switch against.
    let services: Api<Service> = Api::namespaced(ctx.client.clone(), &snap.ns);
    let Some(active) = services.get_opt(&bg.active_service).await? else {
        let message = format!("Service '{}' not found", bg.active_service);
        tracing::warn!(rollout = %snap.name, "{message}");
        record_event(&ctx.client, &snap.raw, "ServiceNotFound", &message, true).await;
        return Ok(Requeue::requeue(std::time::Duration::from_secs(30)));
    };
    let serves = active
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .and_then(|s| s.get(POD_TEMPLATE_HASH_LABEL))
        .cloned()
        .unwrap_or_default();

    let view = snap.view_of(&status);
    let at_desired = snap.new_rs().is_some_and(|new| {
        ready_for_pause(
            &BlueGreenRollout {
                replicas,
                strategy: bg,
                status: &view,
            },
            new,
            &snap.views,
        )
    });
    let runs = RolloutRuns::new(&ctx.client, &snap.ns, &snap.raw);
    let uses_analysis = bg.pre_promotion_analysis.is_some() || bg.post_promotion_analysis.is_some();
    let (analysis_runs, templates) = observe(&runs, uses_analysis).await?;
    let observed = Observed {
        canary_hash: hash.clone(),
        stable_hash: serves,
        analysis_runs,
        templates,
        replicas: Some(ObservedReplicas {
            new_available: snap.new_rs().map_or(0, |n| n.available_replicas),
            at_desired,
        }),
        pods: Some(snap.pod_counts()),
        ..Observed::default()
    };
    let out = engine::reconcile(
        &snap.rollout,
        &snap.engine_state(false),
        &observed,
        &[],
        now(),
    );
    let next = &out.state.status;

    // ReplicaSets for the status the engine decided (Argo's reconcileBlueGreenReplicaSets).
    snap.ensure_new_replica_set(out.state.revision).await?;
    let next_view = snap.view_of(next);
    let (new_v, stable_v, older) = split(&snap.views, &hash, &next.stable_rs);
    let stable_available = stable_v.map(|s| s.available_replicas);
    let hold = AbortHold {
        strategy: StrategyRef::BlueGreen(bg),
        aborted: next.abort,
        stable_available,
        replicas,
    };
    for rs in scale_down_deadlines_to_remove(new_v, stable_v, hold.applies()) {
        snap.set_deadline(&rs.name, None).await?;
    }
    let mut scales: Vec<(String, i32)> = Vec::new();
    let stable_size = blue_green_stable_replica_set_replicas(replicas);
    if let Some(s) = stable_v.filter(|s| s.spec_replicas != stable_size) {
        scales.push((s.name.clone(), stable_size));
    }
    let mut requeue_sizing = None;
    if let Some(new) = new_v {
        let rollout = BlueGreenRollout {
            replicas,
            strategy: bg,
            status: &next_view,
        };
        let computed = blue_green_new_replica_set_replicas(&rollout, &snap.views, new);
        match reconcile_new_replica_set(computed, new, &hold, now(), DEFAULT_RESYNC_PERIOD) {
            NewReplicaSetDecision::ScaleTo(n) if n != new.spec_replicas => {
                scales.push((new.name.clone(), n));
            }
            NewReplicaSetDecision::ScaleTo(_) => {}
            NewReplicaSetDecision::Hold {
                set_deadline,
                requeue_after,
            } => {
                if set_deadline.is_some() {
                    snap.set_deadline(&new.name, set_deadline).await?;
                }
                requeue_sizing = requeue_after;
            }
        }
    }
    let selectors = next.blue_green.clone().unwrap_or_default();
    let referenced = |rs: &replicas::ReplicaSet| {
        let h = rs.hash();
        !h.is_empty()
            && [
                next.stable_rs.as_str(),
                hash.as_str(),
                &selectors.active_selector,
                &selectors.preview_selector,
            ]
            .contains(&h)
    };
    let plan = plan_blue_green_older_replica_sets(
        &BlueGreenScaleDown {
            replicas,
            strategy: bg,
            paused_on_inconclusive_analysis: next
                .pause_conditions
                .iter()
                .any(|c| c.reason == INCONCLUSIVE_ANALYSIS),
            post_promotion_analysis_pending: post_promotion_pending(next),
        },
        &older,
        &ScaleDownContext {
            now: now(),
            resync_period: DEFAULT_RESYNC_PERIOD,
            is_referenced: &referenced,
        },
    );
    snap.older_plan(&plan, &mut scales).await?;
    snap.scale(&scales).await?;

    // The Services where the status says (the engine records the SwitchService events).
    for (service, selector) in [
        (&bg.preview_service, &selectors.preview_selector),
        (&bg.active_service, &selectors.active_selector),
    ] {
        if service.is_empty() {
            continue;
        }
        if let Some(target) = snap.by_hash(selector) {
            point_service(
                &ctx.client,
                &snap.ns,
                &snap.raw,
                service,
                target,
                false,
                false,
            )
            .await?;
        }
    }

    for action in &out.actions {
        if let Action::Event(ev) = action {
            record_event(&ctx.client, &snap.raw, &ev.reason, &ev.message, ev.warning).await
        }
    }
    carry_out(&runs, &out.actions, &hash, out.state.revision).await?;
    runs.prune(next, &snap.replica_set_hashes, &snap.rollout)
        .await?;

    let mut written = next.clone();
    fill_counts(&mut written, snap);
    snap.finish(&written, out.state.revision).await?;
    let sizing = match (requeue_sizing, plan.requeue_after) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(requeue_after(
        snap.sooner(out.requeue_at),
        sizing,
        !scales.is_empty(),
    ))
}

/// Argo's `skipPostPromotionAnalysisRun` negated with the run not Successful: a
/// post-promotion run of this update that has not succeeded (the old version is then kept
/// while `scaleDownDelaySeconds` is unset).
fn post_promotion_pending(status: &RolloutStatus) -> bool {
    status
        .blue_green
        .as_ref()
        .and_then(|b| b.post_promotion_analysis_run_status.as_ref())
        .is_some_and(|r| r.status != "Successful")
}

/// Argo's blue-green counts: the base ones, then the active ReplicaSet's pods as the
/// Rollout's available, ready and HPA replicas, and its selector as `status.selector`.
fn fill_counts(status: &mut RolloutStatus, snap: &Snapshot) {
    fill_replica_counts(status, &snap.views, &snap.hash, &snap.raw);
    let active = status
        .blue_green
        .as_ref()
        .map(|b| b.active_selector.clone())
        .unwrap_or_default();
    if let Some(rs) = snap.by_hash(&active) {
        status.hpa_replicas = Some(rs.status_replicas);
        status.available_replicas = Some(rs.available_replicas);
        status.ready_replicas = Some(rs.available_replicas);
        let base = status.selector.clone();
        status.selector = if base.is_empty() {
            format!("{POD_TEMPLATE_HASH_LABEL}={active}")
        } else {
            format!("{base},{POD_TEMPLATE_HASH_LABEL}={active}")
        };
    }
}
