//! The rollout engine: a pure state machine from (Rollout, saved state, observations,
//! commands, now) to (new state, actions, when to call again). No clock, no I/O, no
//! randomness: time is an argument and every effect is an [`Action`] value, so each Argo
//! rule is a table test and both adapters (standalone, Kubernetes) share this code.
//!
//! The adapter loop:
//!
//! ```text
//! let mut state: EngineState = load().unwrap_or_default();   // state file / status
//! loop {
//!     let observed = observe();            // versions, proxy weights, analysis runs, templates
//!     let commands = take_commands();      // weir rollouts promote / abort / ...
//!     let out = engine::reconcile(&rollout, &state, &observed, &commands, now());
//!     persist(&out.state);                 // atomically
//!     for action in out.actions { apply(action) }   // in order; all idempotent
//!     state = out.state;
//!     wait_until(out.requeue_at, or any observation / command change);
//! }
//! ```
//!
//! Code map: [`input`] and [`output`] are the boundary; [`state`] what is persisted;
//! [`commands`] the user's patches; [`canary`] the step walk; [`traffic`] the managed
//! route; [`analysis_runs`] step and background analysis; [`bluegreen`] the blue-green
//! strategy (preview, pause, switch, promotion) and [`bluegreen_analysis`] its pre- and
//! post-promotion analysis; [`analysis_bridge`] templates to
//! [`crate::analysis::AnalysisRunSpec`]; [`pause`], [`conditions`], [`phase`], [`status`]
//! the status Argo's tools read; [`experiment`] the experiment machine, the canary
//! `experiment` step and standalone `kind: Experiment`s.

pub mod analysis_bridge;
mod analysis_runs;
mod bluegreen;
mod bluegreen_analysis;
mod canary;
pub mod clock;
mod commands;
pub mod conditions;
pub mod experiment;
pub mod input;
pub mod output;
mod pass;
pub mod pause;
pub mod phase;
pub mod state;
mod status;
mod step_hash;
pub mod steps;
mod traffic;

#[cfg(test)]
mod tests;

pub use experiment::{ExperimentAction, ExperimentBackend, ObservedExperiment};
pub use input::{
    AnalysisTemplates, Command, Observed, ObservedAnalysisRun, ObservedExperiments,
    ObservedReplicas, ObservedTraffic, PodCounts,
};
pub use output::{Action, AnalysisKind, Event, Reconciled, ServiceAction, StartAnalysis};
pub use state::EngineState;

use weir_config::argo::{BlueGreenStrategy, CanaryStrategy, Rollout};

use crate::analysis::Timestamp;

/// The Rollout's strategy, as the engine dispatches on it.
pub enum Strategy<'a> {
    Canary(&'a CanaryStrategy),
    BlueGreen(&'a BlueGreenStrategy),
    /// Neither or both set (lint reports it).
    Invalid,
}

impl<'a> Strategy<'a> {
    pub fn of(rollout: &'a Rollout) -> Self {
        let s = &rollout.spec.strategy;
        match (&s.canary, &s.blue_green) {
            (Some(c), None) => Strategy::Canary(c),
            (None, Some(b)) => Strategy::BlueGreen(b),
            _ => Strategy::Invalid,
        }
    }
}

/// One reconcile: applies `commands` to the saved state, then walks the rollout as far as
/// the observations allow at `now` (several steps at once when they complete at once).
///
/// Canary `experiment` steps are passed over, as before weir ran experiments: an adapter
/// that carries out [`Reconciled::experiments`] calls [`reconcile_with_experiments`].
pub fn reconcile(
    rollout: &Rollout,
    saved: &EngineState,
    observed: &Observed,
    commands: &[Command],
    now: Timestamp,
) -> Reconciled {
    reconcile_inner(rollout, saved, observed, None, false, commands, now)
}

/// [`reconcile`] that also runs canary `experiment` steps: the adapter serves the backends
/// [`Reconciled::experiments`] asks for and reports them in `experiments`.
pub fn reconcile_with_experiments(
    rollout: &Rollout,
    saved: &EngineState,
    observed: &Observed,
    experiments: &ObservedExperiments,
    commands: &[Command],
    now: Timestamp,
) -> Reconciled {
    reconcile_inner(
        rollout,
        saved,
        observed,
        Some(experiments),
        false,
        commands,
        now,
    )
}

/// [`reconcile`] for an adapter whose experiments are objects a controller of their own
/// runs (Kubernetes: Argo's Experiment resources). `saved.experiments` holds the Rollout's
/// experiments as their objects stand (plan and status); the engine makes new ones and
/// terminates old ones in [`Reconciled::state`]`.experiments` (the adapter creates and
/// patches the objects) and reacts to their phase, but never runs them itself.
pub fn reconcile_with_experiment_objects(
    rollout: &Rollout,
    saved: &EngineState,
    observed: &Observed,
    commands: &[Command],
    now: Timestamp,
) -> Reconciled {
    let none = ObservedExperiments::new();
    reconcile_inner(rollout, saved, observed, Some(&none), true, commands, now)
}

fn reconcile_inner(
    rollout: &Rollout,
    saved: &EngineState,
    observed: &Observed,
    experiments: Option<&ObservedExperiments>,
    experiments_external: bool,
    commands: &[Command],
    now: Timestamp,
) -> Reconciled {
    let mut state = saved.clone();
    if state.spec_paused != rollout.spec.paused {
        state.spec_paused = rollout.spec.paused;
        state.paused = None;
    }
    for &command in commands {
        commands::apply(&mut state, rollout, command);
    }
    match Strategy::of(rollout) {
        Strategy::Canary(canary) => {
            // The adapter measured `at_desired` against the step the status names: once a
            // pass moves to another step, the counts are those of a step they were not
            // measured for, so later passes wait for the next reconcile to measure them
            // (Argo takes one step per reconcile for the same reason).
            let measured_at = state.status.current_step_index;
            let unmeasured = Observed {
                replicas: observed.replicas.map(|r| ObservedReplicas {
                    at_desired: false,
                    ..r
                }),
                ..observed.clone()
            };
            settle(canary.steps.len() * 2 + 8, state, |state| {
                let observed = if state.status.current_step_index == measured_at {
                    observed
                } else {
                    &unmeasured
                };
                canary::pass(
                    rollout,
                    canary,
                    observed,
                    experiments,
                    experiments_external,
                    state,
                    now,
                )
            })
        }
        // Restart, pause, switch, post-promotion analysis, promotion: a few passes at most.
        Strategy::BlueGreen(blue_green) => settle(8, state, |state| {
            bluegreen::pass(rollout, blue_green, observed, state, now)
        }),
        Strategy::Invalid => invalid_spec(
            rollout,
            state,
            now,
            "Rollout must have exactly one strategy: canary or blueGreen",
        ),
    }
}

/// Runs passes until one changes nothing, as Argo's controller requeues itself after each
/// status change. Bounded by `max_passes`: every pass but the last moves the rollout
/// forward, and no rollout moves more than once per step plus a few transitions in one call.
fn settle(
    max_passes: usize,
    mut state: EngineState,
    pass: impl Fn(&EngineState) -> pass::PassOutcome,
) -> Reconciled {
    let mut actions: Vec<Action> = Vec::new();
    let mut services: Vec<ServiceAction> = Vec::new();
    let mut experiments: Vec<ExperimentAction> = Vec::new();
    let mut requeue_at = None;
    for _ in 0..max_passes {
        let outcome = pass(&state);
        if outcome.weights_decided {
            // This pass decided the weights afresh: an earlier pass's request is stale.
            actions.retain(|a| !matches!(a, Action::SetWeights { .. }));
        }
        for action in outcome.actions {
            merge(&mut actions, action);
        }
        for service in outcome.services {
            merge_service(&mut services, service);
        }
        for action in outcome.experiment_actions {
            merge_experiment(&mut experiments, action);
        }
        requeue_at = outcome.requeue_at;
        let done = outcome.state == state;
        state = outcome.state;
        if done {
            break;
        }
    }
    Reconciled {
        state,
        actions,
        services,
        experiments,
        requeue_at,
    }
}

/// Adds an experiment action: the latest word on an experiment supersedes an earlier one of
/// this call (a Start made stale by a Stop, or the reverse).
fn merge_experiment(experiments: &mut Vec<ExperimentAction>, action: ExperimentAction) {
    let name = |a: &ExperimentAction| match a {
        ExperimentAction::Start { name, .. } | ExperimentAction::Stop { name } => name.clone(),
    };
    let this = name(&action);
    experiments.retain(|a| name(a) != this);
    experiments.push(action);
}

/// Adds a service switch: a later switch of the same service supersedes an earlier one of
/// this call (the last word is the one to carry out); releases accumulate.
fn merge_service(services: &mut Vec<ServiceAction>, service: ServiceAction) {
    match &service {
        ServiceAction::SwitchActive { .. } => {
            services.retain(|s| !matches!(s, ServiceAction::SwitchActive { .. }));
        }
        ServiceAction::SetPreview { .. } => {
            services.retain(|s| !matches!(s, ServiceAction::SetPreview { .. }));
        }
        ServiceAction::ScaleDownOld { .. } => {
            if services.contains(&service) {
                return;
            }
        }
    }
    services.push(service);
}

/// Adds an action: weights only the latest (moved last, after any promotion it follows);
/// other repeats of an action already asked for in this call are dropped.
fn merge(actions: &mut Vec<Action>, action: Action) {
    if matches!(action, Action::SetWeights { .. }) {
        actions.retain(|a| !matches!(a, Action::SetWeights { .. }));
        actions.push(action);
    } else if !actions.contains(&action) {
        actions.push(action);
    }
}

/// The state with Argo's InvalidSpec condition (and Degraded phase) for `message`, and
/// nothing asked for: a Rollout whose spec breaks Argo's rules does not move until fixed.
pub fn invalid_spec(
    rollout: &Rollout,
    mut state: EngineState,
    now: Timestamp,
    message: &str,
) -> Reconciled {
    let status = &mut state.status;
    conditions::set(
        status,
        conditions::new_condition(
            conditions::INVALID_SPEC,
            conditions::TRUE,
            conditions::INVALID_SPEC_REASON,
            message,
            now,
        ),
    );
    let (phase, message) = phase::rollout_phase(
        &rollout.spec,
        status,
        state.paused.unwrap_or(rollout.spec.paused),
    );
    status.phase = phase;
    status.message = message;
    Reconciled {
        state,
        actions: Vec::new(),
        services: Vec::new(),
        experiments: Vec::new(),
        requeue_at: None,
    }
}
