//! One pass of the engine over a Rollout: what it reads (the saved state it started from,
//! observations, time) and what it builds (the new status, actions, requeue time). Argo's
//! `rolloutContext`, minus the clients.

use weir_config::argo::{
    BlueGreenStatus, BlueGreenStrategy, CanaryStatus, CanaryStrategy, Rollout, RolloutStatus,
};

use super::experiment::{ExperimentAction, StepExperiment};
use super::input::{Observed, ObservedExperiments};
use super::output::{Action, Event, ServiceAction};
use super::pause::PauseContext;
use super::state::EngineState;
use crate::analysis::Timestamp;

pub struct Pass<'a> {
    pub rollout: &'a Rollout,
    /// The canary strategy; for a blue-green rollout an empty one (no steps, no analysis), so
    /// the step-based code shared with the end of a pass finds nothing to do.
    pub canary: &'a CanaryStrategy,
    /// The blue-green strategy, when the rollout has one.
    pub blue_green: Option<&'a BlueGreenStrategy>,
    pub observed: &'a Observed,
    pub now: Timestamp,
    /// The state this pass started from (Argo's `c.rollout.Status`).
    pub prev: &'a EngineState,
    /// The status being built (Argo's `newStatus`).
    pub new: RolloutStatus,
    /// The step index the pass ends on (Argo's local `currentStepIndex`).
    pub index: Option<usize>,
    pub pause: PauseContext,
    /// Effective `spec.paused`: the spec's, unless a command overrode it.
    pub paused: bool,
    pub revision: u64,
    pub managed_routes_set: bool,
    pub actions: Vec<Action>,
    /// Blue-green's service switches (see [`ServiceAction`]).
    pub services: Vec<ServiceAction>,
    pub requeue_at: Option<Timestamp>,
    /// Whether this pass decided the weights (every pass but a restart does); its
    /// SetWeights, or the absence of one, supersedes earlier passes' of the same call.
    pub weights_decided: bool,
    /// Why the spec cannot be acted on (a missing template, a bad argument): shown in the
    /// InvalidSpec condition; the rollout does not move while it stands.
    pub invalid: Option<String>,
    /// What the adapter observes of the experiments' backends; `None` when it does not run
    /// experiments (experiment steps are then passed over).
    pub observed_experiments: Option<&'a ObservedExperiments>,
    /// The experiments are objects a controller of their own runs (Kubernetes): the pass
    /// makes and terminates them and reads their status, but does not run them.
    pub experiments_external: bool,
    /// The experiments the Rollout owns, as this pass leaves them.
    pub experiments: Vec<StepExperiment>,
    /// What the pass asks of the experiments' backends.
    pub experiment_actions: Vec<ExperimentAction>,
}

/// What a pass hands back to [`super::reconcile`].
pub struct PassOutcome {
    pub state: EngineState,
    pub actions: Vec<Action>,
    pub services: Vec<ServiceAction>,
    pub requeue_at: Option<Timestamp>,
    pub weights_decided: bool,
    pub experiment_actions: Vec<ExperimentAction>,
}

impl<'a> Pass<'a> {
    /// A pass over `rollout` from `prev` towards `new`, with nothing decided yet. The
    /// strategy-specific fields (`canary`, `blue_green`, `index`, `observed_experiments`)
    /// are the caller's to set.
    pub fn start(
        rollout: &'a Rollout,
        canary: &'a CanaryStrategy,
        observed: &'a Observed,
        prev: &'a EngineState,
        new: RolloutStatus,
        now: Timestamp,
    ) -> Self {
        Pass {
            rollout,
            canary,
            blue_green: None,
            observed,
            now,
            prev,
            index: None,
            new,
            pause: PauseContext::default(),
            paused: prev.paused.unwrap_or(rollout.spec.paused),
            revision: prev.revision,
            managed_routes_set: prev.managed_routes_set,
            actions: Vec::new(),
            services: Vec::new(),
            requeue_at: None,
            weights_decided: false,
            invalid: None,
            experiments: prev.experiments.clone(),
            observed_experiments: None,
            experiments_external: false,
            experiment_actions: Vec::new(),
        }
    }

    /// Whether the rollout's analysis runs stop (and no new ones start), as Argo decides
    /// for both strategies: fully promoted, aborted, promoted with --full, nothing new to
    /// judge, or no stable version yet.
    pub fn analysis_cancelled(&self) -> bool {
        self.was_fully_promoted()
            || self.pause.is_aborted(self.prev_status())
            || self.new.promote_full
            || self.new.stable_rs == self.new.current_pod_hash
            || self.new.stable_rs.is_empty()
    }

    pub fn prev_status(&self) -> &'a RolloutStatus {
        &self.prev.status
    }

    pub fn rollout_name(&self) -> &'a str {
        self.rollout.metadata.name.as_deref().unwrap_or("rollout")
    }

    /// The name Argo's messages give the canary's ReplicaSet: `<rollout>-<hash>`.
    pub fn replica_set_name(&self) -> String {
        format!("{}-{}", self.rollout_name(), self.new.current_pod_hash)
    }

    pub fn step_count(&self) -> usize {
        self.canary.steps.len()
    }

    /// Argo's `IsFullyPromoted`, on the status the pass started from.
    pub fn was_fully_promoted(&self) -> bool {
        self.prev.status.stable_rs == self.prev.status.current_pod_hash
    }

    pub fn canary_status(&mut self) -> &mut CanaryStatus {
        self.new.canary.get_or_insert_with(CanaryStatus::default)
    }

    pub fn blue_green_status(&mut self) -> &mut BlueGreenStatus {
        self.new
            .blue_green
            .get_or_insert_with(BlueGreenStatus::default)
    }

    pub fn event(&mut self, event: Event) {
        self.actions.push(Action::Event(event));
    }

    /// Says a new revision began (Argo's RolloutUpdated; not for the initial deploy of the
    /// stable version) and drops what belonged to the old one: pauses, the abort and
    /// promote --full. `prev_pod_hash` is the version this pass started from.
    pub fn begin_revision(&mut self, prev_pod_hash: &str) {
        if !prev_pod_hash.is_empty() || self.new.stable_rs != self.new.current_pod_hash {
            self.event(Event::normal(
                super::conditions::ROLLOUT_UPDATED_REASON,
                format!("Rollout updated to revision {}", self.revision),
            ));
        }
        self.drop_progress();
    }

    /// Drops the pauses, the abort and promote --full of the walk so far (a restart), and
    /// records `spec.restartAt` as done: the new version's pods are all new (Argo's
    /// `resetRolloutStatus` calls `SetRestartedAt`).
    pub fn drop_progress(&mut self) {
        self.pause.clear_pauses();
        self.pause.remove_abort();
        self.new.promote_full = false;
        self.new
            .restarted_at
            .clone_from(&self.rollout.spec.restart_at);
    }

    /// Asks the adapter to terminate each of `runs` that has not completed (a restart or a
    /// new version leaves them behind).
    pub fn terminate_unfinished<'r>(
        &mut self,
        runs: impl IntoIterator<Item = &'r weir_config::argo::RolloutAnalysisRunStatus>,
    ) {
        for run in runs {
            let done = self
                .observed
                .analysis_runs
                .get(&run.name)
                .is_some_and(|r| r.phase.is_completed());
            if !done {
                self.actions.push(Action::TerminateAnalysis {
                    name: run.name.clone(),
                });
            }
        }
    }

    /// Asks to be called again at `at` at the latest.
    pub fn requeue(&mut self, at: Timestamp) {
        self.requeue_at = Some(self.requeue_at.map_or(at, |r| r.min(at)));
    }
}
