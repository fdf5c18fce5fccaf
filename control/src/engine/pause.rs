//! Pause conditions and abort, decided during a pass and written at its end: Argo's
//! `pauseContext` (`rollout/pause.go`).

use weir_config::argo::{PauseCondition, RolloutStatus};

use super::clock::format_time;
use crate::analysis::Timestamp;

/// A step's pause (`pause: {}` or `pause: {duration}`).
pub const CANARY_PAUSE_STEP: &str = "CanaryPauseStep";
/// Blue-green's pause before promotion (not used by the canary strategy).
pub const BLUE_GREEN_PAUSE: &str = "BlueGreenPause";
/// An analysis ended Inconclusive: a person decides (promote or abort). Argo's
/// `PauseReasonInconclusiveAnalysis`, whose value (what status shows, and what
/// `kubectl argo rollouts` matches) is `InconclusiveAnalysisRun`.
pub const INCONCLUSIVE_ANALYSIS: &str = "InconclusiveAnalysisRun";
/// An experiment ended Inconclusive.
pub const INCONCLUSIVE_EXPERIMENT: &str = "InconclusiveExperiment";

/// What the pass decided about pausing and aborting; applied by [`PauseContext::apply`].
#[derive(Debug, Default)]
pub struct PauseContext {
    add: Vec<&'static str>,
    remove: Vec<&'static str>,
    clear: bool,
    add_abort: bool,
    remove_abort: bool,
    abort_message: String,
}

impl PauseContext {
    pub fn add_pause(&mut self, reason: &'static str) {
        self.add.push(reason);
    }

    pub fn has_added_pause(&self) -> bool {
        !self.add.is_empty()
    }

    pub fn remove_pause(&mut self, reason: &'static str) {
        self.remove.push(reason);
    }

    pub fn clear_pauses(&mut self) {
        self.clear = true;
    }

    /// Abort, saying why (shown after "Rollout aborted update to revision N: ").
    pub fn add_abort(&mut self, message: String) {
        self.add_abort = true;
        self.abort_message = message;
    }

    pub fn remove_abort(&mut self) {
        self.remove_abort = true;
    }

    pub fn abort_message(&self) -> &str {
        &self.abort_message
    }

    /// Argo's `IsAborted`, against the status the pass started from.
    pub fn is_aborted(&self, prev: &RolloutStatus) -> bool {
        !self.remove_abort && (self.add_abort || prev.abort)
    }

    /// Argo's `CalculatePauseStatus`: abort fields, then pause conditions and
    /// `controllerPause` (an aborted rollout has no pause conditions).
    pub fn apply(&self, prev: &RolloutStatus, new: &mut RolloutStatus, now: Timestamp) {
        new.pause_conditions.clear();
        new.controller_pause = false;
        if self.add_abort || (!self.remove_abort && prev.abort) {
            new.abort = true;
            new.aborted_at = Some(prev.aborted_at.clone().unwrap_or_else(|| format_time(now)));
            return;
        }
        new.abort = false;
        new.aborted_at = None;
        if self.clear {
            return;
        }
        let mut controller_pause = prev.controller_pause;
        let mut conditions: Vec<PauseCondition> = prev
            .pause_conditions
            .iter()
            .filter(|c| !self.remove.contains(&c.reason.as_str()))
            .cloned()
            .collect();
        for reason in &self.add {
            if !prev.pause_conditions.iter().any(|c| c.reason == *reason) {
                conditions.push(PauseCondition {
                    reason: (*reason).to_string(),
                    start_time: format_time(now),
                });
                controller_pause = true;
            }
        }
        if !conditions.is_empty() {
            new.controller_pause = controller_pause;
            new.pause_conditions = conditions;
        }
    }
}

/// The pause condition with this reason, if the rollout has one.
pub fn pause_condition<'a>(status: &'a RolloutStatus, reason: &str) -> Option<&'a PauseCondition> {
    status.pause_conditions.iter().find(|c| c.reason == reason)
}
