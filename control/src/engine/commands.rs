//! User commands as the patches `kubectl argo rollouts` makes (`promote`, `promote --full`,
//! `abort`, `retry`, `pause`), applied to the saved state before the engine reconciles.

use weir_config::argo::Rollout;

use super::input::Command;
use super::state::EngineState;
use super::steps::current_step;

pub fn apply(state: &mut EngineState, rollout: &Rollout, command: Command) {
    let paused = state.paused.unwrap_or(rollout.spec.paused);
    match command {
        Command::Promote => {
            if paused {
                state.paused = Some(false);
            }
            promote(state, rollout);
        }
        Command::PromoteFull => {
            if paused {
                state.paused = Some(false);
            }
            if state.status.current_pod_hash != state.status.stable_rs {
                state.status.promote_full = true;
            }
        }
        Command::Abort => state.status.abort = true,
        Command::Retry => state.status.abort = false,
        Command::Pause => state.paused = Some(true),
        Command::Resume => state.paused = Some(false),
    }
}

/// Argo's `promote` status patch: out of an inconclusive step analysis, skip the step; else
/// clear the pause conditions (the controller then sees it is being unpaused); with nothing
/// paused, skip the current step.
fn promote(state: &mut EngineState, rollout: &Rollout) {
    let status = &mut state.status;
    let Some(canary) = rollout.spec.strategy.canary.as_ref() else {
        status.pause_conditions.clear();
        return;
    };
    let next_step = |status: &weir_config::argo::RolloutStatus| {
        current_step(canary, status)
            .1
            .map(|i| if i < canary.steps.len() { i + 1 } else { i })
            .and_then(|i| i32::try_from(i).ok())
    };
    let inconclusive = status
        .canary
        .as_ref()
        .and_then(|c| c.current_step_analysis_run_status.as_ref())
        .is_some_and(|r| r.status == "Inconclusive");
    if inconclusive && !status.pause_conditions.is_empty() && status.controller_pause {
        if let Some(i) = next_step(status) {
            status.current_step_index = Some(i);
            status.pause_conditions.clear();
            status.controller_pause = false;
        }
    } else if !status.pause_conditions.is_empty() {
        status.pause_conditions.clear();
    } else if let Some(i) = next_step(status) {
        status.current_step_index = Some(i);
    }
}
