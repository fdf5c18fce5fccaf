//! The canary strategy: one pass from the saved state to the next, in the order of Argo's
//! `rolloutCanary` and `syncRolloutStatusCanary`: restart on a new version, traffic, analysis,
//! pause, then promotion, abort or the next step.

use weir_config::argo::{CanaryStrategy, Rollout, RolloutAnalysisRunStatus};

use super::analysis_runs;
use super::clock::parse_time;
use super::conditions::{
    ROLLOUT_COMPLETED_REASON, ROLLOUT_STEP_COMPLETED_REASON, SKIP_STEPS_REASON,
};
use super::experiment;
use super::input::{Observed, ObservedExperiments};
use super::output::{Action, Event};
use super::pass::{Pass, PassOutcome};
use super::pause::{pause_condition, CANARY_PAUSE_STEP};
use super::state::EngineState;
use super::status;
use super::steps::{current_step, is_passed_over, pause_duration, step_hash, step_string};
use super::traffic;
use crate::analysis::Timestamp;

/// One pass: the state it leads to, the actions it asks for, when to call again.
pub fn pass(
    rollout: &Rollout,
    canary: &CanaryStrategy,
    observed: &Observed,
    experiments: Option<&ObservedExperiments>,
    experiments_external: bool,
    state: &EngineState,
    now: Timestamp,
) -> PassOutcome {
    let prev = &state.status;
    let mut new = prev.clone();
    new.current_pod_hash.clone_from(&observed.canary_hash);
    new.current_step_hash = step_hash(canary);
    if new.stable_rs.is_empty() {
        // First sight: the stable service's version is the stable one.
        new.stable_rs.clone_from(&observed.stable_hash);
    }
    new.promote_full = prev.promote_full && new.current_pod_hash != new.stable_rs;
    let index = current_step(canary, prev).1;
    let mut p = Pass::start(rollout, canary, observed, state, new, now);
    p.index = index;
    p.observed_experiments = experiments;
    p.experiments_external = experiments_external;
    step_through(&mut p);
    status::finish(p)
}

fn step_through(p: &mut Pass<'_>) {
    let prev = p.prev_status();
    let steps = p.step_count();
    if prev.current_pod_hash != p.new.current_pod_hash
        || prev.current_step_hash != p.new.current_step_hash
    {
        restart(p);
        return;
    }
    if p.new.promote_full {
        p.pause.clear_pauses();
        p.pause.remove_abort();
        if steps > 0 {
            p.index = Some(steps);
        }
    }
    let awaiting_full_weight = traffic::reconcile(p);
    analysis_runs::reconcile(p);
    experiment::step::reconcile(p);
    if p.invalid.is_some() || p.pause.has_added_pause() {
        return;
    }
    reconcile_pause_step(p);
    if !awaiting_full_weight {
        if let Some(reason) = full_promotion_reason(p) {
            promote_stable(p, &reason);
            return;
        }
    }
    if p.pause.is_aborted(prev) {
        if steps > 0 {
            let back_on_stable = p.new.stable_rs == p.new.current_pod_hash;
            p.index = Some(if back_on_stable { steps } else { 0 });
        }
        return;
    }
    if !awaiting_full_weight && current_step_completed(p) {
        let (step, index) = current_step(p.canary, prev);
        if let (Some(step), Some(index)) = (step, index) {
            p.index = Some(index + 1);
            p.canary_status().current_step_analysis_run_status = None;
            p.event(Event::normal(
                ROLLOUT_STEP_COMPLETED_REASON,
                format!(
                    "Rollout step {}/{steps} completed ({})",
                    index + 1,
                    step_string(step)
                ),
            ));
            p.pause.remove_pause(CANARY_PAUSE_STEP);
        }
    }
}

/// A new version (or new steps): start over at step 0, or skip the steps when going back to
/// the stable version (Argo's fast rollback).
fn restart(p: &mut Pass<'_>) {
    let prev = p.prev_status();
    if prev.current_pod_hash != p.new.current_pod_hash {
        p.revision += 1;
        p.begin_revision(&prev.current_pod_hash);
    } else {
        // New steps, same version: no new revision, but the old pauses and abort go.
        p.drop_progress();
    }
    let runs: Vec<RolloutAnalysisRunStatus> = prev
        .canary
        .iter()
        .flat_map(|c| {
            [
                &c.current_step_analysis_run_status,
                &c.current_background_analysis_run_status,
            ]
        })
        .flatten()
        .cloned()
        .collect();
    p.terminate_unfinished(&runs);
    let canary = p.canary_status();
    canary.current_step_analysis_run_status = None;
    canary.current_background_analysis_run_status = None;
    let steps = p.step_count();
    p.index = (steps > 0).then_some(0);
    if steps > 0 && !p.new.stable_rs.is_empty() && p.new.stable_rs == p.new.current_pod_hash {
        if !prev.current_pod_hash.is_empty() {
            p.event(Event::normal(
                SKIP_STEPS_REASON,
                "Rollback to stable ReplicaSets",
            ));
        }
        p.index = Some(steps);
    }
}

/// Argo's `reconcileCanaryPause`: enter a pause step (adding its pause condition once), and
/// requeue for the end of a timed one.
fn reconcile_pause_step(p: &mut Pass<'_>) {
    let prev = p.prev_status();
    if p.paused || p.new.promote_full {
        return;
    }
    let (Some(step), _) = current_step(p.canary, prev) else {
        return;
    };
    if step.pause.is_none() {
        return;
    }
    match pause_condition(prev, CANARY_PAUSE_STEP) {
        None => {
            if !prev.controller_pause {
                p.pause.add_pause(CANARY_PAUSE_STEP);
                if let Some(d) = pause_duration(step) {
                    p.requeue(p.now.saturating_add(d));
                }
            }
        }
        Some(cond) => {
            let start = parse_time(&cond.start_time).unwrap_or(p.now);
            if let Some(d) = pause_duration(step) {
                p.requeue(start.saturating_add(d));
            }
        }
    }
}

/// Argo's `shouldFullPromote` for a canary.
fn full_promotion_reason(p: &Pass<'_>) -> Option<String> {
    if p.new.stable_rs.is_empty() {
        return Some("Initial deploy".into());
    }
    if p.pause.is_aborted(p.prev_status()) {
        return None;
    }
    if p.new.promote_full {
        return Some("Full promotion requested".into());
    }
    if p.new.stable_rs == p.new.current_pod_hash {
        return Some("Fast rollback".into());
    }
    let steps = p.step_count();
    (steps == 0 || p.index == Some(steps)).then(|| format!("Completed all {steps} canary steps"))
}

/// Argo's `promoteStable`: the canary's version becomes stable.
fn promote_stable(p: &mut Pass<'_>, reason: &str) {
    p.pause.clear_pauses();
    p.pause.remove_abort();
    p.new.promote_full = false;
    let steps = p.step_count();
    p.index = (steps > 0).then_some(steps);
    if p.new.stable_rs != p.new.current_pod_hash {
        p.new.stable_rs.clone_from(&p.new.current_pod_hash);
        p.actions.push(Action::PromoteStable {
            pod_hash: p.new.current_pod_hash.clone(),
        });
        p.event(Event::normal(
            ROLLOUT_COMPLETED_REASON,
            format!(
                "Rollout completed update to revision {} ({}): {reason}",
                p.revision, p.new.current_pod_hash
            ),
        ));
    }
}

/// Argo's `completedCurrentCanaryStep`.
fn current_step_completed(p: &Pass<'_>) -> bool {
    if p.paused {
        return false;
    }
    let prev = p.prev_status();
    let (Some(step), _) = current_step(p.canary, prev) else {
        return false;
    };
    if let Some(pause) = &step.pause {
        let cond = pause_condition(prev, CANARY_PAUSE_STEP);
        if prev.controller_pause && cond.is_none() {
            return true; // promoted
        }
        return match (pause.duration.as_ref().and(pause_duration(step)), cond) {
            (Some(d), Some(cond)) => {
                parse_time(&cond.start_time).is_some_and(|start| p.now >= start.saturating_add(d))
            }
            _ => false,
        };
    }
    if step.experiment.is_some() && p.observed_experiments.is_some() {
        let (_, index) = current_step(p.canary, prev);
        return index.is_some_and(|i| experiment::step::step_completed(p, i));
    }
    // On Kubernetes a step that sizes ReplicaSets is done once they have the pods it asks
    // for (Argo's completedCurrentCanaryStep); standalone has no pods to wait for.
    let replicas_at_desired = p.observed.replicas.is_none_or(|r| r.at_desired);
    if step.set_canary_scale.is_some() && p.observed.replicas.is_some() {
        return replicas_at_desired;
    }
    if is_passed_over(step) || step.experiment.is_some() {
        return true;
    }
    if step.set_weight.is_some() {
        return replicas_at_desired
            && p.new
                .canary
                .as_ref()
                .and_then(|c| c.weights.as_ref())
                .and_then(|w| w.verified)
                .unwrap_or(false);
    }
    if step.analysis.is_some() {
        return p
            .new
            .canary
            .as_ref()
            .and_then(|c| c.current_step_analysis_run_status.as_ref())
            .is_some_and(|r| r.status == "Successful");
    }
    step.set_header_route.is_some() || step.set_mirror_route.is_some()
}
