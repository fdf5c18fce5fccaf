//! The blue-green strategy: one pass from the saved state to the next, in the order of Argo's
//! `rolloutBlueGreen`: the preview service, restart on a new version, the pause before
//! promotion, the active service, pre- and post-promotion analysis, then promotion to stable.
//!
//! Versions: [`Observed::canary_hash`] is the desired version (Argo's new ReplicaSet, served
//! by the preview service); `status.blueGreen.activeSelector` the version the engine wants the
//! active service to serve, and [`Observed::stable_hash`] the one it does serve. A switch
//! counts only once the adapter reports it (Argo's target verification): until then the
//! engine asks for it again and neither starts post-promotion analysis nor promotes.

use weir_config::argo::{BlueGreenStrategy, CanaryStrategy, Rollout};

use super::bluegreen_analysis;
use super::clock::{format_time, parse_time};
use super::conditions::{ROLLOUT_COMPLETED_REASON, SWITCH_SERVICE_REASON};
use super::input::Observed;
use super::output::{Event, ServiceAction};
use super::pass::{Pass, PassOutcome};
use super::pause::{pause_condition, BLUE_GREEN_PAUSE, INCONCLUSIVE_ANALYSIS};
use super::state::EngineState;
use super::status;
use crate::analysis::{AnalysisPhase, Timestamp};

/// Argo's default `scaleDownDelaySeconds`.
pub const DEFAULT_SCALE_DOWN_DELAY_SECONDS: i32 = 30;

/// One pass: the state it leads to, the actions it asks for, when to call again.
pub fn pass(
    rollout: &Rollout,
    blue_green: &BlueGreenStrategy,
    observed: &Observed,
    state: &EngineState,
    now: Timestamp,
) -> PassOutcome {
    let no_steps = CanaryStrategy::default();
    let prev = &state.status;
    let mut new = prev.clone();
    new.current_pod_hash.clone_from(&observed.canary_hash);
    new.current_step_hash.clear();
    new.canary = None;
    let selectors = new.blue_green.get_or_insert_with(Default::default);
    if new.stable_rs.is_empty() {
        // First sight: the version the active service serves is the stable one.
        new.stable_rs.clone_from(&observed.stable_hash);
        selectors.active_selector.clone_from(&observed.stable_hash);
    }
    new.promote_full = prev.promote_full && new.current_pod_hash != new.stable_rs;
    let mut p = Pass::start(rollout, &no_steps, observed, state, new, now);
    p.blue_green = Some(blue_green);
    let halt = halted(&p);
    reconcile_preview(&mut p, halt);
    if prev.current_pod_hash != p.new.current_pod_hash {
        restart(&mut p);
    } else {
        let fast = fast_tracked(&p);
        reconcile_pause(&mut p, halt, fast);
        reconcile_active(&mut p, halt, fast);
        bluegreen_analysis::reconcile(&mut p);
    }
    sync(&mut p);
    status::finish(p)
}

/// Argo's `haltProgress`: `spec.paused`, or an inconclusive analysis awaiting a person.
fn halted(p: &Pass<'_>) -> bool {
    p.paused || pause_condition(p.prev_status(), INCONCLUSIVE_ANALYSIS).is_some()
}

fn strategy<'a>(p: &Pass<'a>) -> &'a BlueGreenStrategy {
    p.blue_green.expect("a blue-green pass")
}

fn active_selector(p: &Pass<'_>) -> String {
    p.new
        .blue_green
        .as_ref()
        .map(|b| b.active_selector.clone())
        .unwrap_or_default()
}

/// Whether the active service is known to serve the version the engine chose for it.
pub fn switch_verified(p: &Pass<'_>) -> bool {
    active_selector(p) == p.observed.stable_hash
}

/// On Kubernetes, Argo's `ReadyForPause`: the new ReplicaSet has the size it should have
/// now and all of it is available (the adapter measures it). Standalone a version is its
/// endpoints, always ready.
fn ready_for_pause(p: &Pass<'_>) -> bool {
    p.observed.replicas.is_none_or(|r| r.at_desired)
}

/// On Kubernetes, Argo's `IsSaturated`: the new ReplicaSet has the Rollout's full size
/// available, so the active Service may switch to it.
fn saturated(p: &Pass<'_>) -> bool {
    let replicas = p.rollout.spec.replicas.unwrap_or(1);
    p.observed
        .replicas
        .is_none_or(|r| r.at_desired && r.new_available == replicas)
}

/// Argo's `calculateScaleUpPreviewCheckPoint` (Kubernetes only: `previewReplicaCount`
/// sizes ReplicaSets): once the pause and the pre-promotion analysis are done with exactly
/// `previewReplicaCount` new pods available, the new ReplicaSet may grow to full size. A
/// one-way switch until the next version or promotion.
fn scale_up_preview_check_point(p: &Pass<'_>) -> bool {
    let (Some(preview), Some(r)) = (strategy(p).preview_replica_count, p.observed.replicas) else {
        return false;
    };
    let previous = p
        .new
        .blue_green
        .as_ref()
        .is_some_and(|b| b.scale_up_preview_check_point);
    previous || (completed_pre_promotion(p) && completed_pause(p) && r.new_available == preview)
}

/// Argo's `reconcilePreviewService`: the preview service follows the desired version.
fn reconcile_preview(p: &mut Pass<'_>, halt: bool) {
    let service = &strategy(p).preview_service;
    if service.is_empty() || halt {
        return;
    }
    let want = p.new.current_pod_hash.clone();
    let from = std::mem::replace(&mut p.blue_green_status().preview_selector, want.clone());
    if from != want {
        p.event(Event::normal(
            SWITCH_SERVICE_REASON,
            format!("Switched selector for service '{service}' from '{from}' to '{want}'"),
        ));
        p.services
            .push(ServiceAction::SetPreview { pod_hash: want });
    }
}

/// A new version: Argo's `resetRolloutStatus`. The rest of this pass only settles status; the
/// next pass takes the new version through pause, analysis and the switch.
fn restart(p: &mut Pass<'_>) {
    let prev = p.prev_status();
    p.revision += 1;
    p.begin_revision(&prev.current_pod_hash);
    let runs: Vec<_> = prev
        .blue_green
        .iter()
        .flat_map(|b| {
            [
                &b.pre_promotion_analysis_run_status,
                &b.post_promotion_analysis_run_status,
            ]
        })
        .flatten()
        .cloned()
        .collect();
    p.terminate_unfinished(&runs);
    let selectors = p.blue_green_status();
    selectors.pre_promotion_analysis_run_status = None;
    selectors.post_promotion_analysis_run_status = None;
    selectors.scale_up_preview_check_point = false;
}

/// Argo's `isBlueGreenFastTracked`: no pause and no waiting before the switch when going back
/// to the stable version (or staying on it), on `promote --full`, or when the active service
/// serves nothing yet or serves the desired version already.
fn fast_tracked(p: &Pass<'_>) -> bool {
    let active = active_selector(p);
    p.new.stable_rs == p.new.current_pod_hash
        || p.new.promote_full
        || active.is_empty()
        || active == p.new.current_pod_hash
}

/// Argo's `needsBlueGreenControllerPause`.
fn needs_controller_pause(bg: &BlueGreenStrategy) -> bool {
    bg.auto_promotion_enabled == Some(false) || bg.auto_promotion_seconds.unwrap_or(0) > 0
}

/// Argo's `completedPrePromotionAnalysis`: none is configured, or the current one succeeded.
pub fn completed_pre_promotion(p: &Pass<'_>) -> bool {
    if strategy(p).pre_promotion_analysis.is_none() {
        return true;
    }
    p.prev_status()
        .blue_green
        .as_ref()
        .and_then(|b| b.pre_promotion_analysis_run_status.as_ref())
        .and_then(|run| p.observed.analysis_runs.get(&run.name))
        .is_some_and(|run| run.phase == AnalysisPhase::Successful)
}

/// When `autoPromotionSeconds` of a BlueGreenPause have passed (`None` if they never do).
fn auto_promotion_at(p: &Pass<'_>) -> Option<Timestamp> {
    let bg = strategy(p);
    let seconds = u64::try_from(bg.auto_promotion_seconds.unwrap_or(0)).ok()?;
    if bg.auto_promotion_enabled == Some(false) || seconds == 0 {
        return None;
    }
    let cond = pause_condition(p.prev_status(), BLUE_GREEN_PAUSE)?;
    let start = parse_time(&cond.start_time)?;
    Some(start.saturating_add(std::time::Duration::from_secs(seconds)))
}

/// Argo's `CompletedBlueGreenPause`: a person promoted, or `autoPromotionSeconds` passed
/// (strictly after, as Argo's `After`), or auto-promotion needs no pause at all, or the
/// preview's scale-up checkpoint was passed (it is set only once the pause was done).
fn completed_pause(p: &Pass<'_>) -> bool {
    if p.pause.has_added_pause() {
        return false;
    }
    let bg = strategy(p);
    let prev = p.prev_status();
    if prev
        .blue_green
        .as_ref()
        .is_some_and(|b| b.scale_up_preview_check_point)
    {
        return true;
    }
    let cond = pause_condition(prev, BLUE_GREEN_PAUSE);
    if bg.auto_promotion_enabled != Some(false) {
        if bg.auto_promotion_seconds.unwrap_or(0) <= 0 {
            return true;
        }
        return auto_promotion_at(p).is_some_and(|at| p.now > at);
    }
    prev.controller_pause && cond.is_none()
}

/// Argo's `reconcileBlueGreenPause`: pause before the switch when auto-promotion is off or
/// delayed, and end the pause when its time has come.
fn reconcile_pause(p: &mut Pass<'_>, halt: bool, fast: bool) {
    let prev = p.prev_status();
    if prev.abort || !ready_for_pause(p) || halt {
        return;
    }
    let check_point_passed = prev
        .blue_green
        .as_ref()
        .is_some_and(|b| b.scale_up_preview_check_point);
    if fast || check_point_passed || !needs_controller_pause(strategy(p)) {
        p.pause.remove_pause(BLUE_GREEN_PAUSE);
        return;
    }
    if !completed_pre_promotion(p) {
        return;
    }
    if pause_condition(prev, BLUE_GREEN_PAUSE).is_some() {
        if completed_pause(p) {
            p.pause.remove_pause(BLUE_GREEN_PAUSE);
        } else if let Some(at) = auto_promotion_at(p) {
            p.requeue(at.saturating_add(std::time::Duration::from_millis(1)));
        }
    } else if !prev.controller_pause {
        p.pause.add_pause(BLUE_GREEN_PAUSE);
        let seconds = u64::try_from(strategy(p).auto_promotion_seconds.unwrap_or(0)).unwrap_or(0);
        if strategy(p).auto_promotion_enabled != Some(false) && seconds > 0 {
            // The condition records whole seconds; the pause ends strictly after.
            let start = parse_time(&format_time(p.now)).unwrap_or(p.now);
            p.requeue(
                start
                    .saturating_add(std::time::Duration::from_secs(seconds))
                    .saturating_add(std::time::Duration::from_millis(1)),
            );
        }
    }
}

/// Argo's `reconcileActiveService`: switch to the desired version once fast-tracked, or once
/// the pause and the pre-promotion analysis are done; back to stable on abort.
fn reconcile_active(p: &mut Pass<'_>, halt: bool, fast: bool) {
    if halt || !ready_for_pause(p) || !saturated(p) {
        return;
    }
    let current = active_selector(p);
    let mut want = current.clone();
    if fast || (completed_pause(p) && completed_pre_promotion(p)) {
        want.clone_from(&p.new.current_pod_hash);
    }
    if p.prev_status().abort {
        want.clone_from(&p.new.stable_rs);
    }
    if want.is_empty() || want == current {
        return;
    }
    p.blue_green_status().active_selector.clone_from(&want);
    let service = &strategy(p).active_service;
    p.event(Event::normal(
        SWITCH_SERVICE_REASON,
        format!("Switched selector for service '{service}' from '{current}' to '{want}'"),
    ));
    p.services
        .push(ServiceAction::SwitchActive { pod_hash: want });
}

/// Argo's `syncRolloutStatusBlueGreen`: promotion to stable, then the requests that stand
/// until observed (a switch not yet served) and the versions that left.
fn sync(p: &mut Pass<'_>) {
    if p.new.promote_full {
        p.pause.clear_pauses();
        p.pause.remove_abort();
    }
    if let Some(reason) = full_promotion_reason(p) {
        promote_stable(p, reason);
    } else {
        let check_point = scale_up_preview_check_point(p);
        p.blue_green_status().scale_up_preview_check_point = check_point;
    }
    let active = active_selector(p);
    if !active.is_empty() && !switch_verified(p) {
        let again = ServiceAction::SwitchActive { pod_hash: active };
        if !p.services.contains(&again) {
            p.services.push(again);
        }
    }
    scale_down_old(p);
}

/// Argo's `shouldFullPromote` for blue-green.
fn full_promotion_reason(p: &Pass<'_>) -> Option<&'static str> {
    let active = active_selector(p);
    if p.new.stable_rs.is_empty() || active.is_empty() {
        return Some("Initial deploy");
    }
    if active != p.new.current_pod_hash || !switch_verified(p) {
        return None;
    }
    if p.new.promote_full {
        return Some("Full promotion requested");
    }
    if p.new.stable_rs == p.new.current_pod_hash {
        return Some("Fast rollback");
    }
    if p.pause.is_aborted(p.prev_status()) {
        return None;
    }
    if strategy(p).post_promotion_analysis.is_some() {
        let post_succeeded = p
            .new
            .blue_green
            .as_ref()
            .and_then(|b| b.post_promotion_analysis_run_status.as_ref())
            .is_some_and(|r| r.status == "Successful");
        if !post_succeeded {
            return None;
        }
    }
    Some("Completed blue-green update")
}

/// Argo's `promoteStable`: the desired version becomes stable. The active service serves it
/// already, so no service changes.
fn promote_stable(p: &mut Pass<'_>, reason: &str) {
    p.pause.clear_pauses();
    p.pause.remove_abort();
    p.new.promote_full = false;
    p.blue_green_status().scale_up_preview_check_point = false;
    if p.new.stable_rs != p.new.current_pod_hash {
        p.new.stable_rs.clone_from(&p.new.current_pod_hash);
        p.event(Event::normal(
            ROLLOUT_COMPLETED_REASON,
            format!(
                "Rollout completed update to revision {} ({}): {reason}",
                p.revision, p.new.current_pod_hash
            ),
        ));
    }
}

/// Argo's `scaleDownOldReplicaSetsForBlueGreen` with its `isReplicaSetReferenced`: a version
/// that the status referenced (stable, desired, active, preview) and references no more is
/// released after `scaleDownDelaySeconds`.
fn scale_down_old(p: &mut Pass<'_>) {
    let referenced = |s: &weir_config::argo::RolloutStatus| {
        let selectors = s.blue_green.clone().unwrap_or_default();
        [
            s.stable_rs.clone(),
            s.current_pod_hash.clone(),
            selectors.active_selector,
            selectors.preview_selector,
        ]
    };
    let before = referenced(p.prev_status());
    let after = referenced(&p.new);
    let delay = strategy(p)
        .scale_down_delay_seconds
        .unwrap_or(DEFAULT_SCALE_DOWN_DELAY_SECONDS);
    let at = p.now.saturating_add(std::time::Duration::from_secs(
        u64::try_from(delay).unwrap_or(0),
    ));
    let left: Vec<String> = before
        .into_iter()
        .filter(|h| !h.is_empty() && !after.contains(h))
        .collect();
    for pod_hash in left {
        let action = ServiceAction::ScaleDownOld { pod_hash, at };
        if !p.services.contains(&action) {
            p.services.push(action);
        }
    }
}
