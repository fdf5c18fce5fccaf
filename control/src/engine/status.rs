//! The end of a pass: abort and pause fields, conditions, phase and the events of state
//! changes, written in the order Argo's `persistRolloutStatus` writes them.

use weir_config::argo::RolloutStatus;

use super::conditions::{self as cond, Deadline};
use super::output::Event;
use super::pass::{Pass, PassOutcome};
use super::phase::rollout_phase;
use super::state::EngineState;
use super::steps::current_step;

pub fn finish(mut p: Pass<'_>) -> PassOutcome {
    let prev = p.prev_status();
    if let Some(pods) = &p.observed.pods {
        p.new.replicas = Some(pods.replicas);
        p.new.updated_replicas = Some(pods.updated);
        p.new.ready_replicas = Some(pods.ready);
        p.new.available_replicas = Some(pods.available);
    }
    p.new.current_step_index = p.index.and_then(|i| i32::try_from(i).ok());
    let deadline = p
        .rollout
        .spec
        .progress_deadline_seconds
        .unwrap_or(cond::DEFAULT_PROGRESS_DEADLINE_SECONDS);

    // Argo's evaluateProgressDeadlineAbort.
    if p.rollout.spec.progress_deadline_abort
        && !p.pause.is_aborted(prev)
        && !cond::rollout_completed(&p.new)
        && !progressing(&p, prev)
        && !indefinite_step(&p, prev)
        && cond::timed_out(prev, deadline, p.now)
    {
        let message = cond::timed_out_message(&p.replica_set_name());
        p.pause.add_abort(message.clone());
        p.event(Event::warning(cond::ROLLOUT_ABORTED_REASON, message));
    }

    p.pause.apply(prev, &mut p.new, p.now);
    pause_events(&mut p);
    match p.invalid.take() {
        Some(message) => {
            cond::set(
                &mut p.new,
                cond::new_condition(
                    cond::INVALID_SPEC,
                    cond::TRUE,
                    cond::INVALID_SPEC_REASON,
                    message.clone(),
                    p.now,
                ),
            );
            // A changed message replaces the old one (set() keeps same-reason conditions).
            if let Some(c) = p
                .new
                .conditions
                .iter_mut()
                .find(|c| c.type_ == cond::INVALID_SPEC)
            {
                c.message = message;
            }
        }
        None => cond::remove(&mut p.new, cond::INVALID_SPEC),
    }
    paused_conditions(&mut p);
    rollout_conditions(&mut p, deadline);
    let (phase, message) = rollout_phase(&p.rollout.spec, &p.new, p.paused);
    p.new.phase = phase;
    p.new.message = message;
    if let Some(generation) = generation(&p) {
        p.new.observed_generation = generation.to_string();
    }
    requeue_for_deadline(&mut p, deadline);

    let state = EngineState {
        status: p.new,
        revision: p.revision,
        paused: p.prev.paused,
        spec_paused: p.prev.spec_paused,
        managed_routes_set: p.managed_routes_set,
        experiments: p.experiments,
    };
    PassOutcome {
        state,
        actions: p.actions,
        services: p.services,
        requeue_at: p.requeue_at,
        weights_decided: p.weights_decided,
        experiment_actions: p.experiment_actions,
    }
}

/// Argo's `RolloutProgressing`, by strategy, and (on Kubernetes) the pods: more updated,
/// ready or available, or fewer old ones.
fn progressing(p: &Pass<'_>, prev: &RolloutStatus) -> bool {
    let strategy = if p.blue_green.is_some() {
        cond::blue_green_progressing(prev, &p.new)
    } else {
        cond::rollout_progressing(prev, &p.new)
    };
    strategy || (p.observed.pods.is_some() && cond::pods_progressing(prev, &p.new))
}

/// Argo's `isIndefiniteStep`: analysis, experiment and pause steps, and paused rollouts, do
/// not count against the progress deadline.
fn indefinite_step(p: &Pass<'_>, status: &RolloutStatus) -> bool {
    let (step, _) = current_step(p.canary, status);
    if step.is_some_and(|s| s.experiment.is_some() || s.analysis.is_some() || s.pause.is_some()) {
        return true;
    }
    cond::get(status, cond::PAUSED).is_some_and(|c| c.status == cond::TRUE)
}

/// Argo's `sendStateChangeEvents`.
fn pause_events(p: &mut Pass<'_>) {
    let was = !p.prev_status().pause_conditions.is_empty();
    let is = !p.new.pause_conditions.is_empty();
    if was == is {
        return;
    }
    if let Some(first) = p.new.pause_conditions.first() {
        let message = format!("{} ({})", cond::ROLLOUT_PAUSED_MESSAGE, first.reason);
        p.event(Event::normal(cond::ROLLOUT_PAUSED_REASON, message));
    } else if p.new.aborted_at.is_none() {
        p.event(Event::normal(
            cond::ROLLOUT_RESUMED_REASON,
            cond::ROLLOUT_RESUMED_MESSAGE,
        ));
    }
}

/// Argo's `checkPausedConditions`: Progressing Unknown while paused or on retry, and the
/// Paused condition.
fn paused_conditions(p: &mut Pass<'_>) {
    let now = p.now;
    let is_paused = !p.new.pause_conditions.is_empty() || p.paused;
    let progressing = cond::get(&p.new, cond::PROGRESSING).map(|c| c.reason.clone());
    let shows_paused = progressing.as_deref() == Some(cond::ROLLOUT_PAUSED_REASON);
    let shows_aborted = progressing.as_deref() == Some(cond::ROLLOUT_ABORTED_REASON);
    if is_paused != shows_paused && !shows_aborted && !cond::rollout_completed(&p.new) {
        let (reason, message) = if is_paused {
            (cond::ROLLOUT_PAUSED_REASON, cond::ROLLOUT_PAUSED_MESSAGE)
        } else {
            (cond::ROLLOUT_RESUMED_REASON, cond::ROLLOUT_RESUMED_MESSAGE)
        };
        cond::set(
            &mut p.new,
            cond::new_condition(cond::PROGRESSING, cond::UNKNOWN, reason, message, now),
        );
    }
    if !p.new.abort && shows_aborted {
        cond::set(
            &mut p.new,
            cond::new_condition(
                cond::PROGRESSING,
                cond::UNKNOWN,
                cond::ROLLOUT_RETRY_REASON,
                cond::ROLLOUT_RETRY_MESSAGE,
                now,
            ),
        );
    }
    let paused_true = cond::get(&p.new, cond::PAUSED).is_some_and(|c| c.status == cond::TRUE);
    if is_paused != paused_true && !shows_aborted {
        let status = if is_paused { cond::TRUE } else { cond::FALSE };
        cond::set(
            &mut p.new,
            cond::new_condition(
                cond::PAUSED,
                status,
                cond::ROLLOUT_PAUSED_REASON,
                cond::ROLLOUT_PAUSED_MESSAGE,
                now,
            ),
        );
    }
}

/// Argo's `RolloutHealthy`. Blue-green: the active service, and the preview service if
/// there is one, serve the desired version (whether or not it is stable yet, as in Argo).
/// Canary: every step done and the desired version stable. On Kubernetes also: every
/// desired pod updated and available, a canary's old pods gone, and the Rollout's
/// generation observed by the status as read.
fn healthy(p: &Pass<'_>) -> bool {
    let strategy_done = if let Some(bg) = p.blue_green {
        let selectors = p.new.blue_green.clone().unwrap_or_default();
        let current = &p.new.current_pod_hash;
        selectors.active_selector == *current
            && (bg.preview_service.is_empty() || selectors.preview_selector == *current)
    } else {
        let steps = p.step_count();
        let all_steps = steps == 0
            || p.new
                .current_step_index
                .is_none_or(|i| usize::try_from(i).ok() == Some(steps));
        all_steps && cond::rollout_completed(&p.new)
    };
    let Some(pods) = &p.observed.pods else {
        return strategy_done;
    };
    let desired = p.rollout.spec.replicas.unwrap_or(1);
    let old_pods_gone = p.blue_green.is_some() || pods.replicas == desired;
    strategy_done
        && pods.updated == desired
        && pods.available == desired
        && old_pods_gone
        && pods.generation_observed
}

fn generation(p: &Pass<'_>) -> Option<i64> {
    p.rollout
        .metadata
        .other
        .get("generation")
        .and_then(|g| g.as_i64())
}

/// The Available condition: on Kubernetes, a blue-green Rollout's active ReplicaSet is
/// saturated, or a canary's pods available number at least the desired replicas; always
/// standalone, where there are no pods.
fn available(p: &Pass<'_>) -> bool {
    let Some(pods) = &p.observed.pods else {
        return true;
    };
    if p.blue_green.is_some() {
        let active = p
            .new
            .blue_green
            .as_ref()
            .map_or("", |b| b.active_selector.as_str());
        !active.is_empty() && pods.saturated.iter().any(|h| h == active)
    } else {
        pods.available >= p.rollout.spec.replicas.unwrap_or(1)
    }
}

/// Argo's `calculateRolloutConditions`.
fn rollout_conditions(p: &mut Pass<'_>, deadline: i32) {
    let now = p.now;
    let prev = p.prev_status();
    let is_paused = !p.new.pause_conditions.is_empty() || p.paused;
    let aborted = p.new.abort;
    let is_healthy = healthy(p);
    let rs = p.replica_set_name();

    let mut became_unhealthy = false;
    if !is_paused && is_healthy {
        cond::set(
            &mut p.new,
            cond::new_condition(
                cond::HEALTHY,
                cond::TRUE,
                cond::ROLLOUT_HEALTHY_REASON,
                cond::ROLLOUT_HEALTHY_MESSAGE,
                now,
            ),
        );
    } else if cond::get(&p.new, cond::HEALTHY).is_some() {
        became_unhealthy = cond::set(
            &mut p.new,
            cond::new_condition(
                cond::HEALTHY,
                cond::FALSE,
                cond::ROLLOUT_HEALTHY_REASON,
                cond::ROLLOUT_NOT_HEALTHY_MESSAGE,
                now,
            ),
        );
    }

    if aborted {
        let mut message = cond::aborted_message(p.revision);
        if !p.pause.abort_message().is_empty() {
            message = format!("{message}: {}", p.pause.abort_message());
        }
        let c = cond::new_condition(
            cond::PROGRESSING,
            cond::FALSE,
            cond::ROLLOUT_ABORTED_REASON,
            message.clone(),
            now,
        );
        if cond::set(&mut p.new, c) {
            p.event(Event::warning(cond::ROLLOUT_ABORTED_REASON, message));
        }
    } else if is_healthy {
        let c = cond::new_condition(
            cond::PROGRESSING,
            cond::TRUE,
            cond::NEW_RS_AVAILABLE_REASON,
            cond::completed_message(&rs),
            now,
        );
        cond::set(&mut p.new, c);
    } else if progressing(p, prev) || became_unhealthy {
        // A promoted Rollout that lost pods is progressing again, not stuck (Argo resets
        // the condition so that it does not time out).
        let (reason, message) = if became_unhealthy && p.new.stable_rs == p.new.current_pod_hash {
            (
                cond::REPLICA_SET_NOT_AVAILABLE_REASON,
                cond::NOT_AVAILABLE_MESSAGE.to_owned(),
            )
        } else {
            (
                cond::REPLICA_SET_UPDATED_REASON,
                cond::progressing_message(&rs),
            )
        };
        let mut c = cond::new_condition(cond::PROGRESSING, cond::TRUE, reason, message, now);
        // Progress refreshes lastUpdateTime even when the reason is unchanged.
        if let Some(current) = cond::get(&p.new, cond::PROGRESSING) {
            if current.status == cond::TRUE {
                c.last_transition_time
                    .clone_from(&current.last_transition_time);
            }
            cond::remove(&mut p.new, cond::PROGRESSING);
        }
        cond::set(&mut p.new, c);
    } else if !indefinite_step(p, prev) && cond::timed_out(&p.new, deadline, now) {
        let c = cond::new_condition(
            cond::PROGRESSING,
            cond::FALSE,
            cond::TIMED_OUT_REASON,
            cond::timed_out_message(&rs),
            now,
        );
        cond::set(&mut p.new, c);
    }

    let c = if available(p) {
        cond::new_condition(
            cond::AVAILABLE,
            cond::TRUE,
            cond::AVAILABLE_REASON,
            cond::AVAILABLE_MESSAGE,
            now,
        )
    } else {
        cond::new_condition(
            cond::AVAILABLE,
            cond::FALSE,
            cond::AVAILABLE_REASON,
            cond::NOT_AVAILABLE_MESSAGE,
            now,
        )
    };
    cond::set(&mut p.new, c);

    if cond::rollout_completed(&p.new) {
        let c = cond::new_condition(
            cond::COMPLETED,
            cond::TRUE,
            cond::ROLLOUT_COMPLETED_REASON,
            cond::ROLLOUT_COMPLETED_REASON,
            now,
        );
        cond::set(&mut p.new, c);
    } else {
        let c = cond::new_condition(
            cond::COMPLETED,
            cond::FALSE,
            cond::ROLLOUT_COMPLETED_REASON,
            cond::ROLLOUT_COMPLETED_REASON,
            now,
        );
        if cond::set(&mut p.new, c) {
            let message = format!(
                "Rollout not completed, started update to revision {} ({})",
                p.revision, p.new.current_pod_hash
            );
            p.event(Event::normal(cond::ROLLOUT_NOT_COMPLETED_REASON, message));
        }
    }
}

/// Argo's `requeueStuckRollout`: call again when the progress deadline falls.
fn requeue_for_deadline(p: &mut Pass<'_>, deadline: i32) {
    let is_paused = !p.new.pause_conditions.is_empty() || p.paused;
    if healthy(p) || is_paused || p.new.abort || indefinite_step(p, &p.new) {
        return;
    }
    if let Deadline::At(at) = cond::deadline(&p.new, deadline) {
        // Timed out means strictly later than the deadline.
        p.requeue(
            at.saturating_add(std::time::Duration::from_millis(1))
                .max(p.now),
        );
    }
}
